"""The ``k8s`` infra (alias ``kubernetes``): a cell's kernel in a pod of a kubeconfig context.

``--infra k8s`` (the current context), ``k8s/<context>``, ``k8s/<context>/<namespace>``.
The ``kubernetes`` client (extra ``kubernetes``) is imported only inside functions.

A cluster is a Secret holding the kernel's key and a pod (:mod:`.pods`), labelled with the
cluster and the user; the pod is pinned to the node of the plan's row. A Pending pod reports
its warning events at once and counts as no capacity after ``pending_timeout`` (failover moves
on); an image that cannot be pulled is reported and the pod deleted (:mod:`.waiting`). The
kernel's ports are reached through the API server's port-forward (:mod:`.kernel`).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from jupyter_sky.errors import InfraError, SpecError
from jupyter_sky.infra.base import (
    ClusterStatus,
    CredentialError,
    Handle,
    Infra,
    InfraPath,
    Launch,
    LaunchError,
    Orphan,
    State,
)
from jupyter_sky.infra.kubernetes.config import KubernetesConfig
from jupyter_sky.infra.kubernetes.contexts import credentials_problem, read_contexts, split_context
from jupyter_sky.infra.kubernetes.pods import ANNOTATION_STOPPED
from jupyter_sky.offering import Offering

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, CoreV1Api

    from jupyter_sky.infra.kubernetes.kernel import PodKernel
    from jupyter_sky.infra.kubernetes.nodes import NodeRoom
    from jupyter_sky.spec.task import Resources

CONTEXT = re.compile(r"[A-Za-z0-9._:@/-]+")  # EKS names contexts by ARN: ...:cluster/<name>
NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
PROBE_TTL = 30.0
MAX_NODES = 64


@dataclass
class K8sHandle(Handle):
    """A cluster's pod and Secret in one namespace of one context."""

    cluster: str
    context: str
    namespace: str
    pod: str
    secret: str
    node: str = ""
    image: str = ""
    nodes: int = 1  # pods of the cluster (--num-nodes): the kernel's first


