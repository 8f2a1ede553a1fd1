"""A simulated Azure Resource Manager (compute, network, resources) on 127.0.0.1 over HTTPS.

This is a simulation, not Azure: no ARM emulator serves Microsoft.Compute, so the tests point the
real ``azure-mgmt-compute/-network/-resource`` clients at this server (``base_url``, a test
credential, ``connection_verify=<the fake's CA>``; see :func:`fakes.azure_world.tls_context`).
Bodies are parsed and built with the SDKs' own models (``VirtualMachine(body)``, ``.as_dict()``).
Long-running operations follow the ARM async protocol
(https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations):
PUT answers 201 with ``Azure-AsyncOperation`` and ``Retry-After: 0``, POST/DELETE answer 202,
resource-group DELETE answers 202 with ``Location``; an operation advances one step per poll
(``op_polls`` InProgress answers, then Succeeded or Failed). Fault rules (:mod:`fakes.base`)
inject AllocationFailed/ZonalAllocationFailed (in the operation, leaving a Failed VM as Azure
does), SkuNotAvailable and OperationNotAllowed quota (sync 409), auth failures and 429 throttling.

Routes (case-insensitive, base ``/subscriptions/{sub}``), each after the REST reference page in
its docstring. Private addresses come from 10.213.192.0/19, public IPs from 10.213.224.0/19.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from azure.mgmt.compute import models as cm
from azure.mgmt.network import models as nm
from azure.mgmt.resource.resources import models as rm

from fakes.azure_vms import VmRoutes, vm_id
from fakes.azure_world import AzureWorld, arm_error, fault_error, no_group, not_found, tls_context
from fakes.base import AddressPool, FakeServer, Json, Request, Response, RunningInstance

S = r"/subscriptions/(?P<sub>[^/]+)"
RG = S + r"/resourceGroups/(?P<rg>[^/]+)"
NET_TYPES = {
    "virtualnetworks": ("virtualNetworks", nm.VirtualNetwork),
    "networksecuritygroups": ("networkSecurityGroups", nm.NetworkSecurityGroup),
    "publicipaddresses": ("publicIPAddresses", nm.PublicIPAddress),
    "networkinterfaces": ("networkInterfaces", nm.NetworkInterface),
}


@dataclass
class _Op:
    polls_left: int
    effect: Callable[[], None]
    error: Json | None = None
    done: bool = False


@dataclass
class _Stored:
    model: object  # an azure-mgmt hybrid model with .as_dict()
    power: str = "running"
    extra: dict[str, str] = field(default_factory=dict)


class AzureArmFake(VmRoutes):
    """The simulated ARM: resource groups, network resources, VMs, async operations, faults."""

    def __init__(self, world: AzureWorld | None = None, op_polls: int = 1, tls_hosts: tuple[str, ...] = ()) -> None:
        self.world = world or AzureWorld.from_catalog()
        self.op_polls = op_polls
        self.groups: dict[str, rm.ResourceGroup] = {}
        self.resources: dict[str, _Stored] = {}  # lower-cased id -> resource
        self._ops: dict[str, _Op] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._private = AddressPool("10.213.192.0/19")
        self._public = AddressPool("10.213.224.0/19")
        tls, self.ca_pem = tls_context(*tls_hosts)
        self.server = FakeServer(self._routes(), tls=tls)
        self.faults = self.server.faults

    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def _routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        net = RG + r"/providers/Microsoft\.Network/(?P<kind>virtualNetworks|networkSecurityGroups|publicIPAddresses|networkInterfaces)/(?P<name>[^/]+)"
        vm = RG + r"/providers/Microsoft\.Compute/virtualMachines/(?P<name>[^/]+)"
        return [
            ("PUT", S + r"/resourcegroups/(?P<rg>[^/]+)", self.group_put),
            ("GET", S + r"/resourcegroups/(?P<rg>[^/]+)", self.group_get),
            ("DELETE", S + r"/resourcegroups/(?P<rg>[^/]+)", self.group_delete),
            ("GET", S + r"/resourcegroups", self.group_list),
            ("PUT", net, self.put_network),
            ("GET", net, self.get_resource),
            ("DELETE", net, self.delete_resource),
            ("GET", RG + r"/providers/Microsoft\.Network/virtualNetworks/(?P<vnet>[^/]+)/subnets/(?P<name>[^/]+)", self.subnet_get),
            ("PUT", vm, self.vm_put),
            ("GET", vm, self.vm_get),
            ("DELETE", vm, self.delete_resource),
            ("POST", vm + r"/(?P<verb>powerOff|deallocate|start)", self.vm_action),
            ("GET", vm + r"/instanceView", self.vm_instance_view),
            ("GET", S + r"/providers/Microsoft\.Compute/virtualMachines", self.vm_list_all),
            ("GET", RG + r"/providers/Microsoft\.Compute/virtualMachines", self.vm_list_all),
            ("GET", S + r"/resources", self.resources_list),
            ("GET", S + r"/providers/(?P<ns>[^/]+)/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)", self.op_status),
            ("GET", S + r"/operationresults/(?P<op>[^/]+)", self.op_result),
        ]

    # -- the booter's view and simulated events -------------------------------------------
    def running_instances(self) -> list[RunningInstance]:
        """Every running, provisioned VM with its addresses and linux_configuration SSH keys."""
        with self._lock:
            vms = [s for s in self.resources.values() if isinstance(s.model, cm.VirtualMachine)]
            return [self._running(s.model) for s in vms
                    if s.power == "running" and s.model.provisioning_state == "Succeeded"]

    def evict(self, rg: str, name: str, sub: str) -> None:
        """Simulate a Spot eviction: policy Delete removes the VM, Deallocate deallocates it."""
        key = vm_id(sub, rg, name).lower()
        with self._lock:
            stored = self.resources[key]
            if getattr(stored.model, "eviction_policy", None) == "Delete":
                del self.resources[key]
            else:
                stored.power = "deallocated"

    def _running(self, vm: cm.VirtualMachine) -> RunningInstance:
        private = public = ""
        for ref in vm.network_profile.network_interfaces or []:
            nic = self.resources.get(str(ref.id).lower())
            if nic is None:
                continue
            conf = nic.model.ip_configurations[0]  # type: ignore[attr-defined]
            private = conf.private_ip_address or ""
            pip = self.resources.get(str(conf.public_ip_address.id).lower()) if conf.public_ip_address else None
            public = pip.model.ip_address if pip else ""  # type: ignore[attr-defined]
        keys = vm.os_profile.linux_configuration.ssh.public_keys or []
        return RunningInstance(
            id=str(vm.vm_id), name=str(vm.name), location=str(vm.location), private_ip=private,
            public_ip=public or private, ssh_user=str(vm.os_profile.admin_username),
            authorized_keys=tuple(str(k.key_data) for k in keys), labels=dict(vm.tags or {}),
        )

    # -- faults and async operations ------------------------------------------------------
    def _fault(self, action: str, facts: dict[str, str]) -> Response | Json | None:
        rule = self.faults.take(action, facts)
        if rule is None:
            return None
        status, code, message = fault_error(rule.code, facts, rule.message)
        if status == 200:  # fails inside the async operation
            return {"code": code, "message": message}
        resp = arm_error(status, code, message)
        if status == 429:
            resp.headers["Retry-After"] = "0"
        return resp

    def _new_op(self, effect: Callable[[], None], error: Json | None = None) -> str:
        op_id = f"{next(self._ids):08x}-sim0-4000-8000-azurearmfake"
        with self._lock:
            self._ops[op_id] = _Op(self.op_polls, effect, error)
        return op_id

    def _async_headers(self, req: Request, sub: str, location: str, op_id: str, with_location: bool) -> dict[str, str]:
        ns = "Microsoft.Compute"
        headers = {
            "Azure-AsyncOperation": f"{req.base_url}/subscriptions/{sub}/providers/{ns}/locations/{location}/operations/{op_id}?api-version=2024-07-01",
            "Retry-After": "0",
        }
        if with_location:
            headers["Location"] = f"{req.base_url}/subscriptions/{sub}/operationresults/{op_id}?api-version=2024-07-01"
        return headers

    def _step(self, op_id: str) -> _Op | None:
        with self._lock:
            op = self._ops.get(op_id)
            if op is None or op.done:
                return op
            if op.polls_left > 0:
                op.polls_left -= 1
                return op
            op.done = True
            op.effect()
            return op

    def op_status(self, req: Request, sub: str, ns: str, loc: str, op: str) -> Response:
        """Azure-AsyncOperation status: https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations#azure-asyncoperation-request-and-response"""
        found = self._step(op)
        if found is None:
            return arm_error(404, "NotFound", f"operation {op} not found")
        if not found.done:
            return Response(200, {"status": "InProgress"}, {"Retry-After": "0"})
        if found.error:
            return Response(200, {"status": "Failed", "error": found.error})
        return Response(200, {"status": "Succeeded"})

    def op_result(self, req: Request, sub: str, op: str) -> Response:
        """Location polling: https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations#location-request-and-response"""
        found = self._ops.get(op) if op in self._ops and self._ops[op].done else self._step(op)
        if found is None:
            return arm_error(404, "NotFound", f"operation {op} not found")
        return Response(200) if found.done else Response(202, None, {"Retry-After": "0", "Location": req.base_url + req.path + "?api-version=2024-07-01"})

    # -- resource groups -------------------------------------------------------------------
    def group_put(self, req: Request, sub: str, rg: str) -> Response:
        """Resource Groups - Create Or Update: https://learn.microsoft.com/rest/api/resources/resource-groups/create-or-update"""
        fault = self._fault("resourceGroups.createOrUpdate", {"subscription": sub, "resourceGroup": rg})
        if isinstance(fault, Response):
            return fault
        group = rm.ResourceGroup(req.body or {})
        if group.location not in self.world.sizes:
            return arm_error(400, "LocationNotAvailableForResourceGroup", f"The provided location '{group.location}' is not available for resource group.")
        group.id, group.name = f"/subscriptions/{sub}/resourceGroups/{rg}", rg
        group.properties = rm.ResourceGroupProperties(provisioning_state="Succeeded")
        existed = rg.lower() in self.groups
        self.groups[rg.lower()] = group
        return Response(200 if existed else 201, group.as_dict())

    def group_get(self, req: Request, sub: str, rg: str) -> Response:
        """Resource Groups - Get: https://learn.microsoft.com/rest/api/resources/resource-groups/get"""
        group = self.groups.get(rg.lower())
        return Response(200, group.as_dict()) if group else no_group(rg)

    def group_list(self, req: Request, sub: str) -> Response:
        """Resource Groups - List (tag $filter): https://learn.microsoft.com/rest/api/resources/resource-groups/list"""
        tags = _tag_filter(req.query.get("$filter", ""))
        return Response(200, {"value": [g.as_dict() for g in self.groups.values() if _tagged(g.tags, tags)]})

    def group_delete(self, req: Request, sub: str, rg: str) -> Response:
        """Resource Groups - Delete: https://learn.microsoft.com/rest/api/resources/resource-groups/delete"""
        if rg.lower() not in self.groups:
            return no_group(rg)
        prefix = f"/subscriptions/{sub}/resourcegroups/{rg}/".lower()

        def effect() -> None:
            self.groups.pop(rg.lower(), None)
            for key in [k for k in self.resources if k.startswith(prefix)]:
                self._release(self.resources.pop(key))

        op_id = self._new_op(effect)
        return Response(202, None, {"Location": f"{req.base_url}/subscriptions/{sub}/operationresults/{op_id}?api-version=2025-04-01", "Retry-After": "0"})

    def resources_list(self, req: Request, sub: str) -> Response:
        """Resources - List (tag $filter): https://learn.microsoft.com/rest/api/resources/resources/list"""
        tags = _tag_filter(req.query.get("$filter", ""))
        out = []
        for stored in self.resources.values():
            model = stored.model
            if _tagged(getattr(model, "tags", None), tags):
                out.append(rm.GenericResourceExpanded(id=model.id, name=model.name, type=model.type,  # type: ignore[attr-defined]
                                                      location=model.location, tags=model.tags).as_dict())  # type: ignore[attr-defined]
        return Response(200, {"value": out})

    # -- network resources -----------------------------------------------------------------
    def put_network(self, req: Request, sub: str, rg: str, kind: str, name: str) -> Response:
        """Virtual Networks / Network Security Groups / Public IP Addresses / Network Interfaces - Create Or Update:
        https://learn.microsoft.com/rest/api/virtualnetwork/virtual-networks/create-or-update (and the sibling pages)"""
        wire_kind, model_cls = NET_TYPES[kind.lower()]
        fault = self._fault(f"{wire_kind}.createOrUpdate", {"subscription": sub, "resourceGroup": rg, "name": name})
        if isinstance(fault, Response):
            return fault
        if rg.lower() not in self.groups:
            return no_group(rg)
        model = model_cls(req.body or {})
        model.id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{wire_kind}/{name}"
        model.name, model.type, model.provisioning_state = name, f"Microsoft.Network/{wire_kind}", "Updating"
        problem = self._fill_network(model)
        if problem is not None:
            return problem
        return self._put(req, sub, model, with_location=False)

    def _fill_network(self, model: object) -> Response | None:
        if isinstance(model, nm.VirtualNetwork):
            for subnet in model.subnets or []:
                subnet.id, subnet.provisioning_state = f"{model.id}/subnets/{subnet.name}", "Succeeded"
        elif isinstance(model, nm.PublicIPAddress):
            model.ip_address = model.ip_address or self._public.take()
        elif isinstance(model, nm.NetworkInterface):
            for conf in model.ip_configurations or []:
                for ref in (conf.subnet, conf.public_ip_address):
                    if ref is not None and not self._exists(str(ref.id)):
                        return arm_error(400, "InvalidResourceReference", f"Resource {ref.id} referenced by resource {model.id} was not found.")
                conf.id = f"{model.id}/ipConfigurations/{conf.name}"
                conf.private_ip_address = conf.private_ip_address or self._private.take()
        return None

    def _exists(self, rid: str) -> bool:
        parent, sep, _ = rid.lower().partition("/subnets/")
        return parent in self.resources and (not sep or any(
            str(s.id).lower() == rid.lower() for s in self.resources[parent].model.subnets or []))  # type: ignore[attr-defined]

    def _put(self, req: Request, sub: str, model: object, with_location: bool, error: Json | None = None) -> Response:
        key = str(model.id).lower()  # type: ignore[attr-defined]
        existed = key in self.resources
        stored = _Stored(model)
        with self._lock:
            self.resources[key] = stored

        def effect() -> None:
            model.provisioning_state = "Failed" if error else "Succeeded"  # type: ignore[attr-defined]
            if error:
                stored.power = "stopped"

        op_id = self._new_op(effect, error)
        headers = self._async_headers(req, sub, str(model.location), op_id, with_location)  # type: ignore[attr-defined]
        return Response(200 if existed else 201, model.as_dict(), headers)  # type: ignore[attr-defined]

    def get_resource(self, req: Request, sub: str, rg: str, kind: str, name: str) -> Response:
        """Network resources - Get: https://learn.microsoft.com/rest/api/virtualnetwork/network-interfaces/get"""
        stored = self.resources.get(req.path.lower())
        return Response(200, stored.model.as_dict()) if stored else not_found(req.path)  # type: ignore[attr-defined]

    def subnet_get(self, req: Request, sub: str, rg: str, vnet: str, name: str) -> Response:
        """Subnets - Get: https://learn.microsoft.com/rest/api/virtualnetwork/subnets/get"""
        parent = self.resources.get(req.path.lower().partition("/subnets/")[0])
        for subnet in (parent.model.subnets or []) if parent else []:  # type: ignore[attr-defined]
            if str(subnet.name).lower() == name.lower():
                return Response(200, subnet.as_dict())
        return not_found(req.path)

    def delete_resource(self, req: Request, sub: str, rg: str, name: str, kind: str = "virtualMachines") -> Response:
        """Delete (VM or network resource): https://learn.microsoft.com/rest/api/compute/virtual-machines/delete"""
        fault = self._fault(f"{kind}.delete", {"subscription": sub, "resourceGroup": rg, "name": name})
        if isinstance(fault, Response):
            return fault
        key = req.path.lower()
        stored = self.resources.get(key)
        if stored is None:
            return Response(204)
        if isinstance(stored.model, nm.NetworkInterface) and self._nic_in_use(key):
            return arm_error(400, "NicInUse", f"Network Interface {stored.model.id} is used by existing resource. In order to delete the network interface, it must be dissociated from the resource.")

        def effect() -> None:
            with self._lock:
                gone = self.resources.pop(key, None)
            if gone is not None:
                self._release(gone)

        op_id = self._new_op(effect)
        return Response(202, None, self._async_headers(req, sub, str(stored.model.location), op_id, with_location=True))  # type: ignore[attr-defined]

    def _nic_in_use(self, nic_id: str) -> bool:
        return any(str(ref.id).lower() == nic_id for s in self.resources.values() if isinstance(s.model, cm.VirtualMachine)
                   for ref in s.model.network_profile.network_interfaces or [])

    def _release(self, stored: _Stored) -> None:
        model = stored.model
        if isinstance(model, nm.PublicIPAddress):
            self._public.give_back(str(model.ip_address or ""))
        elif isinstance(model, nm.NetworkInterface):
            for conf in model.ip_configurations or []:
                self._private.give_back(str(conf.private_ip_address or ""))


def _tag_filter(expr: str) -> dict[str, str]:
    """``tagName eq 'k' and tagValue eq 'v'`` -> {k: v}; empty filter -> {}."""
    import re

    found = re.match(r"\s*tagName eq '([^']*)'(?:\s+and\s+tagValue eq '([^']*)')?\s*$", expr, re.IGNORECASE)
    if expr.strip() and not found:
        raise ValueError(f"the simulated ARM does not understand $filter={expr!r}")
    return {found[1]: found[2] or "*"} if found else {}


def _tagged(tags: object, want: dict[str, str]) -> bool:
    have = dict(tags or {})  # type: ignore[call-overload]
    return all(k in have and (v == "*" or have[k] == v) for k, v in want.items())


