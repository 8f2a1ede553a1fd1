"""The ``gcp`` infra end to end on the SIMULATED GCP lab (tests/gcp/lab.py): the real
google-cloud-compute SDK and google-auth ADC against the fake Compute Engine, each running VM a
network-namespace host with a real sshd. A cell runs there with its output and variables;
failover moves zone → zone on no capacity, skips a region on quota and the whole cloud on the
all-regions GPU quota or a permission error; stop/start keeps the VM; the VM stops itself when
idle with the notebook gone; orphans are found by label; bad input is one sentence and nothing
is created.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from fakes.base import FaultRule
from fakes.gcp_lab import GcpLab

from jupyter_sky.config import load_config
from jupyter_sky.errors import InfraError, SpecError
from jupyter_sky.infra.base import Launch, State
from jupyter_sky.infra.gcp import GcpInfra
from jupyter_sky.offering import Offering
from jupyter_sky.spec.task import parse_line, task_from_args

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbdriver import Notebook  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _request(name: str, tmp_path: Path, zone: str, machine: str = "n1-standard-2", flags: str = "") -> Launch:
    task = task_from_args(parse_line(f"--name {name} {flags}"), "pass", tmp_path)
    offering = Offering("gcp", zone.rsplit("-", 1)[0], machine, 2, 7.5, zone=zone, price=0.1)
    return Launch(name, task, load_config(tmp_path), offering=offering)


def test_a_cell_runs_on_a_simulated_gcp_vm_and_down_leaves_nothing(lab: GcpLab, notebook: Notebook) -> None:
    res = notebook.run("%%sky --infra gcp/us-central1 --cpus 2 --name g1\nimport socket\nprint('on', socket.gethostname())\nx = 6 * 7",
                       timeout=300)  # fmt: skip
    assert res.status == "ok", res.error_text
    assert res.stdout.strip() == "on jsky-g1", res.stdout
    assert notebook.value("x") == "42"
    [inst] = lab.fake.instances.values()
    assert dict(inst.labels)["jsky-cluster"] == "g1" and inst.zone.endswith(tuple("abcdf"))
    status = notebook.run("%sky status").stdout
    assert any(line.split()[:3] == ["g1", "gcp", "UP"] for line in status.splitlines()), status
    assert notebook.run("%sky down g1", timeout=180).status == "ok"
    assert lab.leftovers() == []


def test_a_full_pinned_zone_is_one_sentence_and_creates_nothing(lab: GcpLab, notebook: Notebook) -> None:
    """``--infra gcp/<region>/<zone>`` tries that zone only, row after row (zone → zone failover:
    tests/gcp/test_gcp_failover_simulated.py)."""
    lab.fake.faults.add(FaultRule(action="instances.insert", code="ZONE_RESOURCE_POOL_EXHAUSTED",
                                  match={"zone": "us-central1-a"}, times=5))  # fmt: skip
    res = notebook.run("%%sky --infra gcp/us-central1/us-central1-a --cpus 2 --name g2\nprint('ran')", timeout=300)
    assert res.status == "error" and "no capacity at gcp/us-central1-a" in res.error_text, res.error_text
    attempts = [line for line in res.stderr.splitlines() if "attempt " in line]
    assert attempts and all(" in us-central1-a — no capacity" in line for line in attempts), res.stderr
    assert lab.leftovers() == []


@pytest.mark.parametrize(("code", "scope"), [("QUOTA_EXCEEDED", "region"), ("GPUS_ALL_REGIONS", "infra"),
                                             ("PERMISSION_DENIED", "infra")])  # fmt: skip
def test_launch_errors_carry_the_scope_failover_needs_and_leave_nothing(
    lab: GcpLab, home: Path, tmp_path: Path, code: str, scope: str
) -> None:
    from jupyter_sky.infra.base import CredentialError, QuotaError

    lab.fake.faults.add(FaultRule(action="instances.insert", code=code, match={"zone": "us-central1-b"}))
    with pytest.raises((QuotaError, CredentialError)) as err:
        GcpInfra().launch(_request("g3", tmp_path, "us-central1-b"))
    assert err.value.scope == scope and str(err.value).endswith("."), str(err.value)
    assert lab.leftovers() == []


def test_stop_keeps_the_vm_and_the_next_cell_starts_it_again(lab: GcpLab, notebook: Notebook) -> None:
    assert notebook.run("%%sky --infra gcp/us-central1 --cpus 2 --name g4\ny = 1", timeout=300).status == "ok"
    [(key, inst)] = lab.fake.instances.items()
    stopped = notebook.run("%sky stop g4", timeout=180)
    assert stopped.status == "ok" and "is stopped" in stopped.stdout, stopped.error_text
    assert lab.fake.instances[key].status == "TERMINATED"
    again = notebook.run("%%sky --infra gcp/us-central1 --cpus 2 --name g4\nprint('again')", timeout=300)
    assert again.status == "ok" and again.stdout.strip() == "again", again.error_text
    assert "started the stopped cluster 'g4' again" in again.stderr
    assert list(lab.fake.instances) == [key] and lab.fake.instances[key].status == "RUNNING"
    assert notebook.run("%sky down g4", timeout=180).status == "ok"


def test_the_vm_stops_itself_when_idle_with_the_notebook_gone(lab: GcpLab, home: Path, tmp_path: Path) -> None:
    infra = GcpInfra()
    handle = infra.launch(_request("g5", tmp_path, "us-central1-c", flags="--autostop 0.05"))  # 3 s idle
    try:  # no notebook ever attaches: idle from the start
        deadline = time.monotonic() + 90
        while (status := infra.status(handle)).reason != f"the VM {handle.name} is terminated.":
            assert time.monotonic() < deadline, f"the VM never stopped itself ({status.reason})"
            time.sleep(0.5)
        assert status.state is State.STOPPED
    finally:
        infra.down(handle)


def test_orphans_are_found_by_label_and_ended(lab: GcpLab, home: Path, tmp_path: Path) -> None:
    from jupyter_sky.infra.gcp import launch as gl
    from jupyter_sky.infra.gcp import provision as gp

    api = gl.api("sim-project", lab.fake.url)
    spec = gp.GcpVmSpec("lost", "root", "sky", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIlost x", "10.0.0.0/8")
    gp.provision(api, gp.GcpPlacement("sim-project", "us-central1-a", "n1-standard-2"), spec)  # a kernel killed mid-launch
    found = [o for o in GcpInfra().orphans() if o.cluster == "lost"]
    assert [(o.kind, o.where, o.state) for o in found] == [("gcp", "gcp/us-central1-a jsky-lost", "RUNNING")]
    found[0].down()
    assert lab.leftovers() == []


def test_bad_input_is_one_sentence_and_creates_nothing(lab: GcpLab, home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    with pytest.raises(SpecError, match=r"names unknown GCP region 'mars-central1'"):
        parse_line("--infra gcp/mars-central1")
    with pytest.raises(SpecError, match=r"a zone where the region goes\): write gcp/us-central1/us-central1-a\.$"):
        parse_line("--infra gcp/us-central1-a")
    with pytest.raises(InfraError, match="does not exist in zone"):  # a machine type not sold there
        GcpInfra().launch(_request("g6", tmp_path, "us-west1-c", machine="a2-highgpu-1g"))
    assert lab.leftovers() == []
    (home / "config.yaml").write_text(lab.config().replace("  project: sim-project\n", ""))
    lab.adc.rename(lab.adc.with_suffix(".bak"))  # its project_id would name the project
    other = tmp_path / "adc.json"
    other.write_text('{"type": "service_account"}')
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(other))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    try:
        assert GcpInfra.credentials().startswith("no Google Cloud project")
        with pytest.raises(InfraError, match="^no Google Cloud project"):
            GcpInfra().launch(_request("g7", tmp_path, "us-central1-a"))
    finally:
        lab.adc.with_suffix(".bak").rename(lab.adc)
    assert lab.leftovers() == []
