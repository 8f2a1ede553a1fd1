"""The AWS lab itself (simulated hypervisor; the EC2 API over HTTP and sshd are real).

Faults answer with AWS's own error codes and statuses through boto3; an instance moto reports
running becomes a host reachable over SSH with the key its cloud-init user data gave; stop,
start and terminate take the host away and bring it back; nothing outside the lab's range is
ever routed anywhere but the lab bridge or "unreachable".
"""

from __future__ import annotations

import base64
import errno
import ipaddress
import socket
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsLab

pytestmark = pytest.mark.aws


def keypair(tmp_path: Path, name: str = "id") -> tuple[Path, str]:
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key, (tmp_path / f"{name}.pub").read_text().strip()


def cloud_config(pub: str) -> str:
    return f"#cloud-config\nssh_authorized_keys:\n  - {pub}\n"


def subnet(lab: AwsLab, region: str, zone: str) -> str:
    ec2 = lab.client(region)
    found = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [f"{lab.vpc_name}-{zone}"]}])
    return str(found["Subnets"][0]["SubnetId"])


def run(lab: AwsLab, region: str = "us-east-1", zone: str = "us-east-1a", user_data: str = "",
        instance_type: str = "t3.micro", attempts: int = 1, **extra: object) -> dict[str, object]:  # fmt: skip
    ec2 = lab.client(region, attempts=attempts)
    res = ec2.run_instances(ImageId="ami-12c6146b", InstanceType=instance_type, MinCount=1,
                            MaxCount=1, SubnetId=subnet(lab, region, zone), UserData=user_data,
                            **extra)  # fmt: skip
    return dict(res["Instances"][0])


def ssh(key: Path, ip: str, command: str, user: str = "ubuntu") -> subprocess.CompletedProcess[str]:
    argv = ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
            f"{user}@{ip}", command]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def route_dev(ip: str) -> str:
    res = subprocess.run(["ip", "route", "get", ip], capture_output=True, text=True)
    if res.returncode != 0:
        return "unreachable"
    words = res.stdout.split()
    return words[words.index("dev") + 1]


FAULTS = [
    ("capacity", "InsufficientInstanceCapacity", 500),
    ("unsupported", "Unsupported", 400),
    ("quota", "VcpuLimitExceeded", 400),
    ("spot_quota", "MaxSpotInstanceCountExceeded", 400),
    ("throttle", "RequestLimitExceeded", 503),
    ("auth", "AuthFailure", 401),
    ("unauthorized", "UnauthorizedOperation", 403),
    ("expired", "RequestExpired", 400),
]


@pytest.mark.parametrize(("kind", "code", "status"), FAULTS)
def test_fault_gives_the_real_aws_error(aws_lab: AwsLab, kind: str, code: str, status: int) -> None:
    aws_lab.inject({"action": "RunInstances", "kind": kind})
    with pytest.raises(ClientError) as err:
        run(aws_lab)
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert aws_lab.client().describe_instances()["Reservations"] == []


def test_capacity_in_one_zone_leaves_the_next_zone_and_names_the_zone(aws_lab: AwsLab) -> None:
    aws_lab.inject({"action": "RunInstances", "zone": "us-east-1a", "kind": "capacity"})
    with pytest.raises(ClientError) as err:
        run(aws_lab, zone="us-east-1a", instance_type="g5.xlarge")
    assert "sufficient g5.xlarge capacity" in err.value.response["Error"]["Message"]
    assert "(us-east-1a)" in err.value.response["Error"]["Message"]
    inst = run(aws_lab, zone="us-east-1b", instance_type="g5.xlarge")
    assert inst["Placement"]["AvailabilityZone"] == "us-east-1b"  # type: ignore[index]
    assert [h["zone"] for h in aws_lab.hits()] == ["us-east-1a"]


def test_capacity_in_a_region_leaves_other_regions(aws_lab: AwsLab) -> None:
    aws_lab.inject({"action": "RunInstances", "region": "us-east-1", "kind": "capacity"})
    for zone in ("us-east-1a", "us-east-1b", "us-east-1c"):
        with pytest.raises(ClientError, match="InsufficientInstanceCapacity"):
            run(aws_lab, zone=zone)
    inst = run(aws_lab, region="us-west-2", zone="us-west-2a")
    assert inst["Placement"]["AvailabilityZone"] == "us-west-2a"  # type: ignore[index]


