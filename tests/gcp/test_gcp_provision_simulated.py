"""infra/gcp/provision.py against the simulated Compute Engine (tests/fakes/gcp_compute.py).

The real google-cloud-compute SDK talks to the fake over HTTP; these tests check what the
project creates (labels, firewall, GPU scheduling, spot), that a failed attempt leaves nothing
behind and carries the right failover verdict, and stop/start/status/orphans/down.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.gcp_compute import GcpComputeFake
from fakes.gcp_fixtures import running_fake, static_credentials

from jupyter_sky.infra.gcp import provision as gp

PROJECT = "sim-project"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIsimulated sky@test"


@pytest.fixture(scope="module")
def gcp_fake() -> Iterator[GcpComputeFake]:
    yield from running_fake()


@pytest.fixture
def api(gcp_fake: GcpComputeFake) -> Iterator[gp.GcpApi]:
    gcp_fake.faults.clear()
    yield gp.GcpApi(PROJECT, credentials=static_credentials(), endpoint=gcp_fake.url)
    gcp_fake.faults.clear()
    assert not gcp_fake.instances and not gcp_fake.firewalls, "a test left resources on the simulated GCP"


def spec(cluster: str) -> gp.GcpVmSpec:
    return gp.GcpVmSpec(cluster=cluster, user="Tester", ssh_user="sky", public_key=KEY, ssh_cidr="192.0.2.7/32")


def test_spot_n1_with_t4_is_labelled_firewalled_and_removed(api: gp.GcpApi, gcp_fake: GcpComputeFake) -> None:
    place = gp.GcpPlacement(PROJECT, "us-central1-a", "n1-standard-4", "T4", 1, spot=True)
    vm = gp.provision(api, place, spec("c1"))
    inst = gcp_fake.instances[(PROJECT, "us-central1-a", "jsky-c1")]
    assert dict(inst.labels) == {"jsky-cluster": "c1", "jsky-user": "tester"}
    assert inst.guest_accelerators[0].accelerator_type.endswith("/nvidia-tesla-t4")
    assert (inst.scheduling.on_host_maintenance, inst.scheduling.provisioning_model) == ("TERMINATE", "SPOT")
    assert "deeplearning-platform-release" in inst.disks[0].initialize_params.source_image
    rule = gcp_fake.firewalls[(PROJECT, "jsky-c1")]
    assert list(rule.source_ranges) == ["192.0.2.7/32"] and list(rule.target_tags) == list(inst.tags.items)
    [run] = gcp_fake.running_instances()
    assert (run.ssh_address, run.ssh_user, run.authorized_keys) == (vm.public_ip, "sky", (KEY,))
    assert gp.orphans(api, "tester") == [("c1", "us-central1-a", "RUNNING")]
    gp.power(api, vm.zone, vm.name, on=False)
    assert gp.status(api, vm.zone, vm.name) == "TERMINATED"
    gp.power(api, vm.zone, vm.name, on=True)
    assert gp.status(api, vm.zone, vm.name) == "RUNNING"
    gp.remove(api, vm.zone, vm.name)
    gp.remove(api, vm.zone, vm.name)  # idempotent
    assert gp.status(api, vm.zone, vm.name) == "GONE"


def test_built_in_gpu_type_attaches_nothing(api: gp.GcpApi, gcp_fake: GcpComputeFake) -> None:
    vm = gp.provision(api, gp.GcpPlacement(PROJECT, "us-central1-a", "a2-highgpu-1g", "A100", 1), spec("a2"))
    inst = gcp_fake.instances[(PROJECT, "us-central1-a", vm.name)]
    assert not inst.guest_accelerators and inst.scheduling.on_host_maintenance == "TERMINATE"
    gp.remove(api, vm.zone, vm.name)


@pytest.mark.parametrize(("code", "kind", "scope"), [
    ("ZONE_RESOURCE_POOL_EXHAUSTED", "capacity", "zone"),
    ("QUOTA_EXCEEDED", "quota", "region"),
    ("GPUS_ALL_REGIONS", "quota", "infra"),
    ("PERMISSION_DENIED", "credential", "infra"),
])
def test_failed_attempt_leaves_nothing_and_says_where_to_go(api: gp.GcpApi, gcp_fake: GcpComputeFake, code: str, kind: str, scope: str) -> None:
    gcp_fake.faults.add(gp_rule(code))
    with pytest.raises(gp.GcpLaunchError) as err:
        gp.provision(api, gp.GcpPlacement(PROJECT, "us-central1-a", "n1-standard-4", "T4", 1), spec("full"))
    assert (err.value.verdict.kind, err.value.verdict.scope) == (kind, scope)
    assert str(err.value).endswith(".")


def test_machine_type_not_in_zone_is_fatal(api: gp.GcpApi) -> None:
    with pytest.raises(gp.GcpLaunchError) as err:
        gp.provision(api, gp.GcpPlacement(PROJECT, "us-west1-c", "a2-highgpu-1g", "A100", 1), spec("nope"))
    assert err.value.verdict.kind == "fatal" and "does not exist in zone" in str(err.value)


def gp_rule(code: str) -> object:
    from fakes.base import FaultRule

    return FaultRule(action="instances.insert", code=code, match={"zone": "us-central1-a"})
