"""Creating and deleting a cluster's objects (Secret, pods, services), found by label."""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.base import CredentialError, LaunchError, QuotaError
from jupyter_sky.infra.kubernetes.pods import PodPlan, pod_body, secret_body, selector, service_body

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api


@contextlib.contextmanager
def api_errors(where: str) -> Iterator[None]:
    """An API error as the seam's errors: 401/403 a CredentialError, others a LaunchError."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as exc:
        reason = _reason(exc)
        if exc.status == 403 and "exceeded quota" in reason:
            raise QuotaError(f"{where}: {reason}") from None
        if exc.status in (401, 403):
            raise CredentialError(f"{where}: not allowed ({reason}); ask the cluster's admin "
                                  "for access or choose another context or namespace") from None  # fmt: skip
        raise LaunchError(f"{where}: the API server refused ({exc.status} {reason})") from None
    except (HTTPError, OSError) as exc:
        raise LaunchError(f"{where}: the API server is unreachable ({exc})", "region") from None


def _reason(exc: object) -> str:
    import json

    body = getattr(exc, "body", None)
    with contextlib.suppress(ValueError, TypeError):
        return str(json.loads(body or "")["message"])
    return str(getattr(exc, "reason", "") or exc)


def create(core: CoreV1Api, namespace: str, plan: PodPlan, key: str, workers: list[PodPlan]) -> None:
    """The Secret with the kernel's key, the pod that reads it, and for several nodes the
    headless Service and the other nodes' pods."""
    # The client sends a plain mapping as the body unchanged (its stubs want the model).
    core.create_namespaced_secret(namespace, secret_body(plan, key))  # type: ignore[arg-type]
    if plan.subdomain:
        core.create_namespaced_service(namespace, service_body(plan))  # type: ignore[arg-type]
    for pod in (plan, *workers):
        core.create_namespaced_pod(namespace, pod_body(pod))  # type: ignore[arg-type]


def read_key(core: CoreV1Api, namespace: str, secret: str) -> str:
    """The kernel's HMAC key from the cluster's Secret."""
    data = core.read_namespaced_secret(secret, namespace).data or {}
    if "key" not in data:
        raise InfraError(f"Secret {namespace}/{secret} holds no kernel key; the cluster is broken, "
                         "run %sky down on it.")  # fmt: skip
    return base64.b64decode(data["key"]).decode()


def remove(
    core: CoreV1Api, namespace: str, labels: dict[str, str], wait: float = 15.0, secrets: bool = True
) -> None:
    """Delete the pods, services and (unless not ``secrets``) secrets with ``labels``; wait
    (bounded) for the pods."""
    from kubernetes.client.exceptions import ApiException

    sel = selector(labels)
    with contextlib.suppress(ApiException):
        core.delete_collection_namespaced_pod(namespace, label_selector=sel, grace_period_seconds=0)
    for svc in core.list_namespaced_service(namespace, label_selector=sel).items:
        with contextlib.suppress(ApiException):
            core.delete_namespaced_service(str(svc.metadata.name if svc.metadata else ""), namespace)
    if secrets:
        with contextlib.suppress(ApiException):
            core.delete_collection_namespaced_secret(namespace, label_selector=sel)
    _until(lambda: not core.list_namespaced_pod(namespace, label_selector=sel).items, wait)


def _until(probe: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
