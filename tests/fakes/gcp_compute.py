"""A simulated Compute Engine API (v1, REST) on 127.0.0.1 for the real ``google-cloud-compute`` SDK.

This is a simulation, not Google's service: no emulator for Compute Engine exists, so the tests
point the real SDK (``client_options={"api_endpoint": fake.url}``, anonymous credentials, REST
transport) at this small server. Every payload is built and every request body is parsed with
the SDK's own message classes (``compute_v1.Instance.from_json`` is strict), so their shapes are
the SDK's. Operations advance only when polled, exactly as the SDK polls them: each
``zoneOperations.get`` moves a running operation one step (``op_polls`` RUNNING answers, then
DONE), ``zoneOperations.wait`` finishes it. Fault rules (see :mod:`fakes.base`) inject
capacity, quota, permission and throttling errors; :mod:`fakes.gcp_world` maps their codes.

Routes, each following the reference page cited in its docstring (base
``/compute/v1/projects/{project}``): instances insert/get/list/aggregatedList/delete/stop/start,
zone and global operations get/wait, firewalls insert/get/list/delete, zones and regions list/get,
images get/getFromFamily, machineTypes get. Private addresses come from 10.213.128.0/19 and
external (NAT) addresses from 10.213.160.0/19.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from google.cloud import compute_v1

from fakes.base import AddressPool, FakeServer, Request, Response, RunningInstance
from fakes.gcp_catalog import CatalogRoutes, find_image
from fakes.gcp_filter import matches
from fakes.gcp_world import (
    COMPUTE,
    GcpWorld,
    OpFailure,
    fault_outcome,
    invalid,
    json_error,
    last,
    not_found,
    wire,
)

P = r"/compute/v1/projects/(?P<project>[^/]+)"
NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass
class _Op:
    op: compute_v1.Operation
    polls_left: int
    effect: Callable[[], None]
    failure: OpFailure | None
    undo: Callable[[], None]


class GcpComputeFake(CatalogRoutes):
    """The simulated Compute Engine: state, routes and the server they are served on."""

    def __init__(self, world: GcpWorld | None = None, op_polls: int = 1) -> None:
        self.world = world or GcpWorld.from_catalog()
        self.op_polls = op_polls
        self.instances: dict[tuple[str, str, str], compute_v1.Instance] = {}
        self.firewalls: dict[tuple[str, str], compute_v1.Firewall] = {}
        self._ops: dict[str, _Op] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(7_300_000_000_000_000_001)
        self._private = AddressPool("10.213.128.0/19")
        self._public = AddressPool("10.213.160.0/19")
        self.server = FakeServer(self._routes())
        self.faults = self.server.faults
        self.tokens_issued = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def running_instances(self) -> list[RunningInstance]:
        """Every RUNNING instance with its addresses and the SSH keys from its metadata."""
        with self._lock:
            return [_running(inst) for inst in self.instances.values() if inst.status == "RUNNING"]

    def preempt(self, project: str, zone: str, name: str) -> None:
        """Simulate a spot preemption: STOP action → TERMINATED, DELETE action → gone."""
        with self._lock:
            inst = self.instances[(project, zone, name)]
            if inst.scheduling.instance_termination_action == "DELETE":
                self._forget(project, zone, name)
            else:
                inst.status = "TERMINATED"
                self._release_nat(inst)

    def _routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        inst = P + r"/zones/(?P<zone>[^/]+)/instances"
        return [
            ("POST", inst, self.insert),
            ("GET", inst, self.list_zone),
            ("GET", inst + r"/(?P<name>[^/]+)", self.get),
            ("DELETE", inst + r"/(?P<name>[^/]+)", self.delete),
            ("POST", inst + r"/(?P<name>[^/]+)/(?P<verb>stop|start)", self.power),
            ("GET", P + r"/aggregated/instances", self.aggregated),
            ("GET", P + r"/(?P<scope>zones/[^/]+|global)/operations/(?P<op>[^/]+)", self.op_get),
            ("POST", P + r"/(?P<scope>zones/[^/]+|global)/operations/(?P<op>[^/]+)/wait", self.op_wait),
            ("POST", P + r"/global/firewalls", self.firewall_insert),
            ("GET", P + r"/global/firewalls", self.firewall_list),
            ("GET", P + r"/global/firewalls/(?P<name>[^/]+)", self.firewall_get),
            ("DELETE", P + r"/global/firewalls/(?P<name>[^/]+)", self.firewall_delete),
            ("GET", P + r"/zones", self.zones_list),
            ("GET", P + r"/zones/(?P<zone>[^/]+)", self.zone_get),
            ("GET", P + r"/regions", self.regions_list),
            ("GET", P + r"/regions/(?P<region>[^/]+)", self.region_get),
            ("GET", P + r"/global/images/family/(?P<family>[^/]+)", self.image_from_family),
            ("GET", P + r"/global/images/(?P<image>[^/]+)", self.image_get),
            ("GET", P + r"/zones/(?P<zone>[^/]+)/machineTypes/(?P<mt>[^/]+)", self.machine_type_get),
            ("POST", r"/token", self.token),
        ]

    def token(self, req: Request) -> Response:
        """The OAuth 2.0 token endpoint a service-account file's ``token_uri`` names (JWT-bearer
        grant: https://developers.google.com/identity/protocols/oauth2/service-account#httprest),
        so the real google-auth ADC path gets its token from the fake instead of Google."""
        form = req.body if isinstance(req.body, dict) else {}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not form.get("assertion"):
            return Response(400, {"error": "invalid_grant", "error_description": "simulated: bad grant"})
        self.tokens_issued += 1
        return Response(200, {"access_token": "simulated-token", "expires_in": 3600, "token_type": "Bearer"})

    # -- faults and operations -------------------------------------------------------------
    def _fault(self, action: str, facts: dict[str, str]) -> Response | OpFailure | None:
        if "zone" in facts and "region" not in facts:
            facts["region"] = self.world.zones.get(facts["zone"], "")
        rule = self.faults.take(action, facts)
        return None if rule is None else fault_outcome(rule.code, facts, rule.message)

    def _operation(self, project: str, scope: str, kind: str, target: str, effect: Callable[[], None],
                   failure: OpFailure | None = None, undo: Callable[[], None] = lambda: None) -> Response:
        name = f"operation-{int(time.time() * 1000)}-{next(self._ids)}"
        op = compute_v1.Operation(
            name=name, id=next(self._ids), kind="compute#operation", operation_type=kind,
            status=compute_v1.Operation.Status.RUNNING, progress=0, target_link=f"{COMPUTE}/{target}",
            self_link=f"{COMPUTE}/projects/{project}/{scope}/operations/{name}",
            insert_time=_now(), start_time=_now(), user="simulated@jupyter-sky.invalid",
        )
        if scope.startswith("zones/"):
            op.zone = f"{COMPUTE}/projects/{project}/{scope}"
        with self._lock:
            self._ops[name] = _Op(op, self.op_polls, effect, failure, undo)
        return Response(200, wire(op))

    def _advance(self, name: str, finish: bool) -> Response:
        with self._lock:
            record = self._ops.get(name)
            if record is None:
                return not_found(f"operations/{name}")
            if record.op.status != compute_v1.Operation.Status.DONE:
                if finish or record.polls_left <= 0:
                    self._finish(record)
                else:
                    record.polls_left -= 1
            return Response(200, wire(record.op))

    def _finish(self, record: _Op) -> None:
        op, failure = record.op, record.failure
        op.status, op.progress, op.end_time = compute_v1.Operation.Status.DONE, 100, _now()
        if failure is None:
            record.effect()
            return
        record.undo()
        op.http_error_status_code, op.http_error_message = failure.status, failure.status_message
        op.error = compute_v1.Error(errors=[compute_v1.Errors(code=failure.code, message=failure.message)])

    def op_get(self, req: Request, project: str, scope: str, op: str) -> Response:
        """zoneOperations.get / globalOperations.get:
        https://cloud.google.com/compute/docs/reference/rest/v1/zoneOperations/get"""
        return self._advance(op, finish=False)

    def op_wait(self, req: Request, project: str, scope: str, op: str) -> Response:
        """zoneOperations.wait / globalOperations.wait (returns when DONE):
        https://cloud.google.com/compute/docs/reference/rest/v1/zoneOperations/wait"""
        return self._advance(op, finish=True)

    # -- instances -------------------------------------------------------------------------
    def insert(self, req: Request, project: str, zone: str) -> Response:
        """instances.insert: https://cloud.google.com/compute/docs/reference/rest/v1/instances/insert"""
        body = req.body or {}
        scheduling = body.get("scheduling") or {}
        facts = {"project": project, "zone": zone, "name": str(body.get("name", "")),
                 "machineType": last(str(body.get("machineType", ""))),
                 "provisioningModel": str(scheduling.get("provisioningModel", "STANDARD"))}
        outcome = self._fault("instances.insert", facts)
        if isinstance(outcome, Response):
            return outcome
        if zone not in self.world.zones:
            return not_found(f"projects/{project}/zones/{zone}")
        try:
            inst = compute_v1.Instance.from_json(json.dumps(body))
        except Exception as exc:
            return invalid(f"Invalid JSON payload received. {exc}")
        problem = self._check_instance(project, zone, inst)
        if problem is not None:
            return problem
        self._place(project, zone, inst)
        key = (project, zone, inst.name)
        return self._operation(
            project, f"zones/{zone}", "insert", f"projects/{project}/zones/{zone}/instances/{inst.name}",
            effect=lambda: self._set_status(key, "RUNNING"), failure=outcome,
            undo=lambda: self._forget(*key),
        )

    def _check_instance(self, project: str, zone: str, inst: compute_v1.Instance) -> Response | None:
        if not NAME.match(inst.name or ""):
            return invalid(f"Invalid value for field 'resource.name': '{inst.name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'")
        if (project, zone, inst.name) in self.instances:
            return json_error(409, "alreadyExists", f"The resource 'projects/{project}/zones/{zone}/instances/{inst.name}' already exists")
        mtype = self.world.machine_types.get(zone, {}).get(last(inst.machine_type))
        if mtype is None:
            return invalid(f"Invalid value for field 'resource.machineType': '{inst.machine_type}'. Machine type with name '{last(inst.machine_type)}' does not exist in zone '{zone}'.")
        for i, acc in enumerate(inst.guest_accelerators):
            if last(acc.accelerator_type) not in self.world.accelerators.get(zone, set()):
                return invalid(f"Invalid value for field 'resource.guestAccelerators[{i}].acceleratorType': '{acc.accelerator_type}'. Accelerator type '{last(acc.accelerator_type)}' does not exist in zone '{zone}'.")
        has_gpu = bool(inst.guest_accelerators) or mtype.accelerator is not None
        if has_gpu and inst.scheduling.on_host_maintenance != "TERMINATE":
            return json_error(400, "badRequest", "Instances with guest accelerators do not support live migration.")
        for disk in inst.disks:
            source = disk.initialize_params.source_image
            if disk.boot and source and find_image(source) is None:
                return not_found(source.split("/compute/v1/")[-1])
        return None

    def _place(self, project: str, zone: str, inst: compute_v1.Instance) -> None:
        inst.id = next(self._ids)
        inst.kind, inst.status, inst.creation_timestamp = "compute#instance", "PROVISIONING", _now()
        inst.zone = f"{COMPUTE}/projects/{project}/zones/{zone}"
        inst.machine_type = f"{inst.zone}/machineTypes/{last(inst.machine_type)}"
        inst.self_link = f"{inst.zone}/instances/{inst.name}"
        for i, nic in enumerate(inst.network_interfaces):
            nic.name, nic.network_i_p = f"nic{i}", self._private.take()
            for access in nic.access_configs:
                access.nat_i_p = self._public.take()
        with self._lock:
            self.instances[(project, zone, inst.name)] = inst

    def _set_status(self, key: tuple[str, str, str], status: str) -> None:
        inst = self.instances.get(key)
        if inst is None:
            return
        inst.status = status
        if status == "RUNNING":
            for nic in inst.network_interfaces:
                for access in nic.access_configs:
                    access.nat_i_p = access.nat_i_p or self._public.take()
        elif status == "TERMINATED":
            self._release_nat(inst)

    def _release_nat(self, inst: compute_v1.Instance) -> None:
        """An ephemeral external address is released when the VM stops (it changes on start)."""
        for nic in inst.network_interfaces:
            for access in nic.access_configs:
                self._public.give_back(access.nat_i_p)
                access.nat_i_p = ""

    def _forget(self, project: str, zone: str, name: str) -> None:
        with self._lock:
            inst = self.instances.pop((project, zone, name), None)
        if inst is not None:
            self._release_nat(inst)
            for nic in inst.network_interfaces:
                self._private.give_back(nic.network_i_p)

    def _lookup(self, action: str, project: str, zone: str, name: str) -> compute_v1.Instance | Response:
        outcome = self._fault(action, {"project": project, "zone": zone, "name": name})
        if isinstance(outcome, Response):
            return outcome
        inst = self.instances.get((project, zone, name))
        return inst if inst is not None else not_found(f"projects/{project}/zones/{zone}/instances/{name}")

    def get(self, req: Request, project: str, zone: str, name: str) -> Response:
        """instances.get: https://cloud.google.com/compute/docs/reference/rest/v1/instances/get"""
        found = self._lookup("instances.get", project, zone, name)
        return found if isinstance(found, Response) else Response(200, wire(found))

    def delete(self, req: Request, project: str, zone: str, name: str) -> Response:
        """instances.delete: https://cloud.google.com/compute/docs/reference/rest/v1/instances/delete"""
        found = self._lookup("instances.delete", project, zone, name)
        if isinstance(found, Response):
            return found
        found.status = "STOPPING"
        return self._operation(project, f"zones/{zone}", "delete", f"projects/{project}/zones/{zone}/instances/{name}",
                               effect=lambda: self._forget(project, zone, name))

    def power(self, req: Request, project: str, zone: str, name: str, verb: str) -> Response:
        """instances.stop / instances.start:
        https://cloud.google.com/compute/docs/reference/rest/v1/instances/stop and /start"""
        found = self._lookup(f"instances.{verb}", project, zone, name)
        if isinstance(found, Response):
            return found
        found.status = "STOPPING" if verb == "stop" else "STAGING"
        final = "TERMINATED" if verb == "stop" else "RUNNING"
        key = (project, zone, name)
        return self._operation(project, f"zones/{zone}", verb, f"projects/{project}/zones/{zone}/instances/{name}",
                               effect=lambda: self._set_status(key, final))

    def list_zone(self, req: Request, project: str, zone: str) -> Response:
        """instances.list: https://cloud.google.com/compute/docs/reference/rest/v1/instances/list"""
        outcome = self._fault("instances.list", {"project": project, "zone": zone})
        if isinstance(outcome, Response):
            return outcome
        chosen = self._filtered(req, project, zone)
        if isinstance(chosen, Response):
            return chosen
        return Response(200, wire(compute_v1.InstanceList(id=f"projects/{project}/zones/{zone}/instances", items=chosen)))

    def aggregated(self, req: Request, project: str) -> Response:
        """instances.aggregatedList:
        https://cloud.google.com/compute/docs/reference/rest/v1/instances/aggregatedList"""
        outcome = self._fault("instances.aggregatedList", {"project": project})
        if isinstance(outcome, Response):
            return outcome
        chosen = self._filtered(req, project, None)
        if isinstance(chosen, Response):
            return chosen
        scoped: dict[str, compute_v1.InstancesScopedList] = {}
        for inst in chosen:
            scoped.setdefault(f"zones/{last(inst.zone)}", compute_v1.InstancesScopedList()).instances.append(inst)
        return Response(200, wire(compute_v1.InstanceAggregatedList(id=f"projects/{project}/aggregated/instances", items=scoped)))

    def _filtered(self, req: Request, project: str, zone: str | None) -> list[compute_v1.Instance] | Response:
        expr = req.query.get("filter", "")
        with self._lock:
            found = [i for (p, z, _), i in sorted(self.instances.items()) if p == project and zone in (None, z)]
        try:
            return [i for i in found if matches(expr, wire(i))]
        except ValueError as exc:
            return invalid(str(exc))

    # -- firewalls ---------------------------------------------------------------------------
    def firewall_insert(self, req: Request, project: str) -> Response:
        """firewalls.insert: https://cloud.google.com/compute/docs/reference/rest/v1/firewalls/insert"""
        name = str((req.body or {}).get("name", ""))
        outcome = self._fault("firewalls.insert", {"project": project, "name": name})
        if isinstance(outcome, Response):
            return outcome
        try:
            rule = compute_v1.Firewall.from_json(json.dumps(req.body or {}))
        except Exception as exc:
            return invalid(f"Invalid JSON payload received. {exc}")
        if not NAME.match(rule.name or ""):
            return invalid(f"Invalid value for field 'resource.name': '{rule.name}'.")
        if (project, rule.name) in self.firewalls:
            return json_error(409, "alreadyExists", f"The resource 'projects/{project}/global/firewalls/{rule.name}' already exists")
        rule.id, rule.kind, rule.creation_timestamp = next(self._ids), "compute#firewall", _now()
        rule.self_link = f"{COMPUTE}/projects/{project}/global/firewalls/{rule.name}"
        rule.network = rule.network or f"{COMPUTE}/projects/{project}/global/networks/default"
        rule.direction = rule.direction or "INGRESS"
        with self._lock:
            self.firewalls[(project, rule.name)] = rule
        return self._operation(project, "global", "insert", f"projects/{project}/global/firewalls/{rule.name}",
                               effect=lambda: None, failure=outcome, undo=lambda: self.firewalls.pop((project, rule.name), None))

    def firewall_get(self, req: Request, project: str, name: str) -> Response:
        """firewalls.get: https://cloud.google.com/compute/docs/reference/rest/v1/firewalls/get"""
        rule = self.firewalls.get((project, name))
        return Response(200, wire(rule)) if rule else not_found(f"projects/{project}/global/firewalls/{name}")

    def firewall_list(self, req: Request, project: str) -> Response:
        """firewalls.list: https://cloud.google.com/compute/docs/reference/rest/v1/firewalls/list"""
        with self._lock:
            rules = [r for (p, _), r in sorted(self.firewalls.items()) if p == project]
        try:
            rules = [r for r in rules if matches(req.query.get("filter", ""), wire(r))]
        except ValueError as exc:
            return invalid(str(exc))
        return Response(200, wire(compute_v1.FirewallList(id=f"projects/{project}/global/firewalls", items=rules)))

    def firewall_delete(self, req: Request, project: str, name: str) -> Response:
        """firewalls.delete: https://cloud.google.com/compute/docs/reference/rest/v1/firewalls/delete"""
        outcome = self._fault("firewalls.delete", {"project": project, "name": name})
        if isinstance(outcome, Response):
            return outcome
        if (project, name) not in self.firewalls:
            return not_found(f"projects/{project}/global/firewalls/{name}")
        return self._operation(project, "global", "delete", f"projects/{project}/global/firewalls/{name}",
                               effect=lambda: self.firewalls.pop((project, name), None))


def _running(inst: compute_v1.Instance) -> RunningInstance:
    users: list[str] = []
    keys: list[str] = []
    for item in inst.metadata.items:
        if item.key != "ssh-keys":
            continue
        for line in item.value.splitlines():
            user, _, key = line.strip().partition(":")
            if key:
                users.append(user)
                keys.append(key.strip())
    nic = inst.network_interfaces[0] if inst.network_interfaces else compute_v1.NetworkInterface()
    public = nic.access_configs[0].nat_i_p if nic.access_configs else ""
    user = users[0] if users else ""
    return RunningInstance(
        id=str(inst.id), name=inst.name, location=last(inst.zone), private_ip=nic.network_i_p,
        public_ip=public or nic.network_i_p, ssh_user=user,
        authorized_keys=tuple(k for u, k in zip(users, keys, strict=True) if u == user), labels=dict(inst.labels),
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000-00:00", time.gmtime())