def test_times_limited_fault_and_botocore_retries_throttling(aws_lab: AwsLab) -> None:
    aws_lab.inject({"action": "RunInstances", "kind": "throttle", "times": 1})
    inst = run(aws_lab, attempts=3)  # botocore retries the 503 once, as against AWS
    assert inst["InstanceId"]
    assert len(aws_lab.hits()) == 1


def test_fault_matches_request_parameters_only(aws_lab: AwsLab) -> None:
    aws_lab.inject({"action": "RunInstances", "kind": "spot_quota",
                    "match": {"InstanceMarketOptions.MarketType": "spot"}})  # fmt: skip
    with pytest.raises(ClientError, match="MaxSpotInstanceCountExceeded"):
        run(aws_lab, InstanceMarketOptions={"MarketType": "spot"})
    assert run(aws_lab)["InstanceId"]  # on-demand still works
    assert aws_lab.client().describe_regions()["Regions"]  # other actions untouched


def test_running_instance_is_an_ssh_host_with_the_user_data_key(aws_lab: AwsLab, tmp_path: Path) -> None:
    key, pub = keypair(tmp_path)
    other, _ = keypair(tmp_path, "other")
    inst = run(aws_lab, user_data=cloud_config(pub))
    iid, ip = str(inst["InstanceId"]), str(inst["PrivateIpAddress"])
    vm = aws_lab.wait_vms({iid})[iid]
    assert vm["ip"] == ip and vm["user"] == "ubuntu"
    assert route_dev(ip) == aws_lab.info["bridge"]
    res = ssh(key, ip, "hostname -I; echo $HOME; id -un; touch ~/mark; pwd -P")
    assert res.returncode == 0, res.stderr
    addr, home, user, _ = res.stdout.split("\n", 3)
    assert addr.split() == [ip] and home == "/home/ubuntu" and user == "ubuntu"
    assert not Path("/home/ubuntu/mark").exists()  # the VM's home is its own disk, not this machine's
    assert ssh(other, ip, "true").returncode == 255  # a key the launch did not give is refused
    console = aws_lab.client().get_console_output(InstanceId=iid)["Output"]
    text = base64.b64decode(console).decode() if "SSH HOST KEY" not in console else console
    assert vm["host_key"].split()[1] in text


def test_terminate_removes_the_host(aws_lab: AwsLab, tmp_path: Path) -> None:
    key, pub = keypair(tmp_path)
    inst = run(aws_lab, user_data=cloud_config(pub))
    iid, ip = str(inst["InstanceId"]), str(inst["PrivateIpAddress"])
    netns = aws_lab.wait_vms({iid})[iid]["netns"]
    assert ssh(key, ip, "true").returncode == 0
    aws_lab.client().terminate_instances(InstanceIds=[iid])
    aws_lab.wait_vms(set())
    assert netns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert route_dev(ip) == "unreachable"
    with pytest.raises(OSError) as err, socket.create_connection((ip, 22), timeout=5):
        pass
    assert err.value.errno == errno.EHOSTUNREACH  # refused here at once, never sent anywhere


def test_stop_keeps_the_disk_and_start_boots_it_again(aws_lab: AwsLab, tmp_path: Path) -> None:
    key, pub = keypair(tmp_path)
    inst = run(aws_lab, user_data=cloud_config(pub))
    iid, ip = str(inst["InstanceId"]), str(inst["PrivateIpAddress"])
    aws_lab.wait_vms({iid})
    assert ssh(key, ip, "echo kept > ~/disk.txt").returncode == 0
    ec2 = aws_lab.client()
    ec2.stop_instances(InstanceIds=[iid])
    aws_lab.wait_vms(set())
    assert route_dev(ip) == "unreachable"
    ec2.start_instances(InstanceIds=[iid])
    aws_lab.wait_vms({iid})
    res = ssh(key, ip, "cat ~/disk.txt")
    assert res.stdout.strip() == "kept", res.stderr


def test_addresses_outside_the_lab_are_never_booted(aws_lab: AwsLab) -> None:
    ec2 = aws_lab.client()
    res = ec2.run_instances(ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=1, MaxCount=1)
    ip = res["Instances"][0]["PrivateIpAddress"]
    assert ipaddress.ip_address(ip) not in ipaddress.ip_network(aws_lab.cidr)  # moto's default VPC
    time.sleep(0.5)  # several watcher passes (every 0.1 s) that must not boot it
    assert aws_lab.vms() == {}
    assert route_dev("10.213.127.200") == "unreachable"  # in range, no host: refused locally
