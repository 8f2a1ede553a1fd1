"""Create, deallocate, start and remove a cluster's Azure VM and its network, all or nothing.

One resource group per cluster and location (``jsky-<cluster>-<location>``) unless the config
names one; in it an NSG allowing SSH only from ``ssh_cidr``, a VNet/subnet, a Standard public IP,
a NIC and the VM with ``linux_configuration`` SSH keys (an NVIDIA-ready HPC image for GPU
sizes). Every resource is tagged ``jsky-cluster`` and ``jsky-user`` so :func:`orphans` finds them.
Spot is ``priority: Spot`` with eviction policy ``Delete``. A failed attempt removes what it
created (the whole group when it made the group) and raises :class:`AzureLaunchError` carrying
the failover verdict. The SDK is imported inside functions only.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.azure.errors import classify_exception
from jupyter_sky.infra.verdict import Verdict

GPU_IMAGE = ("microsoft-dsvm", "ubuntu-hpc", "2204")
CPU_IMAGE = ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2")


class AzureLaunchError(InfraError):
    """A launch attempt failed; ``verdict`` says whether to try another region or infra."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.sentence)
        self.verdict = verdict


@dataclass(frozen=True)
class AzurePlacement:
    location: str
    vm_size: str
    gpu: bool = False
    spot: bool = False

    @property
    def where(self) -> str:
        return f"azure/{self.location} {self.vm_size}"


@dataclass(frozen=True)
class AzureVmSpec:
    cluster: str
    user: str
    ssh_user: str
    public_key: str
    ssh_cidr: str
    resource_group: str | None = None
    disk_gb: int = 64
    image: tuple[str, str, str] | None = None  # (publisher, offer, sku); default by GPU or not


@dataclass(frozen=True)
class AzureVm:
    resource_group: str
    name: str
    location: str
    vm_id: str
    public_ip: str
    private_ip: str
    own_group: bool


def resource_name(cluster: str) -> str:
    tail = re.sub(r"[^a-z0-9-]+", "-", cluster.lower()).strip("-")[:40] or "cluster"
    return f"jsky-{tail}"


class AzureApi:
    """The ARM clients of one subscription (credential and endpoint overridable for tests)."""

    def __init__(self, subscription: str, credential: Any = None, **client_kwargs: Any) -> None:
        from azure.mgmt.compute import ComputeManagementClient
        from azure.mgmt.network import NetworkManagementClient
        from azure.mgmt.resource.resources import ResourceManagementClient

        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self.compute = ComputeManagementClient(credential, subscription, **client_kwargs)
        self.network = NetworkManagementClient(credential, subscription, **client_kwargs)
        self.resources = ResourceManagementClient(credential, subscription, **client_kwargs)


def _tags(spec: AzureVmSpec) -> dict[str, str]:
    return {"jsky-cluster": spec.cluster, "jsky-user": spec.user.lower()}


# The TypeSpec models accept their flattened ``properties`` as keywords at run time (the hybrid
# model maps them), but their typed overloads only declare ``properties=``: hence the ignores.
def _network(api: AzureApi, rg: str, name: str, place: AzurePlacement, spec: AzureVmSpec) -> tuple[str, str]:
    """NSG, VNet/subnet, public IP and NIC; return (NIC id, public IP address)."""
    from azure.mgmt.network import models as nm

    loc, tags = place.location, _tags(spec)
    rule = nm.SecurityRule(name="ssh", protocol="Tcp", access="Allow", direction="Inbound", priority=100,  # type: ignore[call-overload]
                           source_address_prefix=spec.ssh_cidr, source_port_range="*",
                           destination_address_prefix="*", destination_port_range="22")
    nsg = api.network.network_security_groups.begin_create_or_update(
        rg, f"{name}-nsg", nm.NetworkSecurityGroup(location=loc, tags=tags, security_rules=[rule])).result()  # type: ignore[call-overload]
    subnet = nm.Subnet(name="default", address_prefix="10.0.0.0/24", network_security_group=nm.NetworkSecurityGroup(id=nsg.id))  # type: ignore[call-overload]
    vnet = api.network.virtual_networks.begin_create_or_update(rg, f"{name}-vnet", nm.VirtualNetwork(  # type: ignore[call-overload]
        location=loc, tags=tags, address_space=nm.AddressSpace(address_prefixes=["10.0.0.0/16"]), subnets=[subnet])).result()
    pip = api.network.public_ip_addresses.begin_create_or_update(rg, f"{name}-ip", nm.PublicIPAddress(  # type: ignore[call-overload]
        location=loc, tags=tags, sku=nm.PublicIPAddressSku(name="Standard"), public_ip_allocation_method="Static")).result()
    config = nm.NetworkInterfaceIPConfiguration(name="ipconfig1", subnet=nm.Subnet(id=vnet.subnets[0].id),  # type: ignore[call-overload]
                                                public_ip_address=nm.PublicIPAddress(id=pip.id))
    nic = api.network.network_interfaces.begin_create_or_update(
        rg, f"{name}-nic", nm.NetworkInterface(location=loc, tags=tags, ip_configurations=[config])).result()  # type: ignore[call-overload]
    return str(nic.id), str(pip.ip_address or "")