class KubernetesInfra(Infra[K8sHandle]):
    """Pods in the contexts of your kubeconfig, one per cluster; live offerings from nodes."""

    kind: ClassVar[str] = "k8s"
    extra: ClassVar[str] = "kubernetes"
    catalog: ClassVar[str | None] = None
    handle_type: ClassVar[type[Handle]] = K8sHandle
    config_section: ClassVar[type | None] = KubernetesConfig
    path_shape: ClassVar[str] = "k8s[/<context>[/<namespace>]]"
    aliases: ClassVar[tuple[str, ...]] = ("kubernetes",)
    sdk_modules: ClassVar[tuple[str, ...]] = ("kubernetes",)
    stop_keeps: ClassVar[tuple[str, str]] = ("its pods are deleted, nothing is billed", "in new pods")

    def max_nodes(self) -> int:
        """Pods one cluster may span (``--num-nodes``): the kernel's and the others'."""
        return MAX_NODES

    def __init__(self, settings: KubernetesConfig | None = None) -> None:
        self._settings = settings  # used when no config file sets a k8s:/kubernetes: section
        self._clients: dict[str, ApiClient] = {}
        self._probes: dict[tuple[str, str], tuple[float, str]] = {}
        self._kernels: dict[str, PodKernel] = {}
        self._lock = threading.Lock()

    # ---- what it is --------------------------------------------------------------------
    @classmethod
    def parse_path(cls, rest: str) -> InfraPath:
        if not rest:
            return InfraPath("k8s")
        shape = "k8s, k8s/<context> or k8s/<context>/<namespace>"
        context, namespace = split_context(rest)
        if not CONTEXT.fullmatch(context):
            raise SpecError(f"must be {shape}, not 'k8s/{rest}'.")
        if namespace is not None and not NAMESPACE.fullmatch(namespace):
            raise SpecError(f"names namespace {namespace!r}, which is not a valid namespace name "
                            "(lower-case letters, digits and '-').")  # fmt: skip
        return InfraPath(f"k8s/{rest}", region=context, target=context, detail=namespace)

    @classmethod
    def credentials(cls) -> str:
        return credentials_problem()

    def check(self) -> str:
        """``""`` when some context is reachable and may create pods, else why not (each)."""
        missing = self.credentials()
        if missing:
            return missing
        problems = []
        for ctx in read_contexts().contexts:
            problem = self.probe(ctx.name, ctx.namespace)
            if not problem:
                return ""
            problems.append(problem.rstrip("."))
        return "; ".join(problems) + "." if problems else "Your kubeconfig has no contexts."

    def probe(self, context: str, namespace: str) -> str:
        """``""`` if ``context`` answers and lets you create pods in ``namespace``, else one
        sentence; cached for 30 s."""
        now = time.monotonic()
        cached = self._probes.get((context, namespace))
        if cached and now - cached[0] < PROBE_TTL:
            return cached[1]
        problem = self._probe(context, namespace)
        self._probes[(context, namespace)] = (now, problem)
        return problem

    def _probe(self, context: str, namespace: str) -> str:
        from kubernetes.client import (
            AuthorizationV1Api,
            V1ResourceAttributes,
            V1SelfSubjectAccessReview,
            V1SelfSubjectAccessReviewSpec,
            VersionApi,
        )

        try:
            api = self._api(context)
            server = api.configuration.host
            VersionApi(api).get_code(_request_timeout=5)
            attrs = V1ResourceAttributes(namespace=namespace, verb="create", resource="pods")
            review = AuthorizationV1Api(api).create_self_subject_access_review(
                V1SelfSubjectAccessReview(spec=V1SelfSubjectAccessReviewSpec(resource_attributes=attrs)),
                _request_timeout=5,
            )
        except InfraError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - unreachable, TLS, refused: one sentence
            where = locals().get("server", "its API server")
            return (f"Context {context}: the API server {where} cannot be reached "
                    f"({type(exc).__name__}); check the cluster is up and the kubeconfig.")  # fmt: skip
        if review.status is None or not review.status.allowed:
            return (f"Context {context}: you may not create pods in namespace {namespace}; "
                    "ask the cluster's admin or choose another namespace.")  # fmt: skip
        return ""

    def _api(self, context: str) -> ApiClient:
        from jupyter_sky.infra.kubernetes.contexts import api_client

        with self._lock:
            if context not in self._clients:
                read_contexts().get(context)  # one sentence for an unknown context
                self._clients[context] = api_client(context)
            return self._clients[context]

    def _core(self, context: str) -> CoreV1Api:
        from kubernetes.client import CoreV1Api

        return CoreV1Api(self._api(context))

    # ---- offerings -----------------------------------------------------------------------
    def _rooms(self, context: str) -> list[NodeRoom]:
        from jupyter_sky.infra.kubernetes.nodes import rooms
        from jupyter_sky.infra.kubernetes.objects import api_errors

        with api_errors(f"k8s/{context}"):
            return rooms(self._core(context))

    def _usable_contexts(self, target: str | None = None) -> list[tuple[str, str]]:
        found = []
        for ctx in read_contexts().contexts:
            if target and ctx.name != target:
                continue
            if not self.probe(ctx.name, ctx.namespace):
                found.append((ctx.name, ctx.namespace))
        return found

    def live(self) -> list[Offering]:
        from jupyter_sky.infra.kubernetes.nodes import offering

        offers: list[Offering] = []
        for context, _ in self._usable_contexts():
            with contextlib.suppress(LaunchError):
                offers.extend(offering(context, room) for room in self._rooms(context))
        return offers

    def offerings(self, resources: Resources) -> list[Offering]:
        from jupyter_sky.infra.kubernetes.nodes import offering

        target = _path(resources.infra).target
        offers: list[Offering] = []
        for context, _ in self._usable_contexts(target):
            with contextlib.suppress(LaunchError):
                rooms = self._rooms(context)
                gpus = resources.accelerator_count or (1 if resources.accelerator else 0)
                offers.extend(offering(context, r) for r in rooms if bool(r.gpus) == bool(gpus))
        return offers

    def unmet(self, resources: Resources) -> str:
        """A request larger than any node of the context could ever hold, in one sentence."""
        from jupyter_sky.infra.kubernetes.sizing import too_large

        path = _path(resources.infra)
        contexts = read_contexts()
        context = path.target or (contexts.current or "")
        if not context:
            return ""
        try:
            return too_large(resources, self._rooms(context), context)
        except (InfraError, LaunchError):
            return ""

    # ---- lifecycle ------------------------------------------------------------------------
    def launch(self, request: Launch) -> K8sHandle:
        from jupyter_sky.infra.kubernetes.starting import start

        context, namespace = self._place(request)
        problem = self.probe(context, namespace)
        if problem:
            raise CredentialError(problem, "region")
        cfg = self._config(request)
        node = request.offering.instance_type if request.offering else ""
        core = self._core(context)
        handle, kernel = start(core, request, cfg, context, namespace, node, self._rooms(context))
        kernel.watch()
        self._kernels[handle.pod] = kernel
        return handle

    def _place(self, request: Launch) -> tuple[str, str]:
        path = _path(request.task.resources.infra)
        contexts = read_contexts()
        offering = request.offering
        ctx = contexts.get(offering.region) if offering else None
        ctx = ctx or (contexts.get(path.target) if path.target else contexts.default())
        cfg = self._config(request)
        return ctx.name, path.detail or cfg.namespace or ctx.namespace

    def _config(self, request: Launch) -> KubernetesConfig:
        configured = any(isinstance(v, KubernetesConfig) for v in request.config.infras.values())
        if self._settings is not None and not configured:
            return self._settings
        return request.config.of(KubernetesConfig)

    def _kernel(self, handle: K8sHandle) -> PodKernel:
        from jupyter_sky.infra.kubernetes.kernel import PodKernel
        from jupyter_sky.infra.kubernetes.objects import api_errors, read_key

        kernel = self._kernels.get(handle.pod)
        if kernel is None:
            where = f"k8s/{handle.context}/{handle.namespace}"
            with api_errors(where):
                key = read_key(self._core(handle.context), handle.namespace, handle.secret)
            kernel = PodKernel(self._api(handle.context), handle.pod, handle.namespace, key)
            kernel.alive = kernel.check()
            kernel.watch()
            kernel = self._kernels.setdefault(handle.pod, kernel)
        return kernel

    def connection_info(self, handle: K8sHandle) -> dict[str, Any]:
        kernel = self._kernel(handle)
        if not kernel.alive:
            raise InfraError(f"The kernel of cluster '{handle.cluster}' has ended: {kernel.reason}.")
        return kernel.local_info()

    def is_alive(self, handle: K8sHandle) -> bool:
        try:
            return self._kernel(handle).alive
        except (InfraError, OSError):
            return False

    def interrupt(self, handle: K8sHandle) -> None:
        from jupyter_sky.infra.kubernetes.starting import interrupt

        interrupt(self._kernel(handle).local_info())

    def restart(self, handle: K8sHandle, request: Launch) -> K8sHandle:
        self.down(handle)
        return self.launch(request)

    def down(self, handle: K8sHandle) -> None:
        from jupyter_sky.infra.kubernetes.objects import api_errors, remove
        from jupyter_sky.infra.kubernetes.pods import cluster_labels

        kernel = self._kernels.pop(handle.pod, None)
        if kernel is not None:
            kernel.close()
        with api_errors(f"k8s/{handle.context}/{handle.namespace}"):
            remove(self._core(handle.context), handle.namespace, cluster_labels(handle.cluster))

    def stop(self, handle: K8sHandle) -> None:
        """Delete the cluster's pods and Service (nothing billable is kept); its Secret stays
        as the mark of a stopped cluster until it starts again or goes down."""
        from jupyter_sky.infra.kubernetes.objects import api_errors, remove
        from jupyter_sky.infra.kubernetes.pods import cluster_labels

        kernel = self._kernels.pop(handle.pod, None)
        if kernel is not None:
            kernel.close()
        core = self._core(handle.context)
        with api_errors(f"k8s/{handle.context}/{handle.namespace}"):
            remove(core, handle.namespace, cluster_labels(handle.cluster), secrets=False)
            mark = {"metadata": {"annotations": {ANNOTATION_STOPPED: "true"}}}
            core.patch_namespaced_secret(handle.secret, handle.namespace, mark)

    def start(self, handle: K8sHandle, request: Launch) -> K8sHandle:
        """New pods for a stopped cluster (a new kernel: nothing of the old one was kept)."""
        from kubernetes.client.exceptions import ApiException

        started = self.launch(request)
        with contextlib.suppress(ApiException, InfraError):
            self._core(handle.context).delete_namespaced_secret(handle.secret, handle.namespace)
        return started

    def status(self, handle: K8sHandle) -> ClusterStatus:
        kernel = self._kernels.get(handle.pod)
        if self.is_alive(handle):
            return ClusterStatus(State.UP)
        reason = kernel.reason if kernel is not None else ""
        if "evicted" in reason or "preempted" in reason:
            return ClusterStatus(State.PREEMPTED, reason)
        if self._stopped(handle):
            return ClusterStatus(State.STOPPED, "its pods were deleted by %sky stop")
        return ClusterStatus(State.GONE, reason or "its kernel is not running")

    def _stopped(self, handle: K8sHandle) -> bool:
        """No pod of the cluster is left and its Secret carries the mark of %sky stop: stopped,
        not gone (pods deleted by someone else leave the Secret unmarked)."""
        from jupyter_sky.infra.kubernetes.objects import api_errors
        from jupyter_sky.infra.kubernetes.pods import cluster_labels, selector

        core = self._core(handle.context)
        sel = selector(cluster_labels(handle.cluster))
        with api_errors(f"k8s/{handle.context}/{handle.namespace}"):
            if core.list_namespaced_pod(handle.namespace, label_selector=sel).items:
                return False
            names = {s.metadata.name for s in core.list_namespaced_secret(handle.namespace, label_selector=sel).items
                     if s.metadata is not None and (s.metadata.annotations or {}).get(ANNOTATION_STOPPED)}  # fmt: skip
        return handle.secret in names

    def exit_reason(self, handle: K8sHandle) -> str:
        kernel = self._kernels.get(handle.pod)
        return kernel.reason if kernel is not None else ""

    def where(self, handle: K8sHandle) -> str:
        more = f" (+{handle.nodes - 1} node pods)" if handle.nodes > 1 else ""
        return f"k8s/{handle.context}/{handle.namespace} pod {handle.pod}{more}"

    def orphans(self) -> list[Orphan]:
        """Every pod of this user (by label) in the contexts that answer."""
        from jupyter_sky.infra.kubernetes.starting import user_pods

        found = []
        for context, _ in self._usable_contexts():
            for namespace, cluster, phase in user_pods(self._core(context)):
                def end(c: str = context, ns: str = namespace, name: str = cluster) -> None:
                    from jupyter_sky.infra.kubernetes.objects import remove
                    from jupyter_sky.infra.kubernetes.pods import cluster_labels

                    remove(self._core(c), ns, cluster_labels(name))

                found.append(Orphan("k8s", cluster, f"k8s/{context}/{namespace}", phase, end))
        return found


def _path(infra: str | None) -> InfraPath:
    kind, _, rest = (infra or "").partition("/")
    if kind.lower() not in ("k8s", "kubernetes"):
        return InfraPath("k8s")
    return KubernetesInfra.parse_path(rest)


def new_key() -> str:
    return secrets.token_hex(32)
