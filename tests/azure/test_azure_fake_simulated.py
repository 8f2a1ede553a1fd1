"""The simulated Azure Resource Manager, driven by the real azure-mgmt SDKs over HTTPS.

These tests check the fake itself (tests/fakes/azure_arm.py): that the real clients create,
poll, list, deallocate, start and delete against it, and that each fault rule surfaces as the
HttpResponseError (or subclass) with the ARM error code the real SDK raises for it.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.mgmt.compute import models as cm
from azure.mgmt.network import models as nm
from fakes.azure_arm import AzureArmFake
from fakes.azure_fixtures import (
    SUBSCRIPTION,
    AzureClients,
    clean_clients,
    make_clients,
    running_fake,
)


@pytest.fixture(scope="module")
def azure_fake() -> Iterator[AzureArmFake]:
    yield from running_fake()


@pytest.fixture
def azure(azure_fake: AzureArmFake) -> Iterator[AzureClients]:
    yield from clean_clients(azure_fake)


LOC = "eastus"
SIZE = "Standard_D16s_v5"
UBUNTU = cm.ImageReference(publisher="Canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts-gen2", version="latest")


def network(az: AzureClients, rg: str) -> str:
    """Create the resource group and its NSG, VNet/subnet, public IP and NIC; return the NIC id."""
    az.resources.resource_groups.create_or_update(rg, {"location": LOC, "tags": {"jsky-cluster": rg}})  # type: ignore[attr-defined]
    rule = nm.SecurityRule(name="ssh", protocol="Tcp", access="Allow", direction="Inbound", priority=100,
                           source_address_prefix="192.0.2.7/32", source_port_range="*",
                           destination_address_prefix="*", destination_port_range="22")
    nsg = az.network.network_security_groups.begin_create_or_update(rg, f"{rg}-nsg", nm.NetworkSecurityGroup(location=LOC, security_rules=[rule])).result()  # type: ignore[attr-defined]
    subnet = nm.Subnet(name="default", address_prefix="10.213.192.0/24", network_security_group=nm.NetworkSecurityGroup(id=nsg.id))
    vnet = az.network.virtual_networks.begin_create_or_update(rg, f"{rg}-vnet", nm.VirtualNetwork(location=LOC, address_space=nm.AddressSpace(address_prefixes=["10.213.192.0/19"]), subnets=[subnet])).result()  # type: ignore[attr-defined]
    pip = az.network.public_ip_addresses.begin_create_or_update(rg, f"{rg}-ip", nm.PublicIPAddress(location=LOC, sku=nm.PublicIPAddressSku(name="Standard"), public_ip_allocation_method="Static")).result()  # type: ignore[attr-defined]
    config = nm.NetworkInterfaceIPConfiguration(name="ipconfig1", subnet=nm.Subnet(id=vnet.subnets[0].id), public_ip_address=nm.PublicIPAddress(id=pip.id))
    nic = az.network.network_interfaces.begin_create_or_update(rg, f"{rg}-nic", nm.NetworkInterface(location=LOC, ip_configurations=[config])).result()  # type: ignore[attr-defined]
    return str(nic.id)


def vm_model(nic_id: str, size: str = SIZE, location: str = LOC, image: cm.ImageReference = UBUNTU, spot: bool = False) -> cm.VirtualMachine:
    key = cm.SshPublicKey(path="/home/sky/.ssh/authorized_keys", key_data="ssh-ed25519 AAAAC3Nza sky@test")
    vm = cm.VirtualMachine(
        location=location, tags={"jsky-cluster": "c", "jsky-user": "tester"},
        hardware_profile=cm.HardwareProfile(vm_size=size), storage_profile=cm.StorageProfile(image_reference=image),
        os_profile=cm.OSProfile(computer_name="sky", admin_username="sky", linux_configuration=cm.LinuxConfiguration(
            disable_password_authentication=True, ssh=cm.SshConfiguration(public_keys=[key]))),
        network_profile=cm.NetworkProfile(network_interfaces=[cm.NetworkInterfaceReference(id=nic_id, primary=True)]),
    )
    if spot:
        vm.priority, vm.eviction_policy = "Spot", "Delete"
    return vm


def power(az: AzureClients, rg: str, name: str) -> list[str]:
    return [str(s.code) for s in az.compute.virtual_machines.instance_view(rg, name).statuses]  # type: ignore[attr-defined]


def arm(fake: AzureArmFake, **rule: object) -> None:
    """Arm a fault rule over the fake's HTTPS fault endpoint (trusting the fake's CA)."""
    import ssl

    req = urllib.request.Request(fake.url + "/_fault/rules", data=json.dumps(rule).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5, context=ssl.create_default_context(cafile=fake.ca_pem)) as resp:
        assert any(r["code"] == rule["code"] for r in json.load(resp)["rules"])


def test_lifecycle_create_deallocate_start_list_delete(azure: AzureClients, azure_fake: AzureArmFake) -> None:
    nic = network(azure, "skyaz-life")
    vm = azure.compute.virtual_machines.begin_create_or_update("skyaz-life", "vm", vm_model(nic, spot=True)).result()  # type: ignore[attr-defined]
    assert (vm.provisioning_state, vm.priority, vm.eviction_policy) == ("Succeeded", "Spot", "Delete")
    got = azure.compute.virtual_machines.get("skyaz-life", "vm", expand="instanceView")  # type: ignore[attr-defined]
    assert [s.code for s in got.instance_view.statuses] == ["ProvisioningState/succeeded", "PowerState/running"]
    [run] = [r for r in azure_fake.running_instances() if r.labels.get("jsky-cluster") == "c"]
    assert (run.ssh_user, run.authorized_keys) == ("sky", ("ssh-ed25519 AAAAC3Nza sky@test",))
    assert run.private_ip.startswith("10.213.19") and run.public_ip.startswith("10.213.22")
    azure.compute.virtual_machines.begin_deallocate("skyaz-life", "vm").result()  # type: ignore[attr-defined]
    assert power(azure, "skyaz-life", "vm")[-1] == "PowerState/deallocated"
    assert not azure_fake.running_instances()
    azure.compute.virtual_machines.begin_start("skyaz-life", "vm").result()  # type: ignore[attr-defined]
    assert power(azure, "skyaz-life", "vm")[-1] == "PowerState/running"
    assert [v.name for v in azure.compute.virtual_machines.list_all()] == ["vm"]  # type: ignore[attr-defined]
    tagged = azure.resources.resources.list(filter="tagName eq 'jsky-cluster' and tagValue eq 'c'")  # type: ignore[attr-defined]
    assert [r.type for r in tagged] == ["Microsoft.Compute/virtualMachines"]
    with pytest.raises(HttpResponseError) as err:  # a NIC in use cannot go before its VM
        azure.network.network_interfaces.begin_delete("skyaz-life", "skyaz-life-nic").result()  # type: ignore[attr-defined]
    assert err.value.error.code == "NicInUse"
    azure.compute.virtual_machines.begin_delete("skyaz-life", "vm").result()  # type: ignore[attr-defined]
    azure.resources.resource_groups.begin_delete("skyaz-life").result()  # type: ignore[attr-defined]
    assert not azure_fake.resources and not azure_fake.groups


def test_operations_advance_only_when_polled(azure: AzureClients, azure_fake: AzureArmFake) -> None:
    nic = network(azure, "skyaz-poll")
    poller = azure.compute.virtual_machines.begin_create_or_update("skyaz-poll", "vm", vm_model(nic))  # type: ignore[attr-defined]
    before = len(azure_fake.server.requests)
    assert poller.result().provisioning_state == "Succeeded"
    op_gets = [p for m, p in azure_fake.server.requests[before:] if "/operations/" in p]
    assert len(op_gets) == 2  # one InProgress answer, then Succeeded
    azure.resources.resource_groups.begin_delete("skyaz-poll").result()  # type: ignore[attr-defined]


@pytest.mark.parametrize("code", ["AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest"])
def test_allocation_failures_in_the_operation(azure: AzureClients, azure_fake: AzureArmFake, code: str) -> None:
    nic = network(azure, "skyaz-alloc")
    arm(azure_fake, action="virtualMachines.createOrUpdate", code=code, match={"location": LOC}, times=1)
    with pytest.raises(HttpResponseError) as err:
        azure.compute.virtual_machines.begin_create_or_update("skyaz-alloc", "vm", vm_model(nic)).result()  # type: ignore[attr-defined]
    assert err.value.error.code == code
    assert "Allocation failed" in err.value.error.message
    # as on Azure, the failed VM stays behind (Failed) until someone deletes it
    assert azure.compute.virtual_machines.get("skyaz-alloc", "vm").provisioning_state == "Failed"  # type: ignore[attr-defined]
    azure.resources.resource_groups.begin_delete("skyaz-alloc").result()  # type: ignore[attr-defined]
    assert not azure_fake.resources


@pytest.mark.parametrize(("code", "exc", "status", "text"), [
    ("SkuNotAvailable", ResourceExistsError, 409, "not available in location"),
    ("OperationNotAllowed", ResourceExistsError, 409, "quota"),
    ("InvalidAuthenticationToken", ClientAuthenticationError, 401, "access token"),
    ("AuthorizationFailed", HttpResponseError, 403, "does not have authorization"),
    ("TooManyRequests", HttpResponseError, 429, "throttled"),
])
def test_synchronous_faults(azure: AzureClients, azure_fake: AzureArmFake, code: str, exc: type, status: int, text: str) -> None:
    nic = network(azure, "skyaz-sync")
    arm(azure_fake, action="virtualMachines.createOrUpdate", code=code, match={"vmSize": SIZE}, times=1)
    with pytest.raises(exc) as err:
        azure.compute.virtual_machines.begin_create_or_update("skyaz-sync", "vm", vm_model(nic))  # type: ignore[attr-defined]
    assert (err.value.error.code, err.value.status_code) == (code, status)
    assert text in err.value.error.message
    assert not any(k.endswith("/virtualmachines/vm") for k in azure_fake.resources), "nothing created"
    azure.resources.resource_groups.begin_delete("skyaz-sync").result()  # type: ignore[attr-defined]


def test_throttling_is_retried_by_the_sdk(azure_fake: AzureArmFake) -> None:
    patient = make_clients(azure_fake, retry_total=3)
    arm(azure_fake, action="virtualMachines.list", code="TooManyRequests", times=2)
    assert list(patient.compute.virtual_machines.list_all()) == []  # type: ignore[attr-defined]
    assert not azure_fake.faults.rules()


@pytest.mark.parametrize(("change", "exc", "code"), [
    ({"location": "marsnorth"}, HttpResponseError, "LocationNotAvailableForResourceType"),
    ({"size": "Standard_Nope_v9"}, HttpResponseError, "InvalidParameter"),
    ({"size": "Standard_NC16as_T4_v3", "location": "westcentralus"}, ResourceExistsError, "SkuNotAvailable"),
    ({"image": cm.ImageReference(publisher="Canonical", offer="nope", sku="x", version="latest")}, ResourceNotFoundError, "PlatformImageNotFound"),
])
def test_bad_input_creates_nothing(azure: AzureClients, azure_fake: AzureArmFake, change: dict[str, object], exc: type, code: str) -> None:
    nic = network(azure, "skyaz-bad")
    with pytest.raises(exc) as err:
        azure.compute.virtual_machines.begin_create_or_update("skyaz-bad", "vm", vm_model(nic, **change))  # type: ignore[arg-type,attr-defined]
    assert err.value.error.code == code
    assert not any(k.endswith("/virtualmachines/vm") for k in azure_fake.resources)
    azure.resources.resource_groups.begin_delete("skyaz-bad").result()  # type: ignore[attr-defined]


def test_missing_resource_group_and_spot_eviction(azure: AzureClients, azure_fake: AzureArmFake) -> None:
    with pytest.raises(ResourceNotFoundError) as err:
        azure.network.public_ip_addresses.begin_create_or_update("skyaz-none", "ip", nm.PublicIPAddress(location=LOC))  # type: ignore[attr-defined]
    assert err.value.error.code == "ResourceGroupNotFound"
    nic = network(azure, "skyaz-evict")
    azure.compute.virtual_machines.begin_create_or_update("skyaz-evict", "vm", vm_model(nic, spot=True)).result()  # type: ignore[attr-defined]
    azure_fake.evict("skyaz-evict", "vm", SUBSCRIPTION)
    with pytest.raises(ResourceNotFoundError):
        azure.compute.virtual_machines.get("skyaz-evict", "vm")  # type: ignore[attr-defined]
    azure.resources.resource_groups.begin_delete("skyaz-evict").result()  # type: ignore[attr-defined]


# -- failover classification of what the real SDK raised (jupyter_sky/infra/azure/errors.py) ------
@pytest.mark.parametrize(("code", "kind", "scope"), [
    ("AllocationFailed", "capacity", "region"),
    ("ZonalAllocationFailed", "capacity", "region"),
    ("SkuNotAvailable", "capacity", "region"),
    ("OperationNotAllowed", "quota", "region"),
    ("InvalidAuthenticationToken", "credential", "infra"),
    ("AuthorizationFailed", "credential", "infra"),
    ("TooManyRequests", "retry", "region"),
])
def test_failover_classification(azure: AzureClients, azure_fake: AzureArmFake, code: str, kind: str, scope: str) -> None:
    from jupyter_sky.infra.azure.errors import classify_exception

    nic = network(azure, "skyaz-class")
    arm(azure_fake, action="virtualMachines.createOrUpdate", code=code, times=1)
    with pytest.raises(HttpResponseError) as err:
        azure.compute.virtual_machines.begin_create_or_update("skyaz-class", "vm", vm_model(nic)).result()  # type: ignore[attr-defined]
    verdict = classify_exception(err.value, f"azure/{LOC} {SIZE}")
    assert (verdict.kind, verdict.scope, verdict.code) == (kind, scope, code)
    assert verdict.sentence.endswith(".") and "\n" not in verdict.sentence
    azure.resources.resource_groups.begin_delete("skyaz-class").result()  # type: ignore[attr-defined]
    assert not azure_fake.resources


def test_operation_not_allowed_without_quota_is_fatal() -> None:
    from jupyter_sky.infra.azure.errors import classify

    verdict = classify(["OperationNotAllowed"], "The operation is not allowed on a VM being deleted.", 409, "azure/eastus")
    assert verdict.kind == "fatal"


def test_bad_image_is_fatal_not_failover(azure: AzureClients) -> None:
    from jupyter_sky.infra.azure.errors import classify_exception

    nic = network(azure, "skyaz-fatal")
    bad = cm.ImageReference(publisher="Canonical", offer="nope", sku="x", version="latest")
    with pytest.raises(HttpResponseError) as err:
        azure.compute.virtual_machines.begin_create_or_update("skyaz-fatal", "vm", vm_model(nic, image=bad))  # type: ignore[attr-defined]
    verdict = classify_exception(err.value, f"azure/{LOC}")
    assert (verdict.kind, verdict.code) == ("fatal", "PlatformImageNotFound")
    azure.resources.resource_groups.begin_delete("skyaz-fatal").result()  # type: ignore[attr-defined]
