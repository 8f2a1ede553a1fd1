"""Autostop from the VM itself: the instance calls the EC2 API to stop or terminate itself.

Against the AWS lab (simulated hypervisor): the script runs on the VM host (its own network
namespace, reached over real SSH) and sends a real SigV4-signed HTTP call to moto's EC2 server
at the bridge address; moto stops the instance and the lab's host goes away.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from jupyter_sky.infra.aws import launch, provision
from jupyter_sky.infra.aws import selfstop as aws_selfstop

from .conftest import AwsLab

pytestmark = pytest.mark.aws
SCRIPT = Path(aws_selfstop.__file__)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JUPYTER_SKY_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def on_vm(got: launch.Launched, command: str) -> subprocess.CompletedProcess[str]:
    argv = ["ssh", "-i", got.key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={got.known_hosts}", "-o", "LogLevel=ERROR",
            f"{got.user}@{got.address}", command]  # fmt: skip
    return subprocess.run(argv, input=SCRIPT.read_text(), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("terminate", "state"), [(False, "stopped"), (True, "terminated")])
def test_the_vm_stops_itself_through_the_api(aws_lab: AwsLab, home: Path, terminate: bool, state: str) -> None:
    place = launch.Placement("us-east-1", "us-east-1b", "t3.micro", ssh_cidr="10.213.64.1/32",
                             vpc_name=aws_lab.vpc_name, use_internal_ips=True)  # fmt: skip
    got = launch.attempt("idle", place, ssh_timeout=60)
    env = (f"AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true "
           f"AWS_ENDPOINT_URL_EC2={shlex.quote(aws_lab.vm_endpoint)}")  # fmt: skip
    args = f"--instance-id {got.instance_id} --region us-east-1" + (" --terminate" if terminate else "")
    res = on_vm(got, f"{env} python3 - {args}")
    # The VM may go away before the SSH session closes (255: "closed by remote host").
    assert res.returncode in (0, 255) and "requested" in res.stdout, res.stderr
    ec2 = provision.client("us-east-1")
    assert provision.wait_state(ec2, got.instance_id, state, 30)["State"]["Name"] == state
    aws_lab.wait_vms(set())  # the host is gone with it
    provision.down_cluster(ec2, launch.Owner.of("idle"))


def test_without_credentials_it_says_so_and_never_asks_the_metadata_service(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(RuntimeError, match="metadata is disabled"):
        aws_selfstop.credentials()


def test_signature_is_the_one_botocore_computes() -> None:
    import datetime as dt
    from unittest import mock

    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    now = dt.datetime(2026, 12, 5, 14, 0, 0, tzinfo=dt.timezone.utc)
    body = "Action=StopInstances&InstanceId.1=i-1&Version=2016-11-15"
    mine = aws_selfstop.signed_request("http://10.213.64.1:5000", "eu-west-1", body, ("AK", "SK", "TOK"), now)
    theirs = AWSRequest(method="POST", url="http://10.213.64.1:5000/", data=body,
                        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})  # fmt: skip

    class Frozen(dt.datetime):
        @classmethod
        def utcnow(cls) -> dt.datetime:  # type: ignore[override]
            return now.replace(tzinfo=None)

        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return now

    with mock.patch.object(botocore.auth.datetime, "datetime", Frozen):
        botocore.auth.SigV4Auth(Credentials("AK", "SK", "TOK"), "ec2", "eu-west-1").add_auth(theirs)
    assert mine.headers["Authorization"] == theirs.headers["Authorization"]
