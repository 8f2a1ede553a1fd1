"""Create, stop, start and remove a cluster's Compute Engine VM and SSH firewall rule, all or nothing.

Everything created carries the labels ``jsky-cluster`` and ``jsky-user`` (the firewall rule, which
has no labels, is named after the cluster), so :func:`orphans` finds what the state DB forgot.
GPU rows get either an N1 host with attached accelerators or an A2/G2/A3 type with built-in
GPUs (as the catalog row says), always with ``onHostMaintenance: TERMINATE``, and a
deep-learning image family; spot is ``provisioningModel: SPOT`` with ``DELETE`` on preemption.
Operations are waited on with ``zoneOperations.wait`` and their ``error`` read explicitly (a failed
operation without an HTTP status would otherwise pass as success). A failed attempt removes what
it created and raises :class:`GcpLaunchError` carrying the failover verdict.
The SDK is imported inside functions only.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from typing import Any

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.gcp.errors import classify, classify_exception
from jupyter_sky.infra.verdict import Verdict

GPU_IMAGE = ("deeplearning-platform-release", "common-cu124-debian-11-py310")
CPU_IMAGE = ("debian-cloud", "debian-12")
ACCELERATORS = {"T4": "nvidia-tesla-t4", "V100": "nvidia-tesla-v100", "P100": "nvidia-tesla-p100",
                "P4": "nvidia-tesla-p4"}  # N1 attachable; A2/G2/A3 carry theirs built in
BUILT_IN_GPU = re.compile(r"^(a2|a3|a4|g2)-")


class GcpLaunchError(InfraError):
    """A launch attempt failed; ``verdict`` says whether to try another zone, region or infra."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.sentence)
        self.verdict = verdict


@dataclass(frozen=True)
class GcpPlacement:
    project: str
    zone: str
    machine_type: str
    accelerator: str | None = None
    accelerator_count: int = 0
    spot: bool = False

    @property
    def where(self) -> str:
        return f"gcp/{self.zone} {self.machine_type}"


@dataclass(frozen=True)
class GcpVmSpec:
    cluster: str
    user: str
    ssh_user: str
    public_key: str
    ssh_cidr: str
    disk_gb: int = 50


@dataclass(frozen=True)
class GcpVm:
    project: str
    zone: str
    name: str
    instance_id: str
    public_ip: str
    private_ip: str
    firewall: str


def resource_name(cluster: str) -> str:
    """An RFC 1035 name for the cluster's VM and firewall rule (``jsky-<cluster>``)."""
    tail = re.sub(r"[^a-z0-9-]+", "-", cluster.lower()).strip("-")[:50] or "cluster"
    return f"jsky-{tail}".rstrip("-")


class GcpApi:
    """The Compute Engine clients of one project (endpoint and credentials overridable for tests)."""

    def __init__(self, project: str, credentials: Any = None, endpoint: str | None = None) -> None:
        from google.cloud import compute_v1

        opts = {"api_endpoint": endpoint} if endpoint else None
        self.project = project
        self.instances = compute_v1.InstancesClient(credentials=credentials, client_options=opts)
        self.zone_ops = compute_v1.ZoneOperationsClient(credentials=credentials, client_options=opts)
        self.global_ops = compute_v1.GlobalOperationsClient(credentials=credentials, client_options=opts)
        self.firewalls = compute_v1.FirewallsClient(credentials=credentials, client_options=opts)
        self.images = compute_v1.ImagesClient(credentials=credentials, client_options=opts)

    def wait(self, op: Any, zone: str | None, where: str, timeout: float = 600) -> None:
        """Wait for an operation with ``wait`` (public API) and raise on its error, HTTP status or not."""
        from google.cloud import compute_v1

        deadline = time.monotonic() + timeout
        name = op.name
        while True:
            if zone:
                cur = self.zone_ops.wait(project=self.project, zone=zone, operation=name)
            else:
                cur = self.global_ops.wait(project=self.project, operation=name)
            if cur.status == compute_v1.Operation.Status.DONE:
                break
            if time.monotonic() > deadline:
                raise GcpLaunchError(Verdict("retry", "zone", "timeout", f"Google Cloud did not finish at {where} in {timeout:.0f} s."))
        errors = list(cur.error.errors) if cur.error else []
        if errors:
            message = errors[0].message or ""
            raise GcpLaunchError(classify([e.code for e in errors], message, int(cur.http_error_status_code or 0), where))


