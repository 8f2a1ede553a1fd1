"""The ``gcp`` infra: a cell's kernel on a Compute Engine VM (``--infra gcp[/<region>[/<zone>]]``).

google-cloud-compute (extra ``gcp``) is imported only inside functions. A launch is one
all-or-nothing attempt at the placement failover gives it (:mod:`.launch`: firewall rule
allowing SSH from this machine only, the VM with the user's key in its metadata, SSH
answering); then the ``ssh`` infra starts the kernel on the VM's 127.0.0.1 (bootstrap from
wheels, port forwards, replay after a drop). Beside the kernel a watcher stops the VM through
its own service account once the idle or autostop watchdog ended the kernel with the notebook
gone. TPU rows stay priced only ("no launcher yet").
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
from jupyter_sky.infra.gcp.config import GcpConfig
from jupyter_sky.infra.vm_access import DISK_SIZE, cloud_user, section_here
from jupyter_sky.infra.vm_kernel import VmHandle, VmOverSsh, selfstop_script, wait_ssh
from jupyter_sky.offering import Offering

if TYPE_CHECKING:
    from jupyter_sky.infra.gcp import provision as gp
    from jupyter_sky.infra.ssh import SshHandle

REGION = re.compile(r"[a-z]+-[a-z]+\d+")
ZONE = re.compile(rf"{REGION.pattern}-[a-z]")


@dataclass
class GcpHandle(VmHandle):
    """A Compute Engine VM of one cluster and the kernel on it (``ssh``: the ssh infra's handle)."""

    cluster: str
    user: str
    project: str
    zone: str
    name: str
    instance_id: str
    machine_type: str
    address: str
    login: str
    key: str
    known_hosts: str
    spot: bool = False
    ssh: dict[str, object] = field(default_factory=dict)

    @property
    def ssh_name(self) -> str:
        return f"gcp-{self.instance_id}"


class GcpInfra(VmOverSsh[GcpHandle]):
    """Compute Engine VMs, one per cluster; priced from the catalog, launched through failover."""

    kind: ClassVar[str] = "gcp"
    extra: ClassVar[str] = "gcp"
    catalog: ClassVar[str | None] = "gcp"
    egress_per_gb: ClassVar[float] = 0.12
    handle_type: ClassVar[type[Handle]] = GcpHandle
    config_section: ClassVar[type | None] = GcpConfig
    path_shape: ClassVar[str] = "gcp[/<region>[/<zone>]]"
    sdk_modules: ClassVar[tuple[str, ...]] = ("google.cloud.compute_v1",)
    flags: ClassVar[tuple[InfraFlag, ...]] = (DISK_SIZE,)

    # ---- what it is --------------------------------------------------------------------
    @classmethod
    def parse_path(cls, rest: str) -> InfraPath:
        parts = rest.lower().split("/") if rest else []
        if not parts:
            return InfraPath("gcp")
        shape = "gcp, gcp/<region> or gcp/<region>/<zone>"
        if len(parts) == 2 and parts[0] == "*" and ZONE.fullmatch(parts[1]):
            parts = [parts[1].rsplit("-", 1)[0], parts[1]]  # SkyPilot's legacy gcp/*/<zone>
        region, zone = parts[0], (parts[1] if len(parts) == 2 else None)
        if ZONE.fullmatch(region) and len(parts) == 1:
            raise SpecError(f"must be {shape}, not 'gcp/{rest}' (a zone where the region goes): "
                            f"write gcp/{region.rsplit('-', 1)[0]}/{region}.")  # fmt: skip
        if len(parts) > 2 or not REGION.fullmatch(region):
            raise SpecError(f"must be {shape}, not 'gcp/{rest}'.")
        known = _catalog_zones(region)
        if known is not None and not known:
            raise SpecError(f"names unknown GCP region {region!r} (regions are such as us-central1, europe-west4).")
        if zone is not None and (not ZONE.fullmatch(zone) or not zone.startswith(region + "-")):
            raise SpecError(f"names {zone!r}, which is not a zone of {region} (such as {region}-a).")
        return InfraPath(f"gcp/{region}" + (f"/{zone}" if zone else ""), region=region, zone=zone)

    @classmethod
    def credentials(cls) -> str:
        from jupyter_sky.infra.gcp.credentials import problem

        return problem(_config().project)

    def check(self) -> str:
        return self.credentials()

    def zones(self, offering: Offering) -> list[str]:
        """The row's own zone first, then the region's other zones that sell the machine type."""
        others = [z for z in (_catalog_zones(offering.region, offering.instance_type) or [])]
        first = [offering.zone] if offering.zone else []
        return first + [z for z in others if z not in first]

    # ---- lifecycle ------------------------------------------------------------------------
    def launch(self, request: Launch) -> GcpHandle:
        from jupyter_sky.infra.gcp import launch as gl
        from jupyter_sky.infra.gcp import provision as gp
        from jupyter_sky.infra.gcp.credentials import project
        from jupyter_sky.infra.vm_access import forget_host, user_key

        offering = request.offering
        if offering is None or offering.infra != "gcp" or not offering.instance_type:
            raise InfraError("a GCP launch needs a placement (a machine type in a zone) from the plan.")
        if (offering.accelerator or "").lower().startswith("tpu"):
            raise InfraError("TPU VMs have no launcher yet in this version; choose a GPU or CPU row.")
        cfg = request.config.of(GcpConfig)
        name = project(cfg.project)
        if not name:
            raise CredentialError("no Google Cloud project: set GOOGLE_CLOUD_PROJECT or gcp.project in the config.")
        zone = offering.zone or (self.zones(offering) or [""])[0]
        spot = request.spot or request.task.resources.spot
        place = gp.GcpPlacement(name, zone, offering.instance_type, offering.accelerator,
                                int(offering.accelerator_count), spot)  # fmt: skip
        key, public = user_key("gcp", cloud_user())
        spec = gp.GcpVmSpec(request.cluster, cloud_user(), cfg.ssh_user, public, cfg.ssh_cidr or _public_cidr(),
                            int(request.task.infra_options.get("disk_size") or cfg.disk_size))  # fmt: skip
        request.notify(f"gcp: starting {place.where}{' (spot)' if spot else ''}")
        with gl.gcp_calls(place.where):
            got = gl.attempt(gl.api(name, cfg.api_endpoint), place, spec, cfg.use_internal_ips,
                             cfg.ssh_timeout, request.cancelled)  # fmt: skip
        known = sky_home() / "gcp_known_hosts"
        forget_host(known, got.address)  # a new VM: trust on first use, pinned from then on
        handle = GcpHandle(request.cluster, cloud_user(), name, zone, got.vm.name, got.vm.instance_id,
                           offering.instance_type, got.address, cfg.ssh_user, str(key), str(known), spot)  # fmt: skip
        try:
            return self._start_kernel(handle, request)
        except BaseException:
            with contextlib.suppress(Exception):  # the kernel's error matters; status lists leftovers
                self._release(handle)
            raise

    def _watcher(self, handle: GcpHandle, kernel: SshHandle, request: Launch) -> str:
        args = ["--project", handle.project, "--zone", handle.zone, "--instance", handle.name]
        env = request.config.of(GcpConfig).autostop_env
        return selfstop_script(kernel, "jupyter_sky.infra.gcp.selfstop", args, env)

    def stop(self, handle: GcpHandle) -> None:
        from jupyter_sky.infra.gcp import launch as gl
        from jupyter_sky.infra.gcp import provision as gp

        if handle.spot:
            raise InfraError("a spot VM cannot be stopped and kept; use %sky down to end it.")
        self._end_kernel(handle)
        with gl.gcp_calls(self.where(handle)):
            gp.power(self._api(handle), handle.zone, handle.name, on=False)

    def start(self, handle: GcpHandle, request: Launch) -> GcpHandle:
        """Start the stopped VM again (its external address changes) and a kernel on it."""
        import time

        from jupyter_sky.infra.gcp import launch as gl
        from jupyter_sky.infra.gcp import provision as gp
        from jupyter_sky.infra.vm_access import forget_host

        cfg = request.config.of(GcpConfig)
        request.notify(f"gcp: starting the stopped {self.where(handle)}")
        with gl.gcp_calls(self.where(handle)):
            api = self._api(handle)
            gp.power(api, handle.zone, handle.name, on=True)
            nic = api.instances.get(project=handle.project, zone=handle.zone, instance=handle.name).network_interfaces[0]
        public = nic.access_configs[0].nat_i_p if nic.access_configs else ""
        address = str(nic.network_i_p if cfg.use_internal_ips else public or nic.network_i_p)
        wait_ssh(address, time.monotonic() + cfg.ssh_timeout, request.cancelled, f"%sky down {handle.cluster} ends the VM")
        forget_host(Path(handle.known_hosts), address)
        moved = dataclasses.replace(handle, address=address, ssh={})
        return self._start_kernel(moved, request)

    def _release(self, handle: GcpHandle) -> None:
        from jupyter_sky.infra.gcp import launch as gl
        from jupyter_sky.infra.gcp import provision as gp

        with gl.gcp_calls(self.where(handle)):
            gp.remove(self._api(handle), handle.zone, handle.name)

    def _vm_running(self, handle: GcpHandle) -> bool:
        from jupyter_sky.infra.gcp import launch as gl
        from jupyter_sky.infra.gcp import provision as gp

        try:
            with gl.gcp_calls(self.where(handle)):
                return gp.status(self._api(handle), handle.zone, handle.name) == "RUNNING"
        except Exception:  # noqa: BLE001 - cannot tell: stop its kernel as usual
            return True

    def _api(self, handle: GcpHandle) -> gp.GcpApi:
        from jupyter_sky.infra.gcp import launch as gl

        return gl.api(handle.project, _config().api_endpoint)

    # ---- what became of it -------------------------------------------------------------------
    def status(self, handle: GcpHandle) -> ClusterStatus:
        from jupyter_sky.infra.gcp import launch as gl
        from jupyter_sky.infra.gcp import provision as gp

        with gl.gcp_calls(self.where(handle)):
            state = gp.status(self._api(handle), handle.zone, handle.name)
        if state == "GONE":
            if handle.spot:
                return ClusterStatus(State.PREEMPTED, f"GCP deleted the spot VM {handle.name} (preempted).")
            return ClusterStatus(State.GONE, f"the VM {handle.name} no longer exists.")
        if state in ("TERMINATED", "STOPPING", "STOPPED", "SUSPENDED"):
            return ClusterStatus(State.STOPPED, f"the VM {handle.name} is {state.lower()}.")
        if self.is_alive(handle):
            return ClusterStatus(State.UP)
        return ClusterStatus(State.GONE, f"the VM {handle.name} runs but its kernel is not running.")

    def where(self, handle: GcpHandle) -> str:
        return f"gcp/{handle.zone} {handle.name} ({handle.machine_type})"

    def orphans(self) -> list[Orphan]:
        """Every VM labelled with this user's name in the project."""
        from jupyter_sky.infra.gcp import launch as gl
        from jupyter_sky.infra.gcp import provision as gp
        from jupyter_sky.infra.gcp.credentials import project

        cfg = _config()
        name = project(cfg.project)
        if not name:
            return []
        with gl.gcp_calls("gcp (every zone)"):
            api = gl.api(name, cfg.api_endpoint)
            rows = gp.orphans(api, cloud_user())

        def downer(zone: str, cluster: str) -> Any:
            return lambda: gp.remove(gl.api(name, cfg.api_endpoint), zone, gp.resource_name(cluster))

        return [Orphan("gcp", cluster, f"gcp/{zone} {gp.resource_name(cluster)}", state, downer(zone, cluster))
                for cluster, zone, state in rows]  # fmt: skip


def _config() -> GcpConfig:
    return section_here(GcpConfig)


def _public_cidr() -> str:
    from jupyter_sky.infra.vm_access import public_cidr

    return public_cidr("gcp.ssh_cidr")


def _catalog_zones(region: str, machine_type: str | None = None) -> list[str] | None:
    """The catalog's zones of ``region`` (selling ``machine_type``), cheapest first; None
    without a catalog."""
    try:
        from jupyter_sky.catalog.offers import load_offers

        rows = [o for o in load_offers() if o.infra == "gcp" and o.region == region]
    except Exception:  # noqa: BLE001 - no catalog: the shape check alone
        return None
    if machine_type:
        rows = [o for o in rows if o.instance_type == machine_type]
    rows.sort(key=lambda o: o.price or 0.0)
    return list(dict.fromkeys(o.zone for o in rows if o.zone))
