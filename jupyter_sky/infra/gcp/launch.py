"""One launch attempt on Compute Engine, all or nothing, and the VM's self-stop watcher.

:func:`attempt` provisions the VM and its SSH firewall rule (:mod:`.provision`, which removes
what it made when the attempt fails), waits (bounded) until its sshd answers, and turns a
failure into the seam's error with the scope failover needs: no capacity → the next zone,
a quota → the region (the whole cloud for ``GPUS_ALL_REGIONS``), permissions → the whole
cloud. Throttling is retried in place.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.base import CapacityError, CredentialError, QuotaError
from jupyter_sky.infra.gcp import provision as gp
from jupyter_sky.infra.verdict import Verdict
from jupyter_sky.infra.vm_kernel import wait_ssh

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@dataclass(frozen=True)
class Reached:
    """A running VM of the cluster and the address this machine reaches it on."""

    vm: gp.GcpVm
    address: str


def api(project: str, endpoint: str | None) -> gp.GcpApi:
    """Compute Engine clients with Application Default Credentials (a CredentialError if none)."""
    import google.auth
    from google.auth import exceptions as gauth

    try:
        creds, _ = google.auth.default(scopes=SCOPES)
    except gauth.DefaultCredentialsError as exc:
        raise CredentialError(f"no usable Google Cloud credentials ({str(exc).split('. ')[0]}).") from None
    return gp.GcpApi(project, credentials=creds, endpoint=endpoint)


@contextlib.contextmanager
def gcp_calls(where: str) -> Iterator[None]:
    """Turn the SDK's errors (and a refused token) into the seam's, with their scope."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as gauth

    try:
        yield
    except gp.GcpLaunchError as exc:
        raise seam_error(exc.verdict) from None
    except gauth.RefreshError as exc:
        raise CredentialError(f"Google Cloud refused the credentials ({str(exc)[:120]}).") from None
    except gexc.GoogleAPICallError as exc:
        from jupyter_sky.infra.gcp.errors import classify_exception

        raise seam_error(classify_exception(exc, where)) from None


def seam_error(verdict: Verdict) -> InfraError:
    """The seam's error for a verdict: failover reads the type and its scope."""
    kinds: dict[str, Callable[[str, str], InfraError]] = {
        "capacity": lambda text, scope: CapacityError(text, scope),  # type: ignore[arg-type]
        "quota": lambda text, scope: QuotaError(text, scope),  # type: ignore[arg-type]
        "credential": lambda text, scope: CredentialError(text, scope),  # type: ignore[arg-type]
    }
    make = kinds.get(verdict.kind)
    return make(verdict.sentence, verdict.scope) if make else InfraError(verdict.sentence)


def attempt(client: gp.GcpApi, place: gp.GcpPlacement, spec: gp.GcpVmSpec, internal: bool,
            ssh_timeout: float, cancelled: Callable[[], bool], tries: int = 3) -> Reached:  # fmt: skip
    """Provision at ``place`` and wait for SSH; nothing of the attempt is left when it fails."""
    for n in range(1, tries + 1):
        try:
            vm = gp.provision(client, place, spec)
            break
        except gp.GcpLaunchError as exc:
            if exc.verdict.kind != "retry" or n == tries or cancelled():
                raise seam_error(exc.verdict) from None
            time.sleep(0.2 * 2**n)
    address = vm.private_ip if internal else vm.public_ip
    try:
        wait_ssh(address, time.monotonic() + ssh_timeout, cancelled, "the VM is deleted")
    except BaseException:
        with contextlib.suppress(Exception):  # the wait's error matters; status lists leftovers
            gp.remove(client, vm.zone, vm.name)
        raise
    return Reached(vm, address)
