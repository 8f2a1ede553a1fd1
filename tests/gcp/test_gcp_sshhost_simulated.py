"""A VM the project creates on the simulated GCP is a real SSH host (lab VM booter, real sshd).

Provisioning goes through infra/gcp/provision.py and the real SDK to the fake; the booter turns
the running instance into a network-namespace host at its external address, accepting only the
key put in the instance metadata; stopping the VM takes the host away.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.booted import booted, new_key, ssh, wait_ready
from fakes.gcp_compute import GcpComputeFake
from fakes.gcp_fixtures import running_fake, static_credentials

from jupyter_sky.infra.gcp import provision as gp

PROJECT = "sim-project"


@pytest.fixture(scope="module")
def gcp_fake() -> Iterator[GcpComputeFake]:
    yield from running_fake()


@pytest.mark.slow
def test_provisioned_vm_is_an_ssh_host_until_stopped(gcp_fake: GcpComputeFake, tmp_path: Path) -> None:
    api = gp.GcpApi(PROJECT, credentials=static_credentials(), endpoint=gcp_fake.url)
    key, public = new_key(tmp_path)
    spec = gp.GcpVmSpec(cluster="ssh1", user="tester", ssh_user="skygcp", public_key=public, ssh_cidr="127.0.0.1/32")
    with booted(gcp_fake.running_instances, "skygcp", "10.213.128.0/18", tmp_path / "vms") as booter:
        vm = gp.provision(api, gp.GcpPlacement(PROJECT, "us-central1-a", "n1-standard-4", "T4", 1), spec)
        try:
            wait_ready(booter, vm.instance_id)
            assert ssh(key, "skygcp", vm.public_ip, "hostname").strip() == vm.name
            gp.power(api, vm.zone, vm.name, on=False)
            deadline = time.monotonic() + 10
            while vm.instance_id in booter.booted:  # type: ignore[attr-defined]
                assert time.monotonic() < deadline, "a stopped VM must stop answering"
                time.sleep(0.05)
        finally:
            gp.remove(api, vm.zone, vm.name)
    assert not gcp_fake.instances and not gcp_fake.firewalls

