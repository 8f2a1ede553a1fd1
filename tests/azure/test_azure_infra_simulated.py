"""The ``azure`` infra end to end on the SIMULATED Azure lab (tests/fakes/azure_lab.py): the real
azure-identity (DefaultAzureCredential through a stand-in ``az``) and azure-mgmt SDKs against the
fake Resource Manager, each running VM a network-namespace host with a real sshd. A cell runs
there with its output and variables; failover moves region → region on no capacity, skips a
region on quota and the whole cloud on an authentication error; stop deallocates and the next
cell starts the VM again; orphans are found by tag; bad input is one sentence and nothing is
created.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.azure_lab import AzureLab, running_lab
from fakes.base import FaultRule

from jupyter_sky.config import load_config
from jupyter_sky.errors import InfraError, SpecError
from jupyter_sky.infra.azure import AzureInfra
from jupyter_sky.infra.base import CapacityError, CredentialError, Launch, QuotaError
from jupyter_sky.offering import Offering
from jupyter_sky.spec.task import parse_line, task_from_args

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbdriver import Notebook  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureLab]:
    yield from running_lab(tmp_path_factory.mktemp("azure-lab"))


@pytest.fixture
def home(lab: AzureLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh JUPYTER_SKY_HOME whose own config is the lab's ``azure:`` section."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.yaml").write_text(lab.config())
    env = {"JUPYTER_SKY_HOME": str(home), "JUPYTER_SKY_WATCHDOG_INTERVAL": "0.5", **lab.env(os.environ["PATH"])}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    lab.fake.faults.clear()
    yield home
    lab.fake.faults.clear()
    assert lab.leftovers() == [], "a test left resources on the simulated Azure"


@pytest.fixture
def notebook(home: Path, tmp_path: Path) -> Iterator[Notebook]:
    nb = Notebook(dict(os.environ), str(tmp_path))
    assert nb.run("%load_ext jupyter_sky").status == "ok"
    yield nb
    nb.shutdown()


def _request(name: str, tmp_path: Path, region: str = "eastus", size: str = "Standard_D2s_v5", flags: str = "") -> Launch:
    task = task_from_args(parse_line(f"--name {name} {flags}"), "pass", tmp_path)
    offering = Offering("azure", region, size, 2, 8, price=0.1)
    return Launch(name, task, load_config(tmp_path), offering=offering)


def test_a_cell_runs_on_a_simulated_azure_vm_and_down_leaves_nothing(lab: AzureLab, notebook: Notebook) -> None:
    res = notebook.run("%%sky --infra azure/eastus --cpus 2 --name a1\nimport socket\nprint('on', socket.gethostname())\nx = 6 * 7",
                       timeout=300)  # fmt: skip
    assert res.status == "ok", res.error_text
    assert res.stdout.strip() == "on jsky-a1", res.stdout
    assert notebook.value("x") == "42"
    [vm] = [r for r in lab.fake.running_instances()]
    assert (vm.location, dict(vm.labels)["jsky-cluster"]) == ("eastus", "a1")
    assert sorted(lab.fake.groups) == ["jsky-a1-eastus"]
    status = notebook.run("%sky status").stdout
    assert any(line.split()[:3] == ["a1", "azure", "UP"] for line in status.splitlines()), status
    assert notebook.run("%sky down a1", timeout=180).status == "ok"
    assert lab.leftovers() == []


def test_no_capacity_moves_to_the_next_region_and_the_cell_says_so(lab: AzureLab, notebook: Notebook) -> None:
    lab.fake.faults.add(FaultRule(action="virtualMachines.createOrUpdate", code="AllocationFailed", times=1))
    res = notebook.run("%%sky --infra azure --cpus 2 --memory 8 --name a2\nprint('ran')", timeout=300)
    assert res.status == "ok" and res.stdout.strip() == "ran", res.error_text
    first = next(line for line in res.stderr.splitlines() if "attempt 1: azure" in line)
    assert "no capacity" in first and "AllocationFailed" in first, res.stderr
    [vm] = lab.fake.running_instances()
    assert f" in {vm.location} " not in first, (first, vm.location)  # another region
    assert notebook.run("%sky down a2", timeout=180).status == "ok"


@pytest.mark.parametrize(("code", "error", "scope"), [
    ("ZonalAllocationFailed", CapacityError, "region"),
    ("SkuNotAvailable", CapacityError, "region"),
    ("OperationNotAllowed", QuotaError, "region"),
    ("InvalidAuthenticationToken", CredentialError, "infra"),
    ("AuthorizationFailed", CredentialError, "infra"),
])  # fmt: skip
def test_launch_errors_carry_the_scope_failover_needs_and_leave_nothing(
    lab: AzureLab, home: Path, tmp_path: Path, code: str, error: type[InfraError], scope: str
) -> None:
    lab.fake.faults.add(FaultRule(action="virtualMachines.createOrUpdate", code=code, match={"location": "westus2"}))
    with pytest.raises(error) as err:
        AzureInfra().launch(_request("a3", tmp_path, region="westus2"))
    assert err.value.scope == scope and str(err.value).endswith("."), str(err.value)  # type: ignore[attr-defined]
    assert lab.leftovers() == []


def test_throttling_is_retried_in_place(lab: AzureLab, home: Path, tmp_path: Path) -> None:
    lab.fake.faults.add(FaultRule(action="virtualMachines.createOrUpdate", code="TooManyRequests", times=1))
    infra = AzureInfra()
    handle = infra.launch(_request("a4", tmp_path, region="westus2"))
    try:
        assert handle.location == "westus2" and infra.status(handle).state.name == "UP"
    finally:
        infra.down(handle)


def test_stop_deallocates_and_the_next_cell_starts_it_again(lab: AzureLab, notebook: Notebook) -> None:
    first = notebook.run("%%sky --infra azure/eastus --cpus 2 --name a5\nprint('first')", timeout=300)
    assert first.status == "ok", first.error_text
    [before] = lab.fake.running_instances()
    stopped = notebook.run("%sky stop a5", timeout=180)
    assert stopped.status == "ok" and "is stopped" in stopped.stdout, stopped.error_text
    assert lab.fake.running_instances() == []
    [power] = [s.power for s in lab.fake.resources.values() if "virtualmachines" in str(getattr(s.model, "type", "")).lower()]
    assert power == "deallocated"
    # the booter gives a started VM a fresh home (its disk is not simulated): the same VM is checked by id and name
    again = notebook.run("%%sky --infra azure/eastus --cpus 2 --name a5\nimport socket\nprint(socket.gethostname())", timeout=300)
    assert again.status == "ok" and again.stdout.strip() == "jsky-a5", again.error_text
    assert "started the stopped cluster 'a5' again" in again.stderr
    [after] = lab.fake.running_instances()
    assert after.id == before.id
    assert notebook.run("%sky down a5", timeout=180).status == "ok"


def test_the_vm_deallocates_itself_when_idle_with_the_notebook_gone(lab: AzureLab, home: Path, tmp_path: Path) -> None:
    """The on-VM watcher calls ARM's deallocate itself (through the lab bridge) once the autostop
    watchdog ended the idle kernel; no notebook ever attaches."""
    import time

    from jupyter_sky.infra.base import State

    infra = AzureInfra()
    handle = infra.launch(_request("a10", tmp_path, flags="--autostop 0.05"))  # 3 s idle
    try:
        deadline = time.monotonic() + 90
        while (status := infra.status(handle)).state is not State.STOPPED:  # deallocating, then deallocated
            assert time.monotonic() < deadline, f"the VM never deallocated itself ({status.reason})"
            time.sleep(0.5)
        assert status.reason.startswith(f"the VM {handle.name} is deallocat") and lab.fake.running_instances() == []
    finally:
        infra.down(handle)


def test_a_spot_vm_is_spot_with_delete_and_its_eviction_is_a_preemption(lab: AzureLab, home: Path, tmp_path: Path) -> None:
    from jupyter_sky.infra.base import State

    infra = AzureInfra()
    handle = infra.launch(_request("a6", tmp_path, flags="--spot"))
    try:
        stored = lab.fake.resources[handle.arm_path.lower()].model
        assert (stored.priority, stored.eviction_policy) == ("Spot", "Delete")  # type: ignore[attr-defined]
        with pytest.raises(InfraError, match="spot VM cannot be stopped"):
            infra.stop(handle)
        lab.fake.evict(handle.resource_group, handle.name, handle.subscription)
        assert infra.status(handle).state is State.PREEMPTED
    finally:
        infra.down(handle)


def test_orphans_are_found_by_tag_and_ended(lab: AzureLab, home: Path) -> None:
    from fakes.azure_fixtures import SUBSCRIPTION, StaticCredential

    from jupyter_sky.infra.azure import provision as ap
    from jupyter_sky.infra.vm_access import cloud_user

    api = ap.AzureApi(SUBSCRIPTION, credential=StaticCredential(), base_url=lab.fake.url,
                      connection_verify=lab.fake.ca_pem, polling_interval=0)  # fmt: skip
    spec = ap.AzureVmSpec("lost", cloud_user(), "sky", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIlost x", "10.0.0.0/8")
    ap.provision(api, ap.AzurePlacement("eastus", "Standard_D2s_v5"), spec)  # a kernel killed mid-launch
    found = [o for o in AzureInfra().orphans() if o.cluster == "lost"]
    assert [(o.kind, o.where) for o in found] == [("azure", "azure/eastus jsky-lost")]
    found[0].down()
    assert lab.leftovers() == []


def test_bad_input_is_one_sentence_and_creates_nothing(lab: AzureLab, home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    with pytest.raises(SpecError, match=r"names unknown Azure region 'marsnorth'"):
        parse_line("--infra azure/marsnorth")
    with pytest.raises(InfraError, match=r"^the VM size Standard_NV4as_v4 is not offered in azure/westcentralus .*\.$"):
        AzureInfra().launch(_request("a7", tmp_path, region="westcentralus", size="Standard_NV4as_v4"))
    (home / "config.yaml").write_text(lab.config(image="Canonical:no-such-offer:none"))
    with pytest.raises(InfraError, match=r"PlatformImageNotFound|platform image 'Canonical:no-such-offer:none:latest' is not available"):
        AzureInfra().launch(_request("a8", tmp_path))
    assert lab.leftovers() == []
    (home / "config.yaml").write_text(lab.config())
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "no-cli"))
    assert AzureInfra.credentials().startswith("no Azure credentials")
    monkeypatch.setenv("AZURE_CLIENT_ID", "x")
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9")
    assert AzureInfra.credentials().startswith("no Azure subscription")
    with pytest.raises(CredentialError, match="^no Azure subscription"):
        AzureInfra().launch(_request("a9", tmp_path))
    assert lab.leftovers() == []
