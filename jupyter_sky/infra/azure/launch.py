"""One launch attempt on Azure, all or nothing, and the VM's self-stop watcher.

:func:`attempt` provisions the cluster's group, network and VM (:mod:`.provision`, which removes
what it made when the attempt fails), waits (bounded) until its sshd answers, and turns a failure
into the seam's error with the scope failover needs: no capacity or a quota → the next region,
authentication → the whole cloud. Throttling is retried in place.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.azure import provision as ap
from jupyter_sky.infra.azure.config import AzureConfig
from jupyter_sky.infra.base import CapacityError, CredentialError, QuotaError
from jupyter_sky.infra.verdict import Verdict
from jupyter_sky.infra.vm_kernel import wait_ssh


@dataclass(frozen=True)
class Reached:
    """A running VM of the cluster and the address this machine reaches it on."""

    vm: ap.AzureVm
    address: str


def api(subscription: str, cfg: AzureConfig) -> ap.AzureApi:
    """The ARM clients with ``DefaultAzureCredential`` (endpoint and CA from the config)."""
    extra: dict[str, object] = {"polling_interval": cfg.poll_seconds}
    if cfg.base_url:
        extra["base_url"] = cfg.base_url
    if cfg.ca_bundle:
        extra["connection_verify"] = cfg.ca_bundle
    return ap.AzureApi(subscription, **extra)


@contextlib.contextmanager
def azure_calls(where: str) -> Iterator[None]:
    """Turn the SDK's errors (and a failed sign-in) into the seam's, with their scope."""
    from azure.core.exceptions import AzureError

    from jupyter_sky.infra.azure.errors import classify_exception

    try:
        yield
    except ap.AzureLaunchError as exc:
        raise seam_error(exc.verdict) from None
    except AzureError as exc:
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


def attempt(client: ap.AzureApi, place: ap.AzurePlacement, spec: ap.AzureVmSpec, ssh_timeout: float,
            cancelled: Callable[[], bool], tries: int = 3) -> Reached:  # fmt: skip
    """Provision at ``place`` and wait for SSH; nothing of the attempt is left when it fails."""
    for n in range(1, tries + 1):
        try:
            vm = ap.provision(client, place, spec)
            break
        except ap.AzureLaunchError as exc:
            if exc.verdict.kind != "retry" or n == tries or cancelled():
                raise seam_error(exc.verdict) from None
            time.sleep(0.2 * 2**n)
    try:
        wait_ssh(vm.public_ip, time.monotonic() + ssh_timeout, cancelled, "the VM is deleted")
    except BaseException:
        with contextlib.suppress(Exception):  # the wait's error matters; status lists leftovers
            ap.remove(client, vm)
        raise
    return Reached(vm, vm.public_ip)