def instance_body(place: GcpPlacement, spec: GcpVmSpec, image: str) -> Any:
    """The ``compute_v1.Instance`` to insert for this placement."""
    from google.cloud import compute_v1

    name = resource_name(spec.cluster)
    scheduling = compute_v1.Scheduling(on_host_maintenance="MIGRATE", automatic_restart=True)
    accels = []
    if place.accelerator and not BUILT_IN_GPU.match(place.machine_type):
        gce = ACCELERATORS.get(place.accelerator, place.accelerator.lower())
        accels = [compute_v1.AcceleratorConfig(accelerator_type=f"zones/{place.zone}/acceleratorTypes/{gce}",
                                               accelerator_count=place.accelerator_count)]
    if place.accelerator or place.spot:
        scheduling = compute_v1.Scheduling(on_host_maintenance="TERMINATE", automatic_restart=False)
    if place.spot:
        scheduling.provisioning_model, scheduling.instance_termination_action = "SPOT", "DELETE"
    return compute_v1.Instance(
        name=name, machine_type=f"zones/{place.zone}/machineTypes/{place.machine_type}",
        labels={"jsky-cluster": name.removeprefix("jsky-"), "jsky-user": _label(spec.user)},
        tags=compute_v1.Tags(items=[name]),
        metadata=compute_v1.Metadata(items=[compute_v1.Items(key="ssh-keys", value=f"{spec.ssh_user}:{spec.public_key.strip()}")]),
        disks=[compute_v1.AttachedDisk(boot=True, auto_delete=True, initialize_params=compute_v1.AttachedDiskInitializeParams(
            source_image=image, disk_size_gb=spec.disk_gb))],
        network_interfaces=[compute_v1.NetworkInterface(network="global/networks/default", access_configs=[
            compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")])],
        guest_accelerators=accels, scheduling=scheduling,
    )


def _label(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63] or "unknown"


def image_for(api: GcpApi, place: GcpPlacement) -> str:
    """The image family's current image (deep-learning image for GPU rows), or a fatal verdict."""
    from google.api_core import exceptions as gexc

    project, family = GPU_IMAGE if place.accelerator else CPU_IMAGE
    try:
        return str(api.images.get_from_family(project=project, family=family).self_link)
    except gexc.GoogleAPICallError as exc:
        raise GcpLaunchError(Verdict("fatal", "infra", "notFound", f"the image family {project}/{family} cannot be read ({classify_exception(exc, place.where).code}).")) from exc


def ensure_firewall(api: GcpApi, spec: GcpVmSpec) -> bool:
    """Allow SSH to the cluster's VM from ``spec.ssh_cidr`` only; True if this call created it."""
    from google.api_core import exceptions as gexc
    from google.cloud import compute_v1

    name = resource_name(spec.cluster)
    rule = compute_v1.Firewall(name=name, network="global/networks/default", direction="INGRESS",
                               source_ranges=[spec.ssh_cidr], target_tags=[name],
                               allowed=[compute_v1.Allowed(I_p_protocol="tcp", ports=["22"])],
                               description=f"jupyter-sky SSH for cluster {spec.cluster} of {spec.user}")
    try:
        op = api.firewalls.insert(project=api.project, firewall_resource=rule)
    except gexc.Conflict:
        return False
    except gexc.GoogleAPICallError as exc:
        raise GcpLaunchError(classify_exception(exc, "gcp")) from exc
    api.wait(op, None, "gcp")
    return True


def provision(api: GcpApi, place: GcpPlacement, spec: GcpVmSpec) -> GcpVm:
    """Create firewall rule and VM for one attempt; on any failure remove what this attempt made."""
    from google.api_core import exceptions as gexc

    image = image_for(api, place)
    made_firewall = ensure_firewall(api, spec)
    name = resource_name(spec.cluster)
    try:
        op = api.instances.insert(project=api.project, zone=place.zone, instance_resource=instance_body(place, spec, image))
        api.wait(op, place.zone, place.where)
        inst = api.instances.get(project=api.project, zone=place.zone, instance=name)
    except (gexc.GoogleAPICallError, GcpLaunchError) as exc:
        remove(api, place.zone, name, firewall=made_firewall)
        if isinstance(exc, GcpLaunchError):
            raise
        raise GcpLaunchError(classify_exception(exc, place.where)) from exc
    nic = inst.network_interfaces[0]
    public = nic.access_configs[0].nat_i_p if nic.access_configs else ""
    return GcpVm(api.project, place.zone, name, str(inst.id), public or nic.network_i_p, nic.network_i_p, name)


def remove(api: GcpApi, zone: str, name: str, firewall: bool = True) -> None:
    """Delete the VM (if any) and, if asked, its firewall rule; missing ones are fine (idempotent)."""
    from google.api_core import exceptions as gexc

    with contextlib.suppress(gexc.NotFound):
        api.wait(api.instances.delete(project=api.project, zone=zone, instance=name), zone, f"gcp/{zone}")
    if firewall:
        with contextlib.suppress(gexc.NotFound):
            api.wait(api.firewalls.delete(project=api.project, firewall=name), None, "gcp")


def power(api: GcpApi, zone: str, name: str, on: bool) -> None:
    """Stop (disks kept) or start the VM."""
    call = api.instances.start if on else api.instances.stop
    api.wait(call(project=api.project, zone=zone, instance=name), zone, f"gcp/{zone}")


def status(api: GcpApi, zone: str, name: str) -> str:
    """The instance status (``RUNNING``, ``TERMINATED``...) or ``GONE``."""
    from google.api_core import exceptions as gexc

    try:
        return str(api.instances.get(project=api.project, zone=zone, instance=name).status)
    except gexc.NotFound:
        return "GONE"


def orphans(api: GcpApi, user: str) -> list[tuple[str, str, str]]:
    """(cluster, zone, status) of every VM labelled for ``user`` in the project."""
    listed = api.instances.aggregated_list(request={"project": api.project, "filter": f'labels.jsky-user = "{_label(user)}"'})
    return [(str(i.labels.get("jsky-cluster", "")), scope.removeprefix("zones/"), str(i.status))
            for scope, scoped in listed for i in scoped.instances]
