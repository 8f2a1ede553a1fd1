"""The ``aws`` infra: a cell's kernel on an EC2 instance (``--infra aws[/<region>[/<zone>]]``).

boto3 (extra ``aws``) is imported only inside functions: importing this package costs nothing.
A launch is one all-or-nothing attempt at the placement failover gives it
(:mod:`.launch`: security group, instance with the user's key in cloud-init user data, SSH
answering, host key pinned from the console output), then the kernel is started over SSH by
the ``ssh`` infra (:meth:`SshInfra.launch_on`): bootstrap from wheels, kernel on the VM's
127.0.0.1, port forwards, replay after a drop. EC2's errors become the seam's
``CapacityError`` / ``QuotaError`` / ``CredentialError`` with their scope (:mod:`.ec2`).

Beside the kernel a watcher runs on the VM: when the kernel ends on its own (the idle or
autostop watchdog, the notebook gone), the instance stops (spot: terminates) itself through
the EC2 API and tags why; :meth:`AwsInfra.status` and :meth:`AwsInfra.exit_reason` say so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jupyter_sky.errors import InfraError, SpecError
from jupyter_sky.infra.aws.config import AwsConfig, image_id_flag
from jupyter_sky.infra.aws.credentials import problem as credentials_problem
from jupyter_sky.infra.base import (
    CapacityError,
    ClusterStatus,
    Handle,
    InfraFlag,
    InfraPath,
    Launch,
    LaunchError,
    Orphan,
    State,
)
from jupyter_sky.infra.vm_access import DISK_SIZE
from jupyter_sky.infra.vm_kernel import VmHandle, VmOverSsh, selfstop_script, wait_ssh
from jupyter_sky.offering import Offering

if TYPE_CHECKING:
    from jupyter_sky.infra.aws.launch import Launched, Placement
    from jupyter_sky.infra.ssh import SshHandle

REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d")
ZONE = re.compile(rf"{REGION.pattern}[a-z]")


@dataclass
class AwsHandle(VmHandle):
    """An EC2 instance of one cluster and the kernel on it (``ssh``: the ssh infra's handle)."""

    cluster: str
    user: str  # the jupyter-sky-user tag (whose resources these are)
    region: str
    zone: str
    instance_id: str
    instance_type: str
    address: str  # what this machine reaches over SSH (public or, with use_internal_ips, private)
    login: str
    key: str  # the private key file
    known_hosts: str
    spot: bool = False
    ssh: dict[str, object] = field(default_factory=dict)

    @property
    def ssh_name(self) -> str:
        """The name the ssh infra knows this VM by."""
        return f"aws-{self.instance_id}"


class AwsInfra(VmOverSsh[AwsHandle]):
    """EC2 instances, one per cluster; priced from the catalog, launched through failover.

    Parameters
    ----------
    notify : callable, optional
        Receives one-line reports outside a launch (a launch uses ``request.notify``).
    """

    kind: ClassVar[str] = "aws"
    extra: ClassVar[str] = "aws"
    catalog: ClassVar[str | None] = "aws"
    egress_per_gb: ClassVar[float] = 0.09
    handle_type: ClassVar[type[Handle]] = AwsHandle
    config_section: ClassVar[type | None] = AwsConfig
    path_shape: ClassVar[str] = "aws[/<region>[/<zone>]]"
    sdk_modules: ClassVar[tuple[str, ...]] = ("boto3",)
    flags: ClassVar[tuple[InfraFlag, ...]] = (
        DISK_SIZE,
        InfraFlag("--image-id", "image_id", "AWS: the AMI to boot (default: the class's image).",
                  "ami-0abc1234", image_id_flag),
    )  # fmt: skip

    # ---- what it is --------------------------------------------------------------------
    @classmethod
    def parse_path(cls, rest: str) -> InfraPath:
        parts = rest.lower().split("/") if rest else []
        if not parts:
            return InfraPath("aws")
        shape = "aws, aws/<region> or aws/<region>/<zone>"
        region, zone = parts[0], (parts[1] if len(parts) == 2 else None)
        if ZONE.fullmatch(region) and len(parts) == 1:
            raise SpecError(f"must be {shape}, not 'aws/{rest}' (a zone where the region goes): "
                            f"write aws/{region[:-1]}/{region}.")  # fmt: skip
        if len(parts) > 2 or not REGION.fullmatch(region):
            raise SpecError(f"must be {shape}, not 'aws/{rest}'.")
        known = _catalog_regions()
        if known and region not in known:
            raise SpecError(f"names unknown AWS region {region!r} (regions are such as us-east-1, eu-west-1).")
        if zone is not None and not (ZONE.fullmatch(zone) and zone[:-1] == region):
            raise SpecError(f"names {zone!r}, which is not a zone of {region} (such as {region}a).")
        text = f"aws/{region}" + (f"/{zone}" if zone else "")
        return InfraPath(text, region=region, zone=zone)

    @classmethod
    def credentials(cls) -> str:
        return credentials_problem()

    def check(self) -> str:
        return self.credentials()

    # ---- failover: which zones ---------------------------------------------------------------
    def zones(self, offering: Offering) -> list[str]:
        """The zones of ``offering.region`` to try in order (its own zone alone, when it has one)."""
        from jupyter_sky.infra.aws import ec2

        where = f"aws/{offering.region} {offering.instance_type}"
        try:
            with ec2.aws_calls(where):
                if offering.zone:
                    return [ec2.zone_name(offering.region, offering.zone)]
                cfg = _section(AwsConfig)
                return list(ec2.zones(offering.region, offering.instance_type, cfg.vpc_name))
        except LaunchError:  # the launch attempt meets it again and failover reads its scope
            return []

    # ---- lifecycle ------------------------------------------------------------------------
    def launch(self, request: Launch) -> AwsHandle:
        from jupyter_sky.infra.aws import ec2, launch

        offering = request.offering
        if offering is None or offering.infra != "aws" or not offering.instance_type:
            raise InfraError("an AWS launch needs a placement (an instance type in a region) from the plan.")
        cfg = request.config.of(AwsConfig)
        place = self._placement(request, offering, cfg)
        request.notify(f"aws: starting {place.where()}")
        with ec2.aws_calls(place.where()):
            got = launch.attempt(request.cluster, place, cfg.ssh_timeout, request.cancelled)
        handle = _handle(request.cluster, got, place)
        try:
            return self._start_kernel(handle, request)
        except BaseException:
            with contextlib.suppress(Exception):  # the kernel's error matters; status lists leftovers
                self._release(handle)
            raise

    def _placement(self, request: Launch, offering: Offering, cfg: AwsConfig) -> Placement:
        from jupyter_sky.infra.aws import ec2
        from jupyter_sky.infra.aws.launch import Placement

        resources, options = request.task.resources, request.task.infra_options
        where = f"aws/{offering.region} {offering.instance_type}"
        with ec2.aws_calls(where):
            usable = ec2.zones(offering.region, offering.instance_type, cfg.vpc_name)
            zone = ec2.zone_name(offering.region, offering.zone) if offering.zone else ""
        if not usable:
            raise CapacityError(f"no zone of {offering.region} offers {offering.instance_type} "
                                "with a subnet to launch into.", "region")  # fmt: skip
        if zone and zone not in usable:  # not offered there, or no subnet: the next zone may do
            raise CapacityError(f"{zone} does not offer {offering.instance_type} with a subnet to launch into.")
        zone = zone or usable[0]
        return Placement(
            region=offering.region, zone=zone, instance_type=offering.instance_type,
            gpu=offering.accelerator_count > 0, spot=request.spot or resources.spot,
            max_price=resources.max_price, disk_gb=int(options.get("disk_size") or cfg.disk_size),
            image_id=options.get("image_id") or cfg.image_for(offering.region),
            ssh_cidr=cfg.ssh_cidr or ec2.public_cidr(), vpc_name=cfg.vpc_name,
            use_internal_ips=cfg.use_internal_ips,
        )  # fmt: skip

    def _watcher(self, handle: AwsHandle, kernel: SshHandle, request: Launch) -> str:
        cfg = request.config.of(AwsConfig)
        args = ["--instance-id", handle.instance_id, "--region", handle.region] + (["--terminate"] if handle.spot else [])
        return selfstop_script(kernel, "jupyter_sky.infra.aws.selfstop", args, cfg.autostop_env,
                               with_reason=True, shutdown=cfg.autostop_shutdown)  # fmt: skip

    def stop(self, handle: AwsHandle) -> None:
        from jupyter_sky.infra.aws import ec2, provision

        if handle.spot:
            raise InfraError("a spot instance cannot be stopped and kept; use %sky down to end it.")
        self._end_kernel(handle)
        with ec2.aws_calls(self.where(handle)):
            client = provision.client(handle.region)
            client.stop_instances(InstanceIds=[handle.instance_id])
            provision.wait_state(client, handle.instance_id, "stopped", 300)

    def start(self, handle: AwsHandle, request: Launch) -> AwsHandle:
        """Start the stopped instance again (its address may be new) and a kernel on it."""
        from jupyter_sky.infra.aws import ec2, launch, provision

        cfg = request.config.of(AwsConfig)
        request.notify(f"aws: starting the stopped {self.where(handle)}")
        with ec2.aws_calls(self.where(handle)):
            client = provision.client(handle.region)
            client.start_instances(InstanceIds=[handle.instance_id])
            deadline = time.monotonic() + cfg.ssh_timeout
            running = provision.wait_state(client, handle.instance_id, "running", cfg.ssh_timeout, request.cancelled)
            address = str(running["PrivateIpAddress"] if cfg.use_internal_ips else running.get("PublicIpAddress") or "")
            wait_ssh(address, deadline, request.cancelled, f"%sky down {handle.cluster} ends the instance")
            launch.pin_from_console(client, handle.instance_id, address, Path(handle.known_hosts))
        moved = dataclasses.replace(handle, address=address, ssh={})
        return self._start_kernel(moved, request)

    def down(self, handle: AwsHandle) -> None:
        """A reclaimed instance (spot, terminated) has no kernel to stop — an SSH to it would
        only time out — but its security group is deleted with it."""
        from jupyter_sky.infra.aws import provision

        with contextlib.suppress(Exception):  # unknown: stop its kernel as usual
            inst = provision.describe(provision.client(handle.region), handle.instance_id) or {}
            if str(inst.get("State", {}).get("Name", "terminated")) in ("terminated", "shutting-down"):
                self._ssh.pop((handle.ssh_name, handle.address), None)
                return self._release(handle, tuple(g["GroupId"] for g in inst.get("SecurityGroups", [])))
        super().down(handle)

    def _release(self, handle: AwsHandle, groups: tuple[str, ...] = ()) -> None:
        from jupyter_sky.infra.aws import ec2, provision
        from jupyter_sky.infra.aws.identity import Owner

        with ec2.aws_calls(self.where(handle)):
            owner = Owner(handle.cluster, handle.user, socket.gethostname())
            provision.down_cluster(provision.client(handle.region), owner, groups=groups)

    # ---- what became of it -------------------------------------------------------------------
    def status(self, handle: AwsHandle) -> ClusterStatus:
        from jupyter_sky.infra.aws import ec2, provision

        with ec2.aws_calls(self.where(handle)):
            inst = provision.describe(provision.client(handle.region), handle.instance_id)
        state = str(inst["State"]["Name"]) if inst else "terminated"
        why = _stopped_reason(inst)
        if state in ("terminated", "shutting-down"):
            reason = str((inst or {}).get("StateReason", {}).get("Code", ""))
            if handle.spot and "Spot" in reason:
                return ClusterStatus(State.PREEMPTED, f"AWS reclaimed the spot instance {handle.instance_id}.")
            return ClusterStatus(State.GONE, why or f"the instance {handle.instance_id} is terminated.")
        if state in ("stopped", "stopping", "pending"):
            return ClusterStatus(State.STOPPED, why or f"the instance {handle.instance_id} is {state}.")
        if self.is_alive(handle):
            return ClusterStatus(State.UP)
        ended = self.exit_reason(handle) or "its kernel is not running"
        return ClusterStatus(State.GONE, f"the instance {handle.instance_id} runs but {ended}.")

    def exit_reason(self, handle: AwsHandle) -> str:
        from jupyter_sky.infra.aws import provision

        try:
            inst = provision.describe(provision.client(handle.region), handle.instance_id)
        except Exception:  # noqa: BLE001 - a reason is best effort
            inst = None
        why = _stopped_reason(inst)
        return why or super().exit_reason(handle)

    def where(self, handle: AwsHandle) -> str:
        return f"aws/{handle.zone} {handle.instance_id} ({handle.instance_type})"

    def orphans(self) -> list[Orphan]:
        """Every instance tagged with this user's name, in every region of the account."""
        from jupyter_sky.infra.aws import ec2, provision
        from jupyter_sky.infra.aws.identity import user_name

        user = user_name()
        with ec2.aws_calls("aws (every region)"):
            rows = provision.tagged_everywhere(user, provision.regions(provision.client(ec2.default_region())))
        return [Orphan(kind="aws", cluster=r["cluster"], where=f"aws/{r['zone']} {r['instance_id']} "
                       f"({r['instance_type']})", state=r["state"],
                       down=_downer(r["region"], r["cluster"], user)) for r in rows]  # fmt: skip


def _downer(region: str, cluster: str, user: str) -> Callable[[], None]:
    def down() -> None:
        from jupyter_sky.infra.aws import ec2, provision
        from jupyter_sky.infra.aws.identity import Owner

        with ec2.aws_calls(f"aws/{region}"):
            provision.down_cluster(provision.client(region), Owner(cluster, user, socket.gethostname()))

    return down


def _handle(cluster: str, got: Launched, place: Placement) -> AwsHandle:
    from jupyter_sky.infra.aws.identity import user_name

    return AwsHandle(cluster=cluster, user=user_name(), region=got.region, zone=got.zone,
                     instance_id=got.instance_id, instance_type=place.instance_type, address=got.address,
                     login=got.user, key=got.key, known_hosts=got.known_hosts, spot=place.spot)  # fmt: skip


def _stopped_reason(inst: dict[str, Any] | None) -> str:
    """Why the VM stopped itself (the tag its own stop call set), else ""."""
    from jupyter_sky.infra.aws.ec2 import TAG_STOPPED

    tags = {t["Key"]: t["Value"] for t in (inst or {}).get("Tags", [])}
    if TAG_STOPPED not in tags:
        return ""
    state = str((inst or {}).get("State", {}).get("Name", "gone"))
    return f"the VM {state} itself ({tags[TAG_STOPPED]})"


def _section(section: type[AwsConfig]) -> AwsConfig:
    from jupyter_sky.config import load_config

    return load_config(Path.cwd()).of(section)


def _catalog_regions() -> frozenset[str]:
    try:
        from jupyter_sky.catalog.offers import load_offers

        return frozenset(o.region for o in load_offers() if o.infra == "aws")
    except Exception:  # noqa: BLE001 - no catalog: the shape check alone
        return frozenset()
