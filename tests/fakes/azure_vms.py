"""The virtual-machine routes of the simulated ARM (see :mod:`fakes.azure_arm`; a simulation).

Each route follows the Virtual Machines REST reference cited in its docstring; bodies are read
and written with ``azure.mgmt.compute.models``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from azure.mgmt.compute import models as cm

from fakes.azure_world import IMAGES, arm_error, no_group, not_found
from fakes.base import Request, Response

if TYPE_CHECKING:
    from fakes.azure_arm import AzureArmFake

POWER = {"powerOff": "stopped", "deallocate": "deallocated", "start": "running"}


def vm_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"


class VmRoutes:
    """Mixed into :class:`fakes.azure_arm.AzureArmFake`."""

    def vm_put(self: AzureArmFake, req: Request, sub: str, rg: str, name: str) -> Response:
        """Virtual Machines - Create Or Update: https://learn.microsoft.com/rest/api/compute/virtual-machines/create-or-update"""
        vm = cm.VirtualMachine(req.body or {})
        size = str(vm.hardware_profile.vm_size if vm.hardware_profile else "")
        facts = {"subscription": sub, "resourceGroup": rg, "name": name, "location": str(vm.location),
                 "vmSize": size, "priority": str(vm.priority or "Regular"), "zone": ",".join(vm.zones or [])}
        fault = self._fault("virtualMachines.createOrUpdate", facts)
        if isinstance(fault, Response):
            return fault
        if rg.lower() not in self.groups:
            return no_group(rg)
        problem = self._check_vm(vm, size)
        if problem is not None:
            return problem
        vm.id, vm.name, vm.type = vm_id(sub, rg, name), name, "Microsoft.Compute/virtualMachines"
        vm.provisioning_state, vm.vm_id = "Creating", f"5a1e0000-0000-4000-8000-{next(self._ids):012x}"
        return self._put(req, sub, vm, with_location=False, error=fault)

    def _check_vm(self: AzureArmFake, vm: cm.VirtualMachine, size: str) -> Response | None:
        loc = str(vm.location)
        if loc not in self.world.sizes:
            return arm_error(400, "LocationNotAvailableForResourceType", f"The provided location '{loc}' is not available for resource type 'Microsoft.Compute/virtualMachines'.")
        if size not in self.world.all_sizes():
            return arm_error(400, "InvalidParameter", f"The value {size} provided for the VM size is not valid.", "vmSize")
        if size not in self.world.sizes[loc]:
            return arm_error(409, "SkuNotAvailable", f"The requested VM size {size} is not available in location '{loc}'.", "sku.name")
        ref = vm.storage_profile.image_reference if vm.storage_profile else None
        if ref is None or (ref.publisher, ref.offer, ref.sku) not in IMAGES:
            urn = f"{ref.publisher}:{ref.offer}:{ref.sku}:{ref.version}" if ref else "none"
            return arm_error(404, "PlatformImageNotFound", f"The platform image '{urn}' is not available. Verify that all fields in the storage profile are correct.")
        for nic in (vm.network_profile.network_interfaces if vm.network_profile else None) or []:
            if str(nic.id).lower() not in self.resources:
                return arm_error(400, "InvalidResourceReference", f"Resource {nic.id} referenced by resource {vm.name} was not found.")
        if vm.priority == "Spot" and not vm.eviction_policy:
            return arm_error(400, "InvalidParameter", "Eviction policy is required for Spot priority virtual machines.", "evictionPolicy")
        linux = vm.os_profile.linux_configuration if vm.os_profile else None
        if linux is None or linux.ssh is None or not linux.ssh.public_keys:
            return arm_error(400, "InvalidParameter", "Authentication using either SSH or by user name and password must be enabled in Linux profile.", "linuxConfiguration")
        return None

    def vm_get(self: AzureArmFake, req: Request, sub: str, rg: str, name: str) -> Response:
        """Virtual Machines - Get ($expand=instanceView): https://learn.microsoft.com/rest/api/compute/virtual-machines/get"""
        fault = self._fault("virtualMachines.get", {"subscription": sub, "resourceGroup": rg, "name": name})
        if isinstance(fault, Response):
            return fault
        stored = self.resources.get(req.path.lower())
        if stored is None:
            return not_found(req.path)
        body = stored.model.as_dict()  # type: ignore[attr-defined]
        if req.query.get("$expand", "").lower() == "instanceview":
            body.setdefault("properties", {})["instanceView"] = self._view(req.path).as_dict()
        return Response(200, body)

    def _view(self: AzureArmFake, path: str) -> cm.VirtualMachineInstanceView:
        stored = self.resources[path.lower().removesuffix("/instanceview")]
        state = str(stored.model.provisioning_state)  # type: ignore[attr-defined]
        statuses = [cm.InstanceViewStatus(code=f"ProvisioningState/{state.lower()}", level="Info", display_status=f"Provisioning {state.lower()}")]
        if state != "Creating":
            statuses.append(cm.InstanceViewStatus(code=f"PowerState/{stored.power}", level="Info", display_status=f"VM {stored.power}"))
        return cm.VirtualMachineInstanceView(statuses=statuses)

    def vm_instance_view(self: AzureArmFake, req: Request, sub: str, rg: str, name: str) -> Response:
        """Virtual Machines - Instance View: https://learn.microsoft.com/rest/api/compute/virtual-machines/instance-view"""
        if vm_id(sub, rg, name).lower() not in self.resources:
            return not_found(vm_id(sub, rg, name))
        return Response(200, self._view(vm_id(sub, rg, name)).as_dict())

    def vm_action(self: AzureArmFake, req: Request, sub: str, rg: str, name: str, verb: str) -> Response:
        """Virtual Machines - Power Off / Deallocate / Start:
        https://learn.microsoft.com/rest/api/compute/virtual-machines/deallocate (and power-off, start)"""
        fault = self._fault(f"virtualMachines.{verb}", {"subscription": sub, "resourceGroup": rg, "name": name})
        if isinstance(fault, Response):
            return fault
        stored = self.resources.get(vm_id(sub, rg, name).lower())
        if stored is None:
            return not_found(vm_id(sub, rg, name))
        final = POWER[next(k for k in POWER if k.lower() == verb.lower())]
        stored.power = {"stopped": "stopping", "deallocated": "deallocating", "running": "starting"}[final]

        def effect() -> None:
            stored.power = final

        op_id = self._new_op(effect, fault if isinstance(fault, dict) else None)
        return Response(202, None, self._async_headers(req, sub, str(stored.model.location), op_id, with_location=True))  # type: ignore[attr-defined]

    def vm_list_all(self: AzureArmFake, req: Request, sub: str, rg: str | None = None) -> Response:
        """Virtual Machines - List All / List: https://learn.microsoft.com/rest/api/compute/virtual-machines/list-all"""
        fault = self._fault("virtualMachines.list", {"subscription": sub, "resourceGroup": rg or ""})
        if isinstance(fault, Response):
            return fault
        prefix = f"/subscriptions/{sub}/resourcegroups/{rg}/".lower() if rg else f"/subscriptions/{sub}/".lower()
        vms = [s.model.as_dict() for k, s in self.resources.items()  # type: ignore[attr-defined]
               if isinstance(s.model, cm.VirtualMachine) and k.startswith(prefix)]
        return Response(200, {"value": vms})
