"""The infra contract (tests/test_contract.py) on ``gcp``, against the SIMULATED GCP lab
(tests/fakes/gcp_lab.py: the real google-cloud-compute SDK against the fake Compute Engine, the
VM a network-namespace host with a real sshd; SSH, bootstrap and kernel real).

The contract's tests that apply to a catalog-priced cloud run unchanged: a sentence from
``check``, launch/connect/run/down, interrupt keeping the kernel, restart in place. One VM
serves the module; its teardown leaves nothing on the fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.gcp_lab import GcpLab, running_lab
from test_contract import (  # the contract's own tests, collected here with the gcp fixtures
    test_check_is_a_sentence_or_empty,
    test_interrupt_keeps_the_kernel,
    test_launch_connect_run_and_down,
    test_restart_replaces_the_kernel_in_place,
)
from vm_contract import ModuleVm

from jupyter_sky.config import load_config
from jupyter_sky.infra.base import Handle, Infra, Launch
from jupyter_sky.infra.gcp import GcpInfra
from jupyter_sky.offering import Offering
from jupyter_sky.spec.task import parse_line, task_from_args

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
__all__ = ["test_check_is_a_sentence_or_empty", "test_interrupt_keeps_the_kernel",
           "test_launch_connect_run_and_down", "test_restart_replaces_the_kernel_in_place"]  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcpLab]:
    """The lab, with ADC, JUPYTER_SKY_HOME and the working directory pointed at it."""
    root = tmp_path_factory.mktemp("gcp-contract")
    for lab in running_lab(root):
        home = root / "home"
        home.mkdir(mode=0o700)
        (home / "config.yaml").write_text(lab.config())
        with pytest.MonkeyPatch.context() as mp:
            for name, value in {"JUPYTER_SKY_HOME": str(home), "GOOGLE_APPLICATION_CREDENTIALS": str(lab.adc),
                                "JUPYTER_SKY_WATCHDOG_INTERVAL": "0.5", "NO_GCE_CHECK": "true"}.items():  # fmt: skip
                mp.setenv(name, value)
            mp.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
            mp.chdir(root)
            yield lab
        assert lab.leftovers() == []


@pytest.fixture(scope="module")
def infra(lab: GcpLab) -> GcpInfra:
    return GcpInfra()


@pytest.fixture(scope="module")
def vm(lab: GcpLab, infra: GcpInfra) -> Iterator[ModuleVm]:
    """The module's current VM: tests that end it (down, restart then down) get a new one."""
    task = task_from_args(parse_line("--name contract-gcp"), "pass", Path.cwd())
    offering = Offering("gcp", "us-central1", "n1-standard-2", 2, 7.5, zone="us-central1-f", price=0.1)
    current = ModuleVm(infra, Launch("contract-gcp", task, load_config(Path.cwd()), offering=offering))
    yield current
    current.end()


@pytest.fixture
def launched(vm: ModuleVm) -> tuple[Infra, Handle, Launch]:
    """A running kernel on the module's VM (as the contract's fixture gives a fresh launch)."""
    return vm.launched()

