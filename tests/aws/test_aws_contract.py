"""The infra contract (tests/test_contract.py) on ``aws``, against the AWS lab (SIMULATED
HYPERVISOR: the EC2 instance is a network-namespace host with a real sshd; API, SSH,
bootstrap and kernel real).

The contract's tests that apply to a catalog-priced cloud run unchanged: a sentence from
``check``, launch/connect/run/down, interrupt keeping the kernel, restart in place. (Its
``offerings``/``unmet`` tests are for live infras: a cloud's rows come from the catalog.)
One VM serves the module; its teardown leaves nothing in moto.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from test_contract import (  # the contract's own tests, collected here with the aws fixtures
    test_check_is_a_sentence_or_empty,
    test_interrupt_keeps_the_kernel,
    test_launch_connect_run_and_down,
    test_restart_replaces_the_kernel_in_place,
)
from vm_contract import ModuleVm

from jupyter_sky.infra.aws import AwsInfra
from jupyter_sky.infra.base import Handle, Infra, Launch

from .conftest import AwsLab
from .infra_helpers import nothing_left, request_for

pytestmark = [pytest.mark.aws, pytest.mark.slow]
__all__ = ["test_check_is_a_sentence_or_empty", "test_interrupt_keeps_the_kernel",
           "test_launch_connect_run_and_down", "test_restart_replaces_the_kernel_in_place"]  # fmt: skip


@pytest.fixture(scope="module")
def lab(aws_lab_simulated_hypervisor: AwsLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsLab]:
    """The lab, reset once for the module, with boto3 and JUPYTER_SKY_HOME pointed at it."""
    lab = aws_lab_simulated_hypervisor
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_REGION"):
            mp.delenv(key, raising=False)
        for key, value in lab.env().items():
            mp.setenv(key, value)
        mp.setenv("JUPYTER_SKY_HOME", str(tmp_path_factory.mktemp("aws-contract-home")))
        mp.setenv("JUPYTER_SKY_WATCHDOG_INTERVAL", os.environ.get("JUPYTER_SKY_WATCHDOG_INTERVAL", "0.5"))
        lab.reset()
        yield lab
        nothing_left(lab, "contract-aws")


@pytest.fixture(scope="module")
def infra() -> AwsInfra:
    return AwsInfra(notify=lambda line: None)


@pytest.fixture(scope="module")
def vm(lab: AwsLab, infra: AwsInfra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleVm]:
    """The module's current VM: tests that end it (down, restart then down) get a new one."""
    current = ModuleVm(infra, request_for(lab, "contract-aws", tmp_path_factory.mktemp("contract")))
    yield current
    current.end()


@pytest.fixture
def launched(vm: ModuleVm) -> tuple[Infra, Handle, Launch]:
    """A running kernel on the module's VM (as the contract's fixture gives a fresh launch)."""
    return vm.launched()

