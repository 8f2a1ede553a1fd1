"""jupyter_sky.infra.aws against the AWS lab (simulated hypervisor; EC2 API over HTTP, sshd real).

Errors injected into moto come back through boto3 and are classified for failover; a launch
with the per-user key through cloud-init gives an instance reachable over SSH; everything is
tagged; ``down_cluster`` leaves no instance, volume or security group of the cluster (asserted
through the API); the orphan listing finds the user's instances in every region.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from jupyter_sky.infra.aws import provision
from jupyter_sky.infra.aws.errors import classify_client_error
from jupyter_sky.infra.aws.identity import TAG_CLUSTER, TAG_USER, Owner, user_data, user_key

from .conftest import AwsLab

pytestmark = pytest.mark.aws


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JUPYTER_SKY_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def launch(lab: AwsLab, cluster: str, region: str = "us-east-1", zone: str = "us-east-1a",
           gpu: bool = False, **extra: object) -> tuple[Owner, dict[str, object]]:  # fmt: skip
    ec2 = provision.client(region, attempts=1)
    owner = Owner(cluster, "tester", "nb-host")
    vpc, subnet = provision.subnet_in(ec2, zone, lab.vpc_name)
    group, _ = provision.security_group(ec2, vpc, owner, "10.213.64.1/32")
    _, pub = user_key("tester")
    request = provision.InstanceRequest(owner, "g5.xlarge" if gpu else "t3.micro", subnet, group,
                                        provision.image_for(ec2, region, gpu), user_data(pub), **extra)  # type: ignore[arg-type]
    return owner, provision.run_instance(ec2, request)


def ssh(key: Path, ip: str, command: str) -> subprocess.CompletedProcess[str]:
    argv = ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
            f"ubuntu@{ip}", command]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(("kind", "verdict", "scope"), [
    ("capacity", "capacity", "zone"), ("unsupported", "capacity", "zone"),
    ("quota", "quota", "region"), ("spot_quota", "quota", "region"),
    ("auth", "credential", "infra"), ("unauthorized", "credential", "infra"),
    ("expired", "credential", "infra"), ("throttle", "retry", "zone"), ("internal", "retry", "zone"),
])  # fmt: skip
def test_injected_errors_are_classified(aws_lab: AwsLab, home: Path, kind: str, verdict: str, scope: str) -> None:
    aws_lab.inject({"action": "RunInstances", "kind": kind})
    with pytest.raises(ClientError) as err:
        launch(aws_lab, "c1")
    got = classify_client_error(err.value, "aws/us-east-1a t3.micro")
    assert (got.kind, got.scope) == (verdict, scope)
    assert "aws/us-east-1a t3.micro" in got.sentence or got.kind == "credential"
    assert provision.cluster_instances(provision.client("us-east-1"), "tester") == []


def test_launch_is_tagged_reachable_with_the_user_key_and_down_leaves_nothing(aws_lab: AwsLab, home: Path) -> None:
    owner, inst = launch(aws_lab, "train", disk_gb=42)
    ec2 = provision.client("us-east-1")
    key, _ = user_key("tester")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and str(key).startswith(str(home))
    inst = provision.wait_state(ec2, str(inst["InstanceId"]), "running", 30)
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags[TAG_CLUSTER] == "train" and tags[TAG_USER] == "tester"
    group = inst["SecurityGroups"][0]["GroupId"]
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert [r["CidrIp"] for p in rules for r in p["IpRanges"]] == ["10.213.64.1/32"]  # never 0.0.0.0/0
    volumes = ec2.describe_volumes(Filters=[{"Name": f"tag:{TAG_CLUSTER}", "Values": ["train"]}])["Volumes"]
    assert [v["Size"] for v in volumes] == [42]
    aws_lab.wait_vms({str(inst["InstanceId"])})
    res = ssh(key, str(inst["PrivateIpAddress"]), "id -un")
    assert res.stdout.strip() == "ubuntu", res.stderr
    assert provision.down_cluster(ec2, owner) == [inst["InstanceId"]]
    assert provision.cluster_instances(ec2, "tester") == []
    assert ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["jupyter-sky-tester"]}])["SecurityGroups"] == []
    left = ec2.describe_volumes(Filters=[{"Name": f"tag:{TAG_CLUSTER}", "Values": ["train"]}])["Volumes"]
    assert [v for v in left if v["State"] != "deleted"] == []
    aws_lab.wait_vms(set())


def test_group_is_kept_while_another_cluster_uses_it(aws_lab: AwsLab, home: Path) -> None:
    first, _ = launch(aws_lab, "a")
    second, _ = launch(aws_lab, "b")
    ec2 = provision.client("us-east-1")
    named = [{"Name": "group-name", "Values": ["jupyter-sky-tester"]}]
    provision.down_cluster(ec2, first)
    assert len(ec2.describe_security_groups(Filters=named)["SecurityGroups"]) == 1
    provision.down_cluster(ec2, second)
    assert ec2.describe_security_groups(Filters=named)["SecurityGroups"] == []


def test_images_are_found_by_class_and_cached(aws_lab: AwsLab, home: Path) -> None:
    ec2 = provision.client("us-east-2")
    gpu, cpu = provision.image_for(ec2, "us-east-2", True), provision.image_for(ec2, "us-east-2", False)
    names = {i["ImageId"]: i["Name"] for i in ec2.describe_images(ImageIds=[gpu, cpu])["Images"]}
    assert "Deep Learning" in names[gpu] and "Ubuntu" in names[gpu] and names[cpu].startswith("ubuntu/images/")
    assert (home / "cache" / "aws-images.json").exists()
    aws_lab.inject({"action": "DescribeImages", "kind": "internal"})
    assert provision.image_for(provision.client("us-east-2", attempts=1), "us-east-2", True) == gpu  # no call


def test_spot_launch_uses_market_options_and_max_price(aws_lab: AwsLab, home: Path) -> None:
    _, inst = launch(aws_lab, "s", spot=True, max_price=0.5)
    assert inst.get("InstanceLifecycle") == "spot"
    assert inst["InstanceType"] == "t3.micro"
    aws_lab.inject({"action": "RunInstances", "kind": "capacity", "match": {"InstanceMarketOptions.SpotOptions.MaxPrice": "0.5000"}})
    with pytest.raises(ClientError, match="InsufficientInstanceCapacity"):
        launch(aws_lab, "s2", spot=True, max_price=0.5)  # the price reached the API as sent
    assert len(aws_lab.hits()) == 1


def test_orphans_are_listed_in_every_region(aws_lab: AwsLab, home: Path) -> None:
    launch(aws_lab, "east")
    launch(aws_lab, "west", region="us-west-2", zone="us-west-2b")
    rows = provision.tagged_everywhere("tester", aws_lab.regions)
    assert sorted((r["region"], r["cluster"], r["zone"]) for r in rows) == [
        ("us-east-1", "east", "us-east-1a"), ("us-west-2", "west", "us-west-2b")]
    assert "us-west-2" in provision.regions(provision.client("us-east-1"))
