"""One launch attempt: Secret and pod, Running, kernel answering — or nothing left behind."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from jupyter_sky.infra.base import LaunchError
from jupyter_sky.infra.kubernetes.bootstrap import bootstrap
from jupyter_sky.infra.kubernetes.kernel import PodKernel
from jupyter_sky.infra.kubernetes.objects import api_errors, create, remove
from jupyter_sky.infra.kubernetes.pods import (
    ANNOTATION_CLUSTER,
    LABEL_CLUSTER,
    LABEL_USER,
    PodPlan,
    dns_name,
    nodes_env,
    user_label,
)
from jupyter_sky.infra.kubernetes.sizing import node_for
from jupyter_sky.infra.kubernetes.waiting import wait_running
from jupyter_sky.infra.over_ssh import kernel_args, kernel_env

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api

    from jupyter_sky.infra.base import Launch
    from jupyter_sky.infra.kubernetes import K8sHandle
    from jupyter_sky.infra.kubernetes.config import KubernetesConfig
    from jupyter_sky.infra.kubernetes.nodes import NodeRoom


def plan_for(request: Launch, cfg: KubernetesConfig, room: NodeRoom) -> tuple[PodPlan, list[PodPlan]]:
    """The kernel's pod, and with ``--num-nodes N`` the N - 1 other nodes' pods (same size
    and GPU type, any node that fits) named by one headless Service."""
    res = request.task.resources
    gpus = res.accelerator_count or (1 if res.accelerator else 0)
    name = dns_name(f"sky-{request.cluster}")[:50].rstrip("-") + "-" + uuid.uuid4().hex[:6]
    selector = {"kubernetes.io/hostname": room.name} if room.name else {}
    if gpus and room.gpu_label:
        selector[room.gpu_label[0]] = room.gpu_label[1]
    options = request.task.infra_options
    plan = PodPlan(
        name=name, cluster=request.cluster, image=options.get("image") or cfg.image_for(gpus),
        secret=name, cpus=res.cpus, memory_gb=res.memory_gb, gpus=gpus,
        gpu_resource=room.gpu_resource, node_selector=selector,
        env=kernel_env(request, "k8s"), args=tuple(kernel_args(request)), boot=cfg.bootstrap,
    )  # fmt: skip
    nodes = max(1, request.task.num_nodes)
    if nodes == 1:
        return plan, []
    names = [name] + [f"{name}-{rank}" for rank in range(1, nodes)]
    anywhere = {k: v for k, v in selector.items() if k != "kubernetes.io/hostname"}
    plan = dataclasses.replace(plan, subdomain=name, env={**plan.env, **nodes_env(names, name, 0)})
    workers = [dataclasses.replace(plan, name=names[rank], worker=True, node_selector=anywhere, args=(),
                                   env={**plan.env, **nodes_env(names, name, rank)})
               for rank in range(1, nodes)]  # fmt: skip
    return plan, workers


def start(
    core: CoreV1Api,
    request: Launch,
    cfg: KubernetesConfig,
    context: str,
    namespace: str,
    node: str,
    rooms: list[NodeRoom],
) -> tuple[K8sHandle, PodKernel]:
    """Create the cluster's Secret and pod, wait for it and its kernel; on any failure
    delete what was created and raise (a LaunchError where failover may go on)."""
    from jupyter_sky.infra.kubernetes import K8sHandle

    where = f"k8s/{context}/{namespace}"
    plan, workers = plan_for(request, cfg, node_for(request.task.resources, rooms, node, context))
    key = secrets.token_hex(32)
    more = f" and {len(workers)} more node pod{'s' if len(workers) > 1 else ''}" if workers else ""
    request.notify(f"k8s: creating pod {plan.name}{more} in {where} on node "
                   f"{plan.node_selector.get('kubernetes.io/hostname', 'any')}")  # fmt: skip
    try:
        with api_errors(where):
            create(core, namespace, plan, key, workers)
            for pod in (plan, *workers):
                wait_running(core, pod.name, namespace, cfg.pending_timeout, request.notify,
                             request.cancelled)  # fmt: skip
            if plan.boot:
                bootstrap(core.api_client.configuration, plan.name, namespace, request.notify, cfg.ready_timeout)
        kernel = PodKernel(core.api_client, plan.name, namespace, key)

        def still_running() -> None:
            if not kernel.check():
                raise LaunchError(f"pod {namespace}/{plan.name}: {kernel.reason}")

        try:
            with api_errors(where):
                kernel.wait_ready(cfg.ready_timeout, still_running)
        except BaseException:
            kernel.close()
            raise
    except BaseException:
        with contextlib.suppress(Exception):
            remove(core, namespace, plan.labels)
        raise
    handle = K8sHandle(request.cluster, context, namespace, plan.name, plan.secret,
                       plan.node_selector.get("kubernetes.io/hostname", ""), plan.image, 1 + len(workers))  # fmt: skip
    return handle, kernel


def interrupt(info: dict[str, Any]) -> None:
    """An ``interrupt_request`` on the control channel (ipykernel signals itself)."""
    import zmq
    from jupyter_client.session import Session

    session = Session(key=str(info["key"]).encode(), signature_scheme="hmac-sha256")
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 1000
    try:
        sock.connect(f"tcp://127.0.0.1:{info['control_port']}")
        session.send(sock, "interrupt_request", {})
        if sock.poll(5000):
            session.recv(sock)
    finally:
        sock.close()


def user_pods(core: CoreV1Api) -> list[tuple[str, str, str]]:
    """(namespace, cluster, phase) of this user's pods in every namespace one may list."""
    pods = core.list_pod_for_all_namespaces(label_selector=f"{LABEL_USER}={user_label()}").items
    out = []
    for pod in pods:
        meta = pod.metadata
        if meta is None:
            continue
        labels = meta.labels or {}
        cluster = (meta.annotations or {}).get(ANNOTATION_CLUSTER) or labels.get(LABEL_CLUSTER, "?")
        phase = pod.status.phase if pod.status else None
        out.append((str(meta.namespace), str(cluster), str(phase or "Unknown")))
    return out
