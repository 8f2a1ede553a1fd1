"""The ``azure`` infra: a cell's kernel on an Azure VM (``--infra azure[/<region>]``).

azure-identity and azure-mgmt-* (extra ``azure``) are imported only inside functions. A launch
is one all-or-nothing attempt at the placement failover gives it (:mod:`.launch`: a resource
group per cluster or the configured one, an NSG allowing SSH from this machine only, VNet,
public IP, NIC, the VM with the user's key in ``linux_configuration``, SSH answering); then the
``ssh`` infra starts the kernel on the VM's 127.0.0.1. Beside the kernel a watcher deallocates
the VM through its managed identity (else shuts it down) once the idle or autostop watchdog
ended the kernel with the notebook gone. Failover moves region to region (Azure's capacity
errors are regional).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jupyter_sky.config import sky_home
from jupyter_sky.errors import InfraError, SpecError
from jupyter_sky.infra.azure.config import AzureConfig
from jupyter_sky.infra.base import (
    ClusterStatus,
    CredentialError,
    Handle,
    InfraFlag,
    InfraPath,
    Launch,
    Orphan,
    State,
)
from jupyter_sky.infra.vm_access import DISK_SIZE, cloud_user, section_here
from jupyter_sky.infra.vm_kernel import VmHandle, VmOverSsh, selfstop_script, wait_ssh

if TYPE_CHECKING:
    from jupyter_sky.infra.azure import provision as ap
    from jupyter_sky.infra.ssh import SshHandle

REGION = re.compile(r"[a-z]+[a-z0-9]*")


@dataclass
class AzureHandle(VmHandle):
    """An Azure VM of one cluster and the kernel on it (``ssh``: the ssh infra's handle)."""

    cluster: str
    user: str
    subscription: str
    resource_group: str
    name: str
    location: str
    vm_id: str
    vm_size: str
    address: str
    login: str
    key: str
    known_hosts: str
    own_group: bool = True
    spot: bool = False
    ssh: dict[str, object] = field(default_factory=dict)

    @property
    def ssh_name(self) -> str:
        return f"azure-{self.vm_id}"

    @property
    def vm(self) -> ap.AzureVm:
        from jupyter_sky.infra.azure import provision as ap

        return ap.AzureVm(self.resource_group, self.name, self.location, self.vm_id, self.address, "", self.own_group)

    @property
    def arm_path(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Compute/virtualMachines/{self.name}")  # fmt: skip


class AzureInfra(VmOverSsh[AzureHandle]):
    """Azure VMs, one per cluster; priced from the catalog, launched through failover."""

    kind: ClassVar[str] = "azure"
    extra: ClassVar[str] = "azure"
    catalog: ClassVar[str | None] = "azure"
    egress_per_gb: ClassVar[float] = 0.0875
    handle_type: ClassVar[type[Handle]] = AzureHandle
    config_section: ClassVar[type | None] = AzureConfig
    path_shape: ClassVar[str] = "azure[/<region>]"
    sdk_modules: ClassVar[tuple[str, ...]] = ("azure.mgmt.compute", "azure.identity")
    flags: ClassVar[tuple[InfraFlag, ...]] = (DISK_SIZE,)

    # ---- what it is --------------------------------------------------------------------
    @classmethod
    def parse_path(cls, rest: str) -> InfraPath:
        parts = rest.lower().split("/") if rest else []
        if not parts:
            return InfraPath("azure")
        if len(parts) > 1 or not REGION.fullmatch(parts[0]):
            raise SpecError(f"must be azure or azure/<region> (Azure VMs have no zone here), not 'azure/{rest}'.")
        region = parts[0]
        known = _catalog_regions()
        if known is not None and region not in known:
            some = ", ".join(sorted(known)[:3])
            raise SpecError(f"names unknown Azure region {region!r} (regions are such as {some}).")
        return InfraPath(f"azure/{region}", region=region)

    @classmethod
    def credentials(cls) -> str:
        from jupyter_sky.infra.azure.credentials import problem

        return problem(_config().subscription_id)

    def check(self) -> str:
        return self.credentials()

    # ---- lifecycle ------------------------------------------------------------------------
    def launch(self, request: Launch) -> AzureHandle:
        from jupyter_sky.infra.azure import launch as al
        from jupyter_sky.infra.azure import provision as ap
        from jupyter_sky.infra.azure.credentials import subscription
        from jupyter_sky.infra.vm_access import forget_host, user_key

        offering = request.offering
        if offering is None or offering.infra != "azure" or not offering.instance_type:
            raise InfraError("an Azure launch needs a placement (a VM size in a region) from the plan.")
        cfg = request.config.of(AzureConfig)
        sub = subscription(cfg.subscription_id)
        if not sub:
            raise CredentialError("no Azure subscription: set AZURE_SUBSCRIPTION_ID, `azure: subscription_id:` in the config, or `az account set`.")
        _check_size(offering.region, offering.instance_type)
        spot = request.spot or request.task.resources.spot
        place = ap.AzurePlacement(offering.region, offering.instance_type, bool(offering.accelerator), spot)
        key, public = user_key("azure", cloud_user())
        spec = ap.AzureVmSpec(request.cluster, cloud_user(), cfg.ssh_user, public, cfg.ssh_cidr or _public_cidr(),
                              cfg.resource_group, int(request.task.infra_options.get("disk_size") or cfg.disk_size),
                              _image(cfg.image))  # fmt: skip
        request.notify(f"azure: starting {place.where}{' (spot)' if spot else ''}")
        with al.azure_calls(place.where):
            got = al.attempt(al.api(sub, cfg), place, spec, cfg.ssh_timeout, request.cancelled)
        known = sky_home() / "azure_known_hosts"
        forget_host(known, got.address)  # a new VM: trust on first use, pinned from then on
        vm = got.vm
        handle = AzureHandle(request.cluster, cloud_user(), sub, vm.resource_group, vm.name, vm.location, vm.vm_id,
                             offering.instance_type, got.address, cfg.ssh_user, str(key), str(known), vm.own_group, spot)  # fmt: skip
        try:
            return self._start_kernel(handle, request)
        except BaseException:
            with contextlib.suppress(Exception):  # the kernel's error matters; status lists leftovers
                self._release(handle)
            raise

    def _watcher(self, handle: AzureHandle, kernel: SshHandle, request: Launch) -> str:
        env = request.config.of(AzureConfig).autostop_env
        return selfstop_script(kernel, "jupyter_sky.infra.azure.selfstop", ["--vm", handle.arm_path], env)

    def stop(self, handle: AzureHandle) -> None:
        """Deallocate the VM: its disk and address are kept, compute billing stops."""
        from jupyter_sky.infra.azure import launch as al
        from jupyter_sky.infra.azure import provision as ap

        if handle.spot:
            raise InfraError("a spot VM cannot be stopped and kept; use %sky down to end it.")
        self._end_kernel(handle)
        with al.azure_calls(self.where(handle)):
            ap.power(self._api(handle), handle.resource_group, handle.name, on=False)

    def start(self, handle: AzureHandle, request: Launch) -> AzureHandle:
        """Start the deallocated VM again (its static public IP is kept) and a kernel on it."""
        import time

        from jupyter_sky.infra.azure import launch as al
        from jupyter_sky.infra.azure import provision as ap
        from jupyter_sky.infra.vm_access import forget_host

        cfg = request.config.of(AzureConfig)
        request.notify(f"azure: starting the stopped {self.where(handle)}")
        with al.azure_calls(self.where(handle)):
            ap.power(self._api(handle), handle.resource_group, handle.name, on=True)
        wait_ssh(handle.address, time.monotonic() + cfg.ssh_timeout, request.cancelled, f"%sky down {handle.cluster} ends the VM")
        forget_host(Path(handle.known_hosts), handle.address)  # as AWS and GCP do after a start
        self._ssh.pop((handle.ssh_name, handle.address), None)
        return self._start_kernel(dataclasses.replace(handle, ssh={}), request)

    def _release(self, handle: AzureHandle) -> None:
        from jupyter_sky.infra.azure import launch as al
        from jupyter_sky.infra.azure import provision as ap

        with al.azure_calls(self.where(handle)):
            ap.remove(self._api(handle), handle.vm)

    def _vm_running(self, handle: AzureHandle) -> bool:
        from jupyter_sky.infra.azure import launch as al
        from jupyter_sky.infra.azure import provision as ap

        try:
            with al.azure_calls(self.where(handle)):
                return ap.status(self._api(handle), handle.resource_group, handle.name) == "running"
        except Exception:  # noqa: BLE001 - cannot tell: stop its kernel as usual
            return True

    def _api(self, handle: AzureHandle) -> ap.AzureApi:
        from jupyter_sky.infra.azure import launch as al

        return al.api(handle.subscription, _config())

    # ---- what became of it -------------------------------------------------------------------
    def status(self, handle: AzureHandle) -> ClusterStatus:
        from jupyter_sky.infra.azure import launch as al
        from jupyter_sky.infra.azure import provision as ap

        with al.azure_calls(self.where(handle)):
            state = ap.status(self._api(handle), handle.resource_group, handle.name)
        if state == "GONE":
            if handle.spot:
                return ClusterStatus(State.PREEMPTED, f"Azure evicted and deleted the spot VM {handle.name}.")
            return ClusterStatus(State.GONE, f"the VM {handle.name} no longer exists.")
        if state in ("deallocated", "deallocating", "stopped", "stopping"):
            return ClusterStatus(State.STOPPED, f"the VM {handle.name} is {state}.")
        if self.is_alive(handle):
            return ClusterStatus(State.UP)
        return ClusterStatus(State.GONE, f"the VM {handle.name} is {state} but its kernel is not running.")

    def where(self, handle: AzureHandle) -> str:
        return f"azure/{handle.location} {handle.name} ({handle.vm_size})"

    def orphans(self) -> list[Orphan]:
        """Every VM tagged with this user's name in the subscription."""
        from jupyter_sky.infra.azure import launch as al
        from jupyter_sky.infra.azure import provision as ap
        from jupyter_sky.infra.azure.credentials import subscription

        cfg = _config()
        sub = subscription(cfg.subscription_id)
        if not sub:
            return []
        with al.azure_calls("azure (every region)"):
            rows = ap.orphans(al.api(sub, cfg), cloud_user())

        def downer(resource_id: str, location: str) -> Any:
            group = resource_id.split("/")[4]
            vm = ap.AzureVm(group, resource_id.rsplit("/", 1)[-1], location, "", "", "", cfg.resource_group is None)
            return lambda: ap.remove(al.api(sub, cfg), vm)

        return [Orphan("azure", cluster, f"azure/{location} {rid.rsplit('/', 1)[-1]}", "tagged", downer(rid, location))
                for cluster, location, rid in rows]  # fmt: skip


def _config() -> AzureConfig:
    return section_here(AzureConfig)


def _public_cidr() -> str:
    from jupyter_sky.infra.vm_access import public_cidr

    return public_cidr("azure.ssh_cidr")


def _image(urn: str | None) -> tuple[str, str, str] | None:
    if not urn:
        return None
    publisher, offer, sku = urn.split(":")
    return publisher, offer, sku


def _offers() -> list[tuple[str, str]] | None:
    try:
        from jupyter_sky.catalog.offers import load_offers

        return [(o.region, o.instance_type) for o in load_offers() if o.infra == "azure"]
    except Exception:  # noqa: BLE001 - no catalog: the shape check alone
        return None


def _catalog_regions() -> set[str] | None:
    rows = _offers()
    return None if rows is None else {region for region, _ in rows}


def _check_size(region: str, size: str) -> None:
    """A VM size the catalog does not sell in ``region`` is one sentence before anything is made."""
    rows = _offers()
    if rows is None or (region, size) in rows:
        return
    where = sorted({r for r, s in rows if s == size})
    hint = f"it is sold in {', '.join(where[:4])}" if where else "the catalog has no such size"
    raise InfraError(f"the VM size {size} is not offered in azure/{region} ({hint}); choose another size or region.")
