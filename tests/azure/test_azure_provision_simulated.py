"""infra/azure/provision.py against the simulated ARM (tests/fakes/azure_arm.py).

The real azure-mgmt clients talk HTTPS to the fake; these tests check what the project creates
(group, NSG with SSH from one CIDR, VNet, public IP, NIC, VM with SSH keys, tags, spot), that a
failed attempt leaves nothing behind and carries the right failover verdict, and
deallocate/start/status/orphans/remove.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.azure_arm import AzureArmFake
from fakes.azure_fixtures import SUBSCRIPTION, StaticCredential, running_fake
from fakes.base import FaultRule

from jupyter_sky.infra.azure import provision as ap

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIsimulated sky@test"


@pytest.fixture(scope="module")
def azure_fake() -> Iterator[AzureArmFake]:
    yield from running_fake()


@pytest.fixture
def api(azure_fake: AzureArmFake) -> Iterator[ap.AzureApi]:
    azure_fake.faults.clear()
    yield ap.AzureApi(SUBSCRIPTION, credential=StaticCredential(), base_url=azure_fake.url,
                      connection_verify=azure_fake.ca_pem, polling_interval=0, retry_total=0)
    azure_fake.faults.clear()
    assert not azure_fake.resources and not azure_fake.groups, "a test left resources on the simulated Azure"


def spec(cluster: str, group: str | None = None) -> ap.AzureVmSpec:
    return ap.AzureVmSpec(cluster=cluster, user="Tester", ssh_user="sky", public_key=KEY, ssh_cidr="192.0.2.7/32", resource_group=group)


def test_spot_gpu_vm_is_tagged_firewalled_and_removed(api: ap.AzureApi, azure_fake: AzureArmFake) -> None:
    vm = ap.provision(api, ap.AzurePlacement("eastus", "Standard_NC4as_T4_v3", gpu=True, spot=True), spec("c1"))
    assert vm.resource_group == "jsky-c1-eastus" and vm.own_group
    model = api.compute.virtual_machines.get(vm.resource_group, vm.name)
    assert (model.priority, model.eviction_policy, model.tags) == ("Spot", "Delete", {"jsky-cluster": "c1", "jsky-user": "tester"})
    assert model.storage_profile.image_reference.publisher == "microsoft-dsvm"
    nsg = api.network.network_security_groups.get(vm.resource_group, f"{vm.name}-nsg")
    assert [(r.source_address_prefix, r.destination_port_range) for r in nsg.security_rules] == [("192.0.2.7/32", "22")]
    [run] = azure_fake.running_instances()
    assert (run.ssh_address, run.ssh_user, run.authorized_keys) == (vm.public_ip, "sky", (KEY,))
    assert [o[:2] for o in ap.orphans(api, "Tester")] == [("c1", "eastus")]
    ap.power(api, vm.resource_group, vm.name, on=False)
    assert ap.status(api, vm.resource_group, vm.name) == "deallocated"
    ap.power(api, vm.resource_group, vm.name, on=True)
    assert ap.status(api, vm.resource_group, vm.name) == "running"
    ap.remove(api, vm)
    ap.remove(api, vm)  # idempotent
    assert ap.status(api, vm.resource_group, vm.name) == "GONE"


def test_configured_group_is_kept_and_emptied(api: ap.AzureApi, azure_fake: AzureArmFake) -> None:
    api.resources.resource_groups.create_or_update("team-rg", {"location": "eastus"})
    vm = ap.provision(api, ap.AzurePlacement("eastus", "Standard_D16s_v5"), spec("c2", group="team-rg"))
    assert not vm.own_group
    ap.remove(api, vm)
    assert not azure_fake.resources and "team-rg" in azure_fake.groups
    api.resources.resource_groups.begin_delete("team-rg").result()


@pytest.mark.parametrize(("code", "kind", "scope"), [
    ("AllocationFailed", "capacity", "region"),
    ("SkuNotAvailable", "capacity", "region"),
    ("OperationNotAllowed", "quota", "region"),
    ("InvalidAuthenticationToken", "credential", "infra"),
])
def test_failed_attempt_leaves_nothing_and_says_where_to_go(api: ap.AzureApi, azure_fake: AzureArmFake, code: str, kind: str, scope: str) -> None:
    azure_fake.faults.add(FaultRule(action="virtualMachines.createOrUpdate", code=code, match={"location": "eastus"}))
    with pytest.raises(ap.AzureLaunchError) as err:
        ap.provision(api, ap.AzurePlacement("eastus", "Standard_D16s_v5"), spec("full"))
    assert (err.value.verdict.kind, err.value.verdict.scope) == (kind, scope)
    assert str(err.value).endswith(".")


def test_unknown_location_is_fatal(api: ap.AzureApi) -> None:
    with pytest.raises(ap.AzureLaunchError) as err:
        ap.provision(api, ap.AzurePlacement("marsnorth", "Standard_D16s_v5"), spec("mars"))
    assert err.value.verdict.kind == "fatal" and "marsnorth" in str(err.value)
