"""A VM the project creates on the simulated Azure is a real SSH host (lab VM booter, real sshd).

Provisioning goes through infra/azure/provision.py and the real azure-mgmt clients to the fake;
the booter turns the running VM into a network-namespace host at its public IP, accepting only the
key from ``linux_configuration``; deallocating the VM takes the host away.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.azure_arm import AzureArmFake
from fakes.azure_fixtures import SUBSCRIPTION, StaticCredential, running_fake
from fakes.booted import booted, new_key, ssh, wait_ready

from jupyter_sky.infra.azure import provision as ap


@pytest.fixture(scope="module")
def azure_fake() -> Iterator[AzureArmFake]:
    yield from running_fake()


@pytest.mark.slow
def test_provisioned_vm_is_an_ssh_host_until_deallocated(azure_fake: AzureArmFake, tmp_path: Path) -> None:
    api = ap.AzureApi(SUBSCRIPTION, credential=StaticCredential(), base_url=azure_fake.url,
                      connection_verify=azure_fake.ca_pem, polling_interval=0, retry_total=0)
    key, public = new_key(tmp_path)
    spec = ap.AzureVmSpec(cluster="ssh1", user="tester", ssh_user="skyaz", public_key=public, ssh_cidr="127.0.0.1/32")
    with booted(azure_fake.running_instances, "skyaz", "10.213.192.0/18", tmp_path / "vms") as booter:
        vm = ap.provision(api, ap.AzurePlacement("eastus", "Standard_D16s_v5"), spec)
        try:
            wait_ready(booter, vm.vm_id)
            assert ssh(key, "skyaz", vm.public_ip, "hostname").strip() == vm.name
            ap.power(api, vm.resource_group, vm.name, on=False)
            deadline = time.monotonic() + 10
            while vm.vm_id in booter.booted:  # type: ignore[attr-defined]
                assert time.monotonic() < deadline, "a deallocated VM must stop answering"
                time.sleep(0.05)
        finally:
            ap.remove(api, vm)
    assert not azure_fake.resources and not azure_fake.groups