def vm_body(place: AzurePlacement, spec: AzureVmSpec, nic_id: str) -> Any:
    from azure.mgmt.compute import models as cm

    publisher, offer, sku = spec.image or (GPU_IMAGE if place.gpu else CPU_IMAGE)
    key = cm.SshPublicKey(path=f"/home/{spec.ssh_user}/.ssh/authorized_keys", key_data=spec.public_key.strip())
    vm = cm.VirtualMachine(  # type: ignore[call-overload]
        location=place.location, tags=_tags(spec), hardware_profile=cm.HardwareProfile(vm_size=place.vm_size),
        storage_profile=cm.StorageProfile(image_reference=cm.ImageReference(publisher=publisher, offer=offer, sku=sku, version="latest"),
                                          os_disk=cm.OSDisk(create_option="FromImage", delete_option="Delete", disk_size_gb=spec.disk_gb)),
        os_profile=cm.OSProfile(computer_name=resource_name(spec.cluster)[:15], admin_username=spec.ssh_user,
                                linux_configuration=cm.LinuxConfiguration(disable_password_authentication=True,
                                                                          ssh=cm.SshConfiguration(public_keys=[key]))),
        network_profile=cm.NetworkProfile(network_interfaces=[cm.NetworkInterfaceReference(id=nic_id, primary=True)]),  # type: ignore[call-overload]
    )
    if place.spot:
        vm.priority, vm.eviction_policy = "Spot", "Delete"
        vm.billing_profile = cm.BillingProfile(max_price=-1)
    return vm


def provision(api: AzureApi, place: AzurePlacement, spec: AzureVmSpec) -> AzureVm:
    """Create group (unless configured), network and VM; on any failure remove what this attempt made."""
    from azure.core.exceptions import AzureError

    name = resource_name(spec.cluster)
    rg = spec.resource_group or f"{name}-{place.location}"
    own = spec.resource_group is None
    try:
        if own:
            api.resources.resource_groups.create_or_update(rg, {"location": place.location, "tags": _tags(spec)})
        nic_id, public_ip = _network(api, rg, name, place, spec)
        vm = api.compute.virtual_machines.begin_create_or_update(rg, name, vm_body(place, spec, nic_id)).result()
        nic = api.network.network_interfaces.get(rg, f"{name}-nic")
    except AzureError as exc:
        remove(api, AzureVm(rg, name, place.location, "", "", "", own))
        raise AzureLaunchError(classify_exception(exc, place.where)) from exc
    private = str(nic.ip_configurations[0].private_ip_address or "")
    return AzureVm(rg, name, place.location, str(vm.vm_id), public_ip or private, private, own)


def remove(api: AzureApi, vm: AzureVm) -> None:
    """Delete the cluster's group (if it made it) or its VM and network one by one; idempotent."""
    from azure.core.exceptions import ResourceNotFoundError

    if vm.own_group:
        with contextlib.suppress(ResourceNotFoundError):
            api.resources.resource_groups.begin_delete(vm.resource_group).result()
        return
    rg, name = vm.resource_group, vm.name
    steps = [
        lambda: api.compute.virtual_machines.begin_delete(rg, name),
        lambda: api.network.network_interfaces.begin_delete(rg, f"{name}-nic"),
        lambda: api.network.public_ip_addresses.begin_delete(rg, f"{name}-ip"),
        lambda: api.network.virtual_networks.begin_delete(rg, f"{name}-vnet"),
        lambda: api.network.network_security_groups.begin_delete(rg, f"{name}-nsg"),
    ]
    for step in steps:
        with contextlib.suppress(ResourceNotFoundError):
            step().result()  # type: ignore[no-untyped-call]


def power(api: AzureApi, rg: str, name: str, on: bool) -> None:
    """Deallocate (disks kept, no compute billing) or start the VM."""
    vms = api.compute.virtual_machines
    (vms.begin_start if on else vms.begin_deallocate)(rg, name).result()


def status(api: AzureApi, rg: str, name: str) -> str:
    """The VM's power state (``running``, ``deallocated``...), ``failed``, or ``GONE``."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        view = api.compute.virtual_machines.instance_view(rg, name)
    except ResourceNotFoundError:
        return "GONE"
    codes = [str(s.code) for s in view.statuses or []]
    if "ProvisioningState/failed" in codes:
        return "failed"
    return next((c.split("/", 1)[1] for c in codes if c.startswith("PowerState/")), "unknown")


def orphans(api: AzureApi, user: str) -> list[tuple[str, str, str]]:
    """(cluster, location, resource id) of every VM tagged for ``user`` in the subscription."""
    found = api.resources.resources.list(filter=f"tagName eq 'jsky-user' and tagValue eq '{user.lower()}'")
    return [(str((r.tags or {}).get("jsky-cluster", "")), str(r.location), str(r.id))
            for r in found if str(r.type).lower() == "microsoft.compute/virtualmachines"]
