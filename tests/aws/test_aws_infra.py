"""The ``aws`` infra class end to end against the AWS lab (SIMULATED HYPERVISOR: each EC2
instance moto runs is a network-namespace host with a real sshd; EC2 API, SSH, bootstrap,
kernel and the VM's own stop call are real).

A real cell runs through ``AwsInfra``: launch (security group, instance, SSH, host key pinned,
bootstrap, kernel over SSH) → connect → execute → down, and nothing of the cluster is left in
moto (instances, volumes, security groups, asserted through the API) nor booted in the lab.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sky.infra.aws import AwsHandle, AwsInfra, provision
from jupyter_sky.infra.base import CapacityError, CredentialError, QuotaError, State
from jupyter_sky.offering import Offering

from .conftest import AwsLab
from .infra_helpers import nothing_left, request_for, run

pytestmark = pytest.mark.aws


@pytest.fixture
def infra() -> Iterator[AwsInfra]:
    made = AwsInfra(notify=lambda line: None)
    yield made


def test_a_cell_runs_on_the_vm_and_down_leaves_nothing(aws_lab: AwsLab, infra_home: Path, infra: AwsInfra,
                                                         tmp_path: Path) -> None:  # fmt: skip
    lines: list[str] = []
    request = request_for(aws_lab, "cell", tmp_path)
    request.notify = lines.append
    handle = infra.launch(request)
    try:
        assert handle.zone == "us-east-1a" and handle.address.startswith("10.213.")
        assert AwsHandle.from_json(handle.to_json()) == handle  # the state DB's round trip
        assert infra.status(handle).state is State.UP
        out = run(infra, handle, "import socket, os\nprint(socket.gethostname(), os.environ['JUPYTER_SKY_CLUSTER'])")
        assert out.startswith("ip-10-213-") and out.split()[1] == "cell", out
        assert infra.where(handle) == f"aws/us-east-1a {handle.instance_id} (t3.micro)"
        assert any("aws: starting aws/us-east-1a t3.micro" in line for line in lines)
    finally:
        infra.down(handle)
    assert infra.status(handle).state is State.GONE
    assert not infra.is_alive(handle)
    infra.down(handle)  # idempotent
    nothing_left(aws_lab, "cell")


def test_zones_are_the_offered_ones_with_a_subnet(aws_lab: AwsLab, infra_home: Path, infra: AwsInfra) -> None:
    offering = Offering("aws", "us-east-2", "t3.micro", 2, 1)
    assert infra.zones(offering) == ["us-east-2a", "us-east-2b", "us-east-2c"]  # the lab's subnets
    zone_id = provision.client("us-east-2").describe_availability_zones()["AvailabilityZones"][1]["ZoneId"]
    assert infra.zones(Offering("aws", "us-east-2", "t3.micro", 2, 1, zone=zone_id)) == ["us-east-2b"]


@pytest.mark.parametrize(("kind", "error", "scope"), [("capacity", CapacityError, "zone"),
                                                      ("quota", QuotaError, "region"),
                                                      ("auth", CredentialError, "infra")])  # fmt: skip
def test_launch_errors_carry_their_scope_and_leave_nothing(aws_lab: AwsLab, infra_home: Path, infra: AwsInfra,
                                                           tmp_path: Path, kind: str, error: type, scope: str) -> None:  # fmt: skip
    aws_lab.inject({"action": "RunInstances", "kind": kind})
    with pytest.raises(error) as err:
        infra.launch(request_for(aws_lab, "bad", tmp_path, zone="us-east-1b"))
    assert err.value.scope == scope and "\n" not in str(err.value)
    nothing_left(aws_lab, "bad")


def test_a_zone_without_the_type_or_a_subnet_moves_on_and_a_region_without_it_is_skipped(
        aws_lab: AwsLab, infra_home: Path, infra: AwsInfra, tmp_path: Path) -> None:  # fmt: skip
    with pytest.raises(CapacityError, match="us-east-1d does not offer t3.micro") as err:
        infra.launch(request_for(aws_lab, "nozone", tmp_path, zone="us-east-1d"))  # no lab subnet there
    assert err.value.scope == "zone"
    with pytest.raises(CapacityError, match="no zone of us-east-1 offers x9.huge") as err:
        infra.launch(request_for(aws_lab, "notype", tmp_path, instance_type="x9.huge"))
    assert err.value.scope == "region"
    assert aws_lab.client().describe_instances()["Reservations"] == []  # nothing was even started


def test_ssh_never_up_is_one_sentence_and_terminates(aws_lab: AwsLab, infra_home: Path, infra: AwsInfra,
                                                     tmp_path: Path) -> None:  # fmt: skip
    aws_lab.never_boot("t3.nano")
    with pytest.raises(Exception, match="never came up") as err:
        infra.launch(request_for(aws_lab, "dark", tmp_path, instance_type="t3.nano", ssh_timeout=2.0))
    assert not isinstance(err.value, CapacityError)  # shown, not failed over
    nothing_left(aws_lab, "dark")


@pytest.mark.slow
def test_stop_keeps_the_disk_and_the_next_start_runs_cells_again(aws_lab: AwsLab, infra_home: Path, infra: AwsInfra,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    request = request_for(aws_lab, "pause", tmp_path)
    handle = infra.launch(request)
    try:
        run(infra, handle, "open('/home/ubuntu/kept.txt', 'w').write('kept')")
        infra.stop(handle)
        aws_lab.wait_vms(set())
        assert infra.status(handle).state is State.STOPPED
        handle = infra.start(handle, request)
        assert infra.status(handle).state is State.UP
        assert run(infra, handle, "print(open('/home/ubuntu/kept.txt').read())").strip() == "kept"
    finally:
        infra.down(handle)
    nothing_left(aws_lab, "pause")


@pytest.mark.slow
def test_autostop_the_vm_stops_itself_and_status_says_why(aws_lab: AwsLab, infra_home: Path, infra: AwsInfra,
                                                          tmp_path: Path) -> None:  # fmt: skip
    handle = infra.launch(request_for(aws_lab, "nap", tmp_path, flags="--autostop 0.05"))  # 3 s
    try:
        run(infra, handle, "x = 1")
        ec2 = provision.client("us-east-1")
        provision.wait_state(ec2, handle.instance_id, "stopped", 60)  # the VM's own API call
        status = infra.status(handle)
        assert status.state is State.STOPPED
        assert "stopped itself" in status.reason and "autostop" in status.reason, status.reason
        assert "autostop" in infra.exit_reason(handle)
    finally:
        infra.down(handle)
    nothing_left(aws_lab, "nap")


def test_orphans_lists_instances_the_state_db_does_not_know_and_ends_them(aws_lab: AwsLab, infra_home: Path,
                                                                          infra: AwsInfra) -> None:  # fmt: skip
    from jupyter_sky.infra.aws import launch

    place = launch.Placement("us-west-2", "us-west-2b", "t3.micro", ssh_cidr=f"{aws_lab.info['gateway']}/32",
                             vpc_name=aws_lab.vpc_name, use_internal_ips=True)  # fmt: skip
    got = launch.attempt("lost", place, ssh_timeout=60)  # e.g. a notebook kernel killed mid-launch
    found = [o for o in infra.orphans() if o.cluster == "lost"]
    assert [(o.kind, o.where, o.state) for o in found] == [
        ("aws", f"aws/us-west-2b {got.instance_id} (t3.micro)", "running")]
    found[0].down()
    nothing_left(aws_lab, "lost", "us-west-2")
    assert [o for o in infra.orphans() if o.cluster == "lost"] == []


def test_importing_the_infra_does_not_import_boto3() -> None:
    import subprocess
    import sys

    code = "import sys, jupyter_sky.infra.aws as a; a.AwsInfra.parse_path('us-east-1'); print('boto3' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "False", res.stderr
