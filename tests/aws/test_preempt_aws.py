"""Spot preemption of a cell on the AWS lab (SIMULATED HYPERVISOR: the EC2 instance is a
network-namespace host with a real sshd; the EC2 API, SSH, bootstrap, kernel and the cell
are real).

Mid-cell the lab reclaims the spot instance as EC2 does (terminated, state reason
``Server.SpotInstanceTermination``; its host goes away):

- without ``--recover`` the cell ends with one sentence naming the preemption, and
  ``%sky down`` leaves nothing;
- with ``--recover`` the dead cluster is released, a new one launches on the next placement
  through failover, the variable the cell read is pushed again, the cell reruns and its result
  comes home; the state store shows one preempted run and one that finished, the cluster's
  record is the new instance, and ``%sky down`` leaves nothing in moto.

The cell marks its start in /tmp (the lab's VM hosts share this machine's /tmp, not their
homes), which tells the test when to preempt and the rerun that it is the rerun.
"""

from __future__ import annotations

import glob
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sky.infra.aws import provision
from jupyter_sky.infra.aws.identity import user_name
from jupyter_sky.state import Store

from .conftest import AwsLab
from .infra_helpers import nothing_left

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbdriver import Notebook  # noqa: E402

pytestmark = [pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def notebook(aws_lab: AwsLab, infra_home: Path, tmp_path: Path) -> Iterator[Notebook]:
    """A notebook kernel whose user config (in its JUPYTER_SKY_HOME) is the lab's ``aws:``."""
    gateway, vm_endpoint = aws_lab.info["gateway"], aws_lab.vm_endpoint
    (infra_home / "config.yaml").write_text(
        "aws:\n"
        f"  ssh_cidr: {gateway}/32\n  use_internal_ips: true\n  vpc_name: {aws_lab.vpc_name}\n"
        "  ssh_timeout: 60\n  autostop_shutdown: false\n"
        "  autostop_env: {AWS_ACCESS_KEY_ID: testing, AWS_SECRET_ACCESS_KEY: testing, "
        f"AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL_EC2: '{vm_endpoint}'}}\n"
    )
    nb = Notebook(dict(os.environ), str(tmp_path))
    assert nb.run("%load_ext jupyter_sky").status == "ok"
    yield nb
    nb.shutdown()


@pytest.fixture
def token() -> Iterator[str]:
    mark = f"/tmp/skypreempt-{uuid.uuid4().hex[:10]}"
    yield mark
    for path in glob.glob(mark + "-*"):
        os.unlink(path)


def cell(flags: str, mark: str) -> str:
    """A cell that reads ``seed``, marks its start, sleeps on its first run, assigns ``x``."""
    return (
        f"%%sky --infra aws/us-east-1 --cpus 2 --spot --name pre {flags}\n"
        "import glob, socket, time\n"
        f"first = not glob.glob('{mark}-*')\n"
        f"open('{mark}-' + socket.gethostname(), 'w').write('started')\n"
        "print('run on', socket.gethostname(), flush=True)\n"
        "time.sleep(300 if first else 0)\n"
        "x = seed + 22\n"
    )


def preempt_when_started(lab: AwsLab, mark: str, timeout: float = 300) -> dict[str, object]:
    """Wait until the cell has started on its instance, then reclaim that instance."""
    deadline = time.monotonic() + timeout
    while not glob.glob(mark + "-*"):
        assert time.monotonic() < deadline, "the cell never started on its instance"
        time.sleep(0.2)
    [inst] = provision.cluster_instances(provision.client("us-east-1"), user_name(), "pre")
    assert inst.get("InstanceLifecycle") == "spot", inst
    lab.preempt(str(inst["InstanceId"]))
    return inst


def test_without_recover_the_cell_says_it_was_preempted(
    aws_lab: AwsLab, notebook: Notebook, token: str
) -> None:
    assert notebook.run("seed = 20").status == "ok"
    msg = notebook.send(cell("", token))
    inst = preempt_when_started(aws_lab, token)
    res = notebook.collect(msg, timeout=300)
    assert res.status == "error", res.stderr
    text = res.error_text
    assert f"Cluster 'pre' was preempted while running this cell (AWS reclaimed the spot instance {inst['InstanceId']})" in text, text
    assert "the variables on it are lost" in text and "--recover" in text, text
    assert "--recover:" not in res.stderr, res.stderr  # nothing was relaunched
    [run] = Store().runs("pre")
    assert run["status"] == "died" and str(run["reason"]).startswith("preempted: AWS reclaimed"), run
    down = notebook.run("%sky down pre", timeout=180)
    assert down.status == "ok", down.error_text
    nothing_left(aws_lab, "pre")


def test_with_recover_the_cell_reruns_on_the_next_placement_with_its_variable(
    aws_lab: AwsLab, notebook: Notebook, token: str
) -> None:
    assert notebook.run("seed = 20").status == "ok"
    msg = notebook.send(cell("--recover", token))
    first = preempt_when_started(aws_lab, token)
    res = notebook.collect(msg, timeout=600)
    assert res.status == "ok", (res.error_text, res.stderr)
    err = res.stderr
    assert (f"--recover: cluster 'pre' was preempted (AWS reclaimed the spot instance "
            f"{first['InstanceId']}); releasing it") in err, err  # fmt: skip
    assert "--recover: relaunching cluster 'pre' on aws " in err and "(recovery 1 of 1)" in err, err
    assert "--recover: pushing 1 variable (seed) again and rerunning the cell" in err, err
    assert res.stdout.count("run on ip-10-213-") == 2, res.stdout
    assert notebook.value("x") == "42"
    ec2 = provision.client("us-east-1")
    [second] = provision.cluster_instances(ec2, user_name(), "pre")
    assert second["InstanceId"] != first["InstanceId"]
    assert second.get("InstanceLifecycle") == "spot", second
    was = (first["InstanceType"], first["Placement"]["AvailabilityZone"])
    now = (second["InstanceType"], second["Placement"]["AvailabilityZone"])
    assert now != was, (was, now)  # the next placement, not the preempted one
    assert provision.describe(ec2, first["InstanceId"])["State"]["Name"] == "terminated"
    store = Store()
    record = store.get_cluster("pre")
    assert record is not None and record.state == "UP", record
    assert record.handle["instance_id"] == second["InstanceId"], record.handle
    assert record.placement["instance_type"] == second["InstanceType"], record.placement
    died, ok = store.runs("pre")
    assert died["status"] == "died" and str(died["reason"]).startswith("preempted: "), died
    assert ok["status"] == "ok" and ok["started_at"] >= died["ended_at"], (died, ok)
    assert died["placement"] != ok["placement"], (died, ok)  # where each ran
    down = notebook.run("%sky down pre", timeout=180)
    assert down.status == "ok", down.error_text
    nothing_left(aws_lab, "pre")
