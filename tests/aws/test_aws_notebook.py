"""``%%sky --gpus T4:1 --infra aws/us-east-1`` in a real notebook kernel, against the AWS lab
(SIMULATED HYPERVISOR: the EC2 instance is a network-namespace host with a real sshd; the
EC2 API, SSH, bootstrap, kernel and the cell are real).

The whole product path: the magic plans over the catalog (g4dn.xlarge rows by zone id),
failover meets an injected "no capacity" in the cheapest zone and says so in the cell, the
next zone launches, the cell's output streams back and its variable comes home; ``%sky
status`` lists the cluster on aws and ``%sky down`` leaves nothing in moto.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sky.infra.aws import provision
from jupyter_sky.infra.aws.identity import user_name

from .conftest import AwsLab
from .infra_helpers import nothing_left

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbdriver import Notebook  # noqa: E402

pytestmark = [pytest.mark.aws, pytest.mark.slow]


@pytest.fixture
def notebook(aws_lab: AwsLab, infra_home: Path, tmp_path: Path) -> Iterator[Notebook]:
    """A notebook kernel whose user config (in its JUPYTER_SKY_HOME) is the lab's ``aws:``
    section."""
    gateway, vm_endpoint = aws_lab.info["gateway"], aws_lab.vm_endpoint
    (infra_home / "config.yaml").write_text(
        "aws:\n"
        f"  ssh_cidr: {gateway}/32\n  use_internal_ips: true\n  vpc_name: {aws_lab.vpc_name}\n"
        "  ssh_timeout: 60\n  autostop_shutdown: false\n"
        "  autostop_env: {AWS_ACCESS_KEY_ID: testing, AWS_SECRET_ACCESS_KEY: testing, "
        f"AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL_EC2: '{vm_endpoint}'}}\n"
    )
    nb = Notebook(dict(os.environ), str(tmp_path))  # the lab's AWS_* and this test's home
    assert nb.run("%load_ext jupyter_sky").status == "ok"
    yield nb
    nb.shutdown()


def test_a_t4_cell_fails_over_to_the_next_zone_runs_and_is_ended(aws_lab: AwsLab, notebook: Notebook) -> None:
    aws_lab.inject({"action": "RunInstances", "zone": "us-east-1b", "kind": "capacity"})  # use1-az1
    res = notebook.run(
        "%%sky --gpus T4:1 --infra aws/us-east-1 --name t4\nimport socket\nprint('on', socket.gethostname())\nx = 6 * 7",
        timeout=300,
    )
    assert res.status == "ok", res.error_text
    assert res.stdout.startswith("on ip-10-213-"), res.stdout
    assert "attempt 1: aws g4dn.xlarge in us-east-1b — no capacity" in res.stderr, res.stderr
    assert notebook.value("x") == "42"
    [inst] = provision.cluster_instances(provision.client("us-east-1"), user_name(), "t4")
    assert inst["InstanceType"] == "g4dn.xlarge" and inst["Placement"]["AvailabilityZone"] != "us-east-1b"
    status = notebook.run("%sky status", timeout=120).stdout
    assert any(line.split()[:3] == ["t4", "aws", "UP"] for line in status.splitlines()), status
    down = notebook.run("%sky down t4", timeout=120)
    assert down.status == "ok" and "down" in down.stdout, down.error_text
    nothing_left(aws_lab, "t4")


def test_sky_stop_keeps_the_vm_and_the_next_cell_starts_it_again(
    aws_lab: AwsLab, notebook: Notebook
) -> None:
    """``%sky stop`` stops the instance (disk kept, state STOPPED), the next cell on the name
    starts the same instance again and runs there; a file written before the stop survives."""
    first = notebook.run(
        "%%sky --infra aws/us-east-1 --cpus 2 --name st\nopen('/tmp/kept.txt', 'w').write('kept')\nprint('first')",
        timeout=300,
    )
    assert first.status == "ok", first.error_text
    client = provision.client("us-east-1")
    [inst] = provision.cluster_instances(client, user_name(), "st")
    stopped = notebook.run("%sky stop st", timeout=180)
    assert stopped.status == "ok" and "is stopped" in stopped.stdout, stopped.error_text
    assert provision.describe(client, inst["InstanceId"])["State"]["Name"] == "stopped"
    status = notebook.run("%sky status", timeout=120).stdout
    assert any(line.split()[:3] == ["st", "aws", "STOPPED"] for line in status.splitlines()), status
    again = notebook.run("%%sky --infra aws/us-east-1 --cpus 2 --name st\nprint(open('/tmp/kept.txt').read())", timeout=300)
    assert again.status == "ok", again.error_text
    assert again.stdout.strip() == "kept", again.stdout
    assert "started the stopped cluster 'st' again" in again.stderr, again.stderr
    [same] = provision.cluster_instances(client, user_name(), "st")
    assert same["InstanceId"] == inst["InstanceId"] and same["State"]["Name"] == "running"
    assert notebook.run("%sky down st", timeout=180).status == "ok"
    nothing_left(aws_lab, "st")



def test_status_lists_what_the_state_does_not_know_and_down_ends_it(aws_lab: AwsLab, notebook: Notebook) -> None:
    """A VM this machine's state never recorded (a kernel killed mid-launch) shows in
    ``%sky status`` and ``%sky down NAME`` ends it."""
    from jupyter_sky.infra.aws import launch

    place = launch.Placement("us-east-1", "us-east-1c", "t3.micro", ssh_cidr=f"{aws_lab.info['gateway']}/32",
                             vpc_name=aws_lab.vpc_name, use_internal_ips=True)  # fmt: skip
    got = launch.attempt("stray", place, ssh_timeout=60)
    status = notebook.run("%sky status --infra aws", timeout=120)
    assert status.status == "ok", status.error_text
    assert "Not in this machine's state" in status.stdout, status.stdout
    assert any(line.split()[:3] == ["stray", "aws", "RUNNING"] and got.instance_id in line
               for line in status.stdout.splitlines()), status.stdout  # fmt: skip
    down = notebook.run("%sky down stray", timeout=180)
    assert down.status == "ok" and "cluster 'stray' is down" in down.stdout, down.error_text
    nothing_left(aws_lab, "stray")
