"""Spot VMs and bad placements of the ``gcp`` infra on the SIMULATED GCP lab
(tests/fakes/gcp_lab.py: the real google-cloud-compute SDK and google-auth ADC against the fake
Compute Engine; each running VM a network-namespace host with a real sshd).

- a spot row asks for ``provisioningModel: SPOT`` with ``DELETE`` on preemption; a preempted
  VM is PREEMPTED in status, and ``down`` leaves nothing;
- an image family that cannot be read, or a zone Compute Engine does not know, is one sentence
  and nothing is created.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import gcp_world
from fakes.gcp_lab import PROJECT, GcpLab

from jupyter_sky.config import load_config
from jupyter_sky.errors import InfraError
from jupyter_sky.infra.base import Launch, State
from jupyter_sky.infra.gcp import GcpInfra
from jupyter_sky.infra.gcp import provision as gp
from jupyter_sky.offering import Offering
from jupyter_sky.spec.task import parse_line, task_from_args

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def request(name: str, tmp_path: Path, zone: str, spot: bool = False) -> Launch:
    task = task_from_args(parse_line(f"--name {name}"), "pass", tmp_path)
    offering = Offering("gcp", zone.rsplit("-", 1)[0], "n1-standard-2", 2, 7.5, zone=zone,
                        price=0.095, spot_price=0.02)  # fmt: skip
    return Launch(name, task, load_config(tmp_path), offering=offering, spot=spot)


def test_a_spot_row_is_a_spot_vm_and_its_preemption_is_seen(lab: GcpLab, home: Path, tmp_path: Path) -> None:
    """SIMULATED GCP: provisioningModel SPOT, DELETE on preemption; status says PREEMPTED."""
    infra = GcpInfra()
    handle = infra.launch(request("gs1", tmp_path, "us-central1-b", spot=True))
    try:
        inst = lab.fake.instances[(PROJECT, "us-central1-b", gp.resource_name("gs1"))]
        assert (inst.scheduling.provisioning_model, inst.scheduling.instance_termination_action) == ("SPOT", "DELETE")
        assert infra.status(handle).state is State.UP
        lab.fake.preempt(PROJECT, "us-central1-b", gp.resource_name("gs1"))
        status = infra.status(handle)
        assert status.state is State.PREEMPTED and "preempted" in status.reason, status
    finally:
        infra.down(handle)
    assert lab.leftovers() == []


def test_an_on_demand_row_is_a_standard_vm(lab: GcpLab, home: Path, tmp_path: Path) -> None:
    """SIMULATED GCP: without spot the VM is STANDARD (the spot test's control)."""
    from jupyter_sky.infra.gcp import launch as gl

    api = gl.api(PROJECT, lab.fake.url)  # what a launch provisions, without a kernel on it
    spec = gp.GcpVmSpec("gs2", "root", "sky", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIgs2 x", "10.0.0.0/8")
    vm = gp.provision(api, gp.GcpPlacement(PROJECT, "us-central1-c", "n1-standard-2"), spec)
    try:
        inst = lab.fake.instances[(PROJECT, "us-central1-c", vm.name)]
        assert inst.scheduling.provisioning_model in ("", "STANDARD")
    finally:
        gp.remove(api, vm.zone, vm.name)
    assert lab.leftovers() == []


def test_an_image_family_that_cannot_be_read_is_one_sentence_and_creates_nothing(
    lab: GcpLab, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIMULATED GCP: the CPU image family is gone from the fake's world → 404 → one sentence."""
    monkeypatch.delitem(gcp_world.IMAGES, gp.CPU_IMAGE)
    with pytest.raises(InfraError) as err:
        GcpInfra().launch(request("gs3", tmp_path, "us-central1-a"))
    text = str(err.value)
    assert f"the image family {'/'.join(gp.CPU_IMAGE)} cannot be read" in text, text
    assert text.count(". ") == 0 and text.endswith("."), text
    assert lab.leftovers() == []


def test_a_zone_compute_engine_does_not_know_is_one_sentence_and_creates_nothing(
    lab: GcpLab, home: Path, tmp_path: Path
) -> None:
    """SIMULATED GCP: a zone the fake's world lacks fails before anything is created."""
    with pytest.raises(InfraError) as err:
        GcpInfra().launch(request("gs4", tmp_path, "us-central1-z"))
    text = str(err.value)
    assert "us-central1-z" in text and text.endswith(".") and "\n" not in text, text
    assert lab.leftovers() == []
