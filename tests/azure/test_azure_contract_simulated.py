"""The infra contract (tests/test_contract.py) on ``azure``, against the SIMULATED Azure lab
(tests/fakes/azure_lab.py: the real azure-identity and azure-mgmt SDKs against the fake
Resource Manager, the VM a network-namespace host with a real sshd; SSH, bootstrap and kernel
real).

The contract's tests that apply to a catalog-priced cloud run unchanged: a sentence from
``check``, launch/connect/run/down, interrupt keeping the kernel, restart in place. One VM
serves the module; its teardown leaves nothing on the fake.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.azure_lab import AzureLab, running_lab
from test_contract import (  # the contract's own tests, collected here with the azure fixtures
    test_check_is_a_sentence_or_empty,
    test_interrupt_keeps_the_kernel,
    test_launch_connect_run_and_down,
    test_restart_replaces_the_kernel_in_place,
)
from vm_contract import ModuleVm

from jupyter_sky.config import load_config
from jupyter_sky.infra.azure import AzureInfra
from jupyter_sky.infra.base import Handle, Infra, Launch
from jupyter_sky.offering import Offering
from jupyter_sky.spec.task import parse_line, task_from_args

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
__all__ = ["test_check_is_a_sentence_or_empty", "test_interrupt_keeps_the_kernel",
           "test_launch_connect_run_and_down", "test_restart_replaces_the_kernel_in_place"]  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureLab]:
    """The lab, with its credentials, JUPYTER_SKY_HOME and the working directory pointed at it."""
    root = tmp_path_factory.mktemp("azure-contract")
    for lab in running_lab(root):
        home = root / "home"
        home.mkdir(mode=0o700)
        (home / "config.yaml").write_text(lab.config())
        env = {"JUPYTER_SKY_HOME": str(home), "JUPYTER_SKY_WATCHDOG_INTERVAL": "0.5", **lab.env(os.environ["PATH"])}
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
                mp.delenv(name, raising=False)
            mp.chdir(root)
            yield lab
        assert lab.leftovers() == []


@pytest.fixture(scope="module")
def infra(lab: AzureLab) -> AzureInfra:
    return AzureInfra()


@pytest.fixture(scope="module")
def vm(lab: AzureLab, infra: AzureInfra) -> Iterator[ModuleVm]:
    """The module's current VM: tests that end it (down, restart then down) get a new one."""
    task = task_from_args(parse_line("--name contract-az"), "pass", Path.cwd())
    offering = Offering("azure", "eastus", "Standard_D2s_v5", 2, 8, price=0.1)
    current = ModuleVm(infra, Launch("contract-az", task, load_config(Path.cwd()), offering=offering))
    yield current
    current.end()


@pytest.fixture
def launched(vm: ModuleVm) -> tuple[Infra, Handle, Launch]:
    """A running kernel on the module's VM (as the contract's fixture gives a fresh launch)."""
    return vm.launched()

