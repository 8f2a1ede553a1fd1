"""One launch attempt on EC2, all or nothing: instance up and SSH answering, or nothing left.

:func:`attempt` creates (or reuses) the user's security group, starts the instance with the
user's key in cloud-init user data, waits (bounded) until it runs and its sshd answers, and
pins its host key from the console output when the API gives it.  Any failure — an EC2 error,
a timeout, a cancel — first tears down what this attempt created, then raises:
:class:`AttemptFailed` carries the :class:`~jupyter_sky.infra.aws.errors.Verdict` that
failover needs (next zone, next region, another infra).
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_sky.config import sky_home
from jupyter_sky.errors import InfraError
from jupyter_sky.infra.aws import provision
from jupyter_sky.infra.aws.errors import Verdict, classify_client_error
from jupyter_sky.infra.aws.identity import LOGIN_USER, Owner, user_data, user_key
from jupyter_sky.infra.vm_kernel import wait_ssh

BEGIN, END = "-----BEGIN SSH HOST KEY KEYS-----", "-----END SSH HOST KEY KEYS-----"


class AttemptFailed(InfraError):
    """A launch attempt failed and left nothing behind; ``verdict`` says where to go next."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.sentence)
        self.verdict = verdict


@dataclass(frozen=True)
class Placement:
    """Where and what to launch, plus the ``aws:`` settings that shape it."""

    region: str
    zone: str
    instance_type: str
    gpu: bool = False
    spot: bool = False
    max_price: float | None = None
    disk_gb: int = 100
    image_id: str | None = None
    ssh_cidr: str = ""
    vpc_name: str | None = None
    use_internal_ips: bool = False

    def where(self) -> str:
        return f"aws/{self.zone} {self.instance_type}{' (spot)' if self.spot else ''}"


@dataclass(frozen=True)
class Launched:
    """What the cluster handle keeps: the instance and how to reach it over SSH."""

    region: str
    zone: str
    instance_id: str
    address: str
    user: str
    key: str
    known_hosts: str
    host_key_pinned: bool


def attempt(cluster: str, place: Placement, ssh_timeout: float = 300.0,
            cancelled: Callable[[], bool] = lambda: False, tries: int = 3) -> Launched:  # fmt: skip
    """Launch ``cluster`` at ``place``; on any failure nothing of this attempt is left.

    RunInstances is sent without botocore's own retries (AWS answers "no capacity" with a 500,
    which must move on to the next zone at once); throttling and internal errors are retried
    here in place, ``tries`` times with backoff, before the attempt gives up.
    """
    for n in range(1, tries + 1):
        try:
            return _attempt_once(cluster, place, ssh_timeout, cancelled)
        except AttemptFailed as exc:
            if exc.verdict.kind != "retry" or n == tries or cancelled():
                raise
            time.sleep(0.2 * 2**n)
    raise AssertionError("unreachable")


def _attempt_once(cluster: str, place: Placement, ssh_timeout: float, cancelled: Callable[[], bool]) -> Launched:
    from botocore.exceptions import ClientError

    ec2 = provision.client(place.region)
    owner = Owner.of(cluster)
    made: list[str] = []  # the group, when this attempt created it
    try:
        instance = _start(ec2, owner, place, made)
        return _reach(ec2, owner, instance, place, ssh_timeout, cancelled)
    except ClientError as exc:
        _cleanup(ec2, owner, made)
        raise AttemptFailed(classify_client_error(exc, place.where())) from None
    except BaseException:
        _cleanup(ec2, owner, made)
        raise


def _start(ec2: provision.Ec2, owner: Owner, place: Placement, made: list[str]) -> dict[str, Any]:
    vpc, subnet = provision.subnet_in(ec2, place.zone, place.vpc_name)
    group, created = provision.security_group(ec2, vpc, owner, place.ssh_cidr)
    if created:
        made.append(group)
    image = place.image_id or provision.image_for(ec2, place.region, place.gpu)
    _, public = user_key(owner.user)
    request = provision.InstanceRequest(owner, place.instance_type, subnet, group, image, user_data(public),
                                        place.disk_gb, place.spot, place.max_price)  # fmt: skip
    return provision.run_instance(provision.client(place.region, attempts=1), request)


def _reach(ec2: provision.Ec2, owner: Owner, instance: dict[str, Any], place: Placement, timeout: float,
           cancelled: Callable[[], bool]) -> Launched:  # fmt: skip
    deadline = time.monotonic() + timeout
    iid = str(instance["InstanceId"])
    running = provision.wait_state(ec2, iid, "running", timeout, cancelled)
    address = str(running["PrivateIpAddress"] if place.use_internal_ips else running.get("PublicIpAddress") or "")
    if not address:
        raise InfraError(f"instance {iid} has no {'private' if place.use_internal_ips else 'public'} address.")
    wait_ssh(address, deadline, cancelled, "the instance is terminated")
    known_hosts = sky_home() / "aws_known_hosts"
    pinned = pin_from_console(ec2, iid, address, known_hosts)
    key, _ = user_key(owner.user)
    return Launched(place.region, place.zone, iid, address, LOGIN_USER, str(key), str(known_hosts), pinned)


def pin_from_console(ec2: provision.Ec2, instance_id: str, address: str, known_hosts: Path) -> bool:
    """Write the host keys cloud-init printed to the console into ``known_hosts``; False if none."""
    output = ec2.get_console_output(InstanceId=instance_id).get("Output") or ""
    text = output
    if BEGIN not in output:
        with contextlib.suppress(ValueError):
            text = base64.b64decode(output).decode("utf-8", "replace")
    if BEGIN not in text or END not in text:
        return False
    keys = [line.split()[:2] for line in text.split(BEGIN, 1)[1].split(END, 1)[0].splitlines() if line.strip()]
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    old = [ln for ln in (known_hosts.read_text().splitlines() if known_hosts.exists() else [])
           if ln.split(" ", 1)[0] != address]  # fmt: skip
    known_hosts.write_text("".join(f"{ln}\n" for ln in old + [f"{address} {k[0]} {k[1]}" for k in keys if len(k) == 2]))
    return True


def _cleanup(ec2: provision.Ec2, owner: Owner, groups: list[str]) -> None:
    """Terminate what this attempt started and the group if unused (never raises over the error)."""
    with contextlib.suppress(Exception):  # the original error matters more; status lists leftovers
        provision.down_cluster(ec2, owner, groups=tuple(groups))
