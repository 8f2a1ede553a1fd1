"""One launch attempt against the AWS lab (simulated hypervisor; EC2 API and sshd real).

All or nothing: a good attempt gives an instance whose sshd answers with a host key pinned
from the console output and a login with the per-user key; a failed one (EC2 error, SSH never
up, cancel) leaves no instance, volume or security group of the cluster (asserted through
the API).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jupyter_sky.infra.aws import launch, provision
from jupyter_sky.infra.aws.identity import TAG_CLUSTER, user_name

from .conftest import AwsLab

pytestmark = pytest.mark.aws


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JUPYTER_SKY_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def place(lab: AwsLab, zone: str = "us-east-1a", **extra: object) -> launch.Placement:
    values: dict[str, object] = {"region": zone[:-1], "zone": zone, "instance_type": "t3.micro",
                                 "ssh_cidr": "10.213.64.1/32", "vpc_name": lab.vpc_name,
                                 "use_internal_ips": True, **extra}  # fmt: skip
    return launch.Placement(**values)  # type: ignore[arg-type]


def nothing_left(cluster: str, region: str = "us-east-1") -> None:
    ec2 = provision.client(region)
    assert provision.cluster_instances(ec2, user_name(), cluster) == []
    vols = ec2.describe_volumes(Filters=[{"Name": f"tag:{TAG_CLUSTER}", "Values": [cluster]}])["Volumes"]
    assert [v for v in vols if v["State"] != "deleted"] == []
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"jupyter-sky-{user_name()}"]}])
    assert groups["SecurityGroups"] == []


def test_attempt_gives_a_pinned_reachable_host(aws_lab: AwsLab, home: Path) -> None:
    got = launch.attempt("ok", place(aws_lab), ssh_timeout=60)
    assert got.address.startswith("10.213.") and got.user == "ubuntu"
    argv = ["ssh", "-i", got.key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={got.known_hosts}", "-o", "LogLevel=ERROR",
            f"{got.user}@{got.address}", "hostname"]  # fmt: skip
    assert got.host_key_pinned
    res = subprocess.run(argv, capture_output=True, text=True, timeout=30)  # strict: the pinned key
    assert res.returncode == 0 and res.stdout.startswith("ip-10-213-"), res.stderr
    provision.down_cluster(provision.client("us-east-1"), launch.Owner.of("ok"))
    nothing_left("ok")


@pytest.mark.parametrize(("kind", "verdict", "scope"), [("capacity", "capacity", "zone"),
                                                        ("quota", "quota", "region"),
                                                        ("auth", "credential", "infra")])  # fmt: skip
def test_failed_attempt_leaves_nothing(aws_lab: AwsLab, home: Path, kind: str, verdict: str, scope: str) -> None:
    aws_lab.inject({"action": "RunInstances", "kind": kind})
    with pytest.raises(launch.AttemptFailed) as err:
        launch.attempt("bad", place(aws_lab), ssh_timeout=30)
    assert (err.value.verdict.kind, err.value.verdict.scope) == (verdict, scope)
    assert "\n" not in str(err.value)
    nothing_left("bad")


def test_ssh_never_up_is_bounded_and_terminates(aws_lab: AwsLab, home: Path) -> None:
    aws_lab.never_boot("t3.nano")  # runs in moto, its host never boots: "No route to host"
    with pytest.raises(launch.InfraError, match="never came up"):
        launch.attempt("dark", place(aws_lab, instance_type="t3.nano"), ssh_timeout=2)
    nothing_left("dark")


def test_cancel_during_launch_tears_down(aws_lab: AwsLab, home: Path) -> None:
    aws_lab.never_boot("t3.nano")
    with pytest.raises(KeyboardInterrupt):
        launch.attempt("stop", place(aws_lab, instance_type="t3.nano"), ssh_timeout=30, cancelled=lambda: True)
    nothing_left("stop")


def test_throttling_is_retried_in_place_but_capacity_moves_on_at_once(aws_lab: AwsLab, home: Path) -> None:
    aws_lab.inject({"action": "RunInstances", "kind": "throttle", "times": 2})
    got = launch.attempt("slow", place(aws_lab), ssh_timeout=60)
    assert got.zone == "us-east-1a" and len(aws_lab.hits()) == 2
    provision.down_cluster(provision.client("us-east-1"), launch.Owner.of("slow"))
    aws_lab.call("/_fault/rules", "DELETE")
    aws_lab.inject({"action": "RunInstances", "kind": "capacity"})
    with pytest.raises(launch.AttemptFailed, match="no capacity at aws/us-east-1a t3.micro"):
        launch.attempt("full", place(aws_lab), ssh_timeout=30)
    assert len(aws_lab.hits()) == 1  # one RunInstances: a 500 "no capacity" is not retried here
    nothing_left("full")
