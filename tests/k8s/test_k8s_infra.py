"""KubernetesInfra against the engine (SIMULATED CONTAINERS: API server, scheduler, events,
RBAC and port-forward are real; containers are processes in network namespaces).

Contexts and ``%sky check`` per context, live offerings with two GPU types, a request no
node could hold refused before any pod exists, a Pending pod explained from its events and
turned into a capacity error that failover moves past, and an image that cannot be pulled.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from jupyter_sky.config_sections import Config
from jupyter_sky.errors import InfraError, SpecError
from jupyter_sky.infra.base import Launch, LaunchError, QuotaError
from jupyter_sky.infra.kubernetes import K8sHandle, KubernetesInfra
from jupyter_sky.infra.kubernetes.config import KubernetesConfig
from jupyter_sky.offering import Offering
from jupyter_sky.pipeline import failover
from jupyter_sky.spec.task import Resources, Task

from .conftest import IMAGE_BARE, IMAGE_KERNEL, K8sEngine
from .engine import USER_NAMESPACE
from .helpers import gone, pod_body, running_pod, unique

NS = USER_NAMESPACE
A100 = "NVIDIA-A100-SXM4-80GB"


@pytest.fixture
def infra(k8s: K8sEngine, monkeypatch: pytest.MonkeyPatch) -> KubernetesInfra:
    monkeypatch.setenv("KUBECONFIG", str(k8s.user_kubeconfig))
    return KubernetesInfra()


@pytest.fixture(scope="module")
def admin(k8s: K8sEngine) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(str(k8s.admin_kubeconfig))
    yield client.CoreV1Api(api)
    api.close()


def leftovers(core: client.CoreV1Api, cluster: str) -> list[str]:
    sel = f"jupyter-sky/cluster={cluster}"
    pods = [p.metadata.name for p in core.list_namespaced_pod(NS, label_selector=sel).items]
    secrets = [s.metadata.name for s in core.list_namespaced_secret(NS, label_selector=sel).items]
    return pods + secrets


def request(cluster: str, res: Resources, image: str = IMAGE_KERNEL) -> tuple[Launch, list[str]]:
    """A launch with the engine's image and a 3 s pending timeout, and the lines it notifies."""
    section = KubernetesConfig(image=image, pending_timeout=3.0)
    lines: list[str] = []
    config = Config(infras={"k8s": section})
    return Launch(cluster, Task(resources=res), config, notify=lines.append), lines


def test_paths_parse_context_and_namespace() -> None:
    assert KubernetesInfra.parse_path("").text == "k8s"
    path = KubernetesInfra.parse_path("my-ctx/team-a")
    assert (path.target, path.detail, path.text) == ("my-ctx", "team-a", "k8s/my-ctx/team-a")
    with pytest.raises(SpecError, match="not a valid namespace"):
        KubernetesInfra.parse_path("ctx/Team_A")
    with pytest.raises(SpecError, match="must be k8s"):
        KubernetesInfra.parse_path("a/b/c")


EKS_CONTEXT = "arn:aws:eks:us-east-1:123456789012:cluster/team-gpu"


def _eks_kubeconfig(source: Path, target: Path) -> Path:
    """``source`` with its one context renamed the way EKS names contexts (an ARN with '/')."""
    data = yaml.safe_load(source.read_text())
    data["contexts"][0]["name"] = data["current-context"] = EKS_CONTEXT
    target.write_text(yaml.safe_dump(data))
    return target


def test_an_eks_context_name_with_a_slash_parses_by_the_kubeconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = {"contexts": [{"name": "ctx", "context": {"cluster": "c"}}], "current-context": "ctx"}
    (tmp_path / "plain").write_text(yaml.safe_dump(plain))
    monkeypatch.setenv("KUBECONFIG", str(_eks_kubeconfig(tmp_path / "plain", tmp_path / "eks")))
    path = KubernetesInfra.parse_path(f"{EKS_CONTEXT}/team-a")
    assert (path.target, path.detail) == (EKS_CONTEXT, "team-a")
    assert KubernetesInfra.parse_path(EKS_CONTEXT).detail is None
    with pytest.raises(SpecError, match="must be k8s"):
        KubernetesInfra.parse_path("a/b/c")  # no context of the kubeconfig explains the '/'


def test_simulated_containers_an_eks_named_context_offers_its_nodes(
    k8s: K8sEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_eks_kubeconfig(k8s.user_kubeconfig, tmp_path / "eks")))
    offers = KubernetesInfra().offerings(Resources(infra=f"k8s/{EKS_CONTEXT}/{NS}", cpus=1))
    assert offers and {o.region for o in offers} == {EKS_CONTEXT}


def test_simulated_containers_check_per_context(infra: KubernetesInfra) -> None:
    assert infra.probe("skyk8s", NS) == ""
    locked = infra.probe("skyk8s-locked", "sky-locked")
    assert "may not create pods in namespace sky-locked" in locked, locked
    down = infra.probe("skyk8s-unreachable", NS)
    assert "cannot be reached" in down, down
    assert "is not in your kubeconfig" in infra.probe("nope", NS)
    assert infra.check() == ""  # one usable context is enough


def test_simulated_containers_offerings_from_nodes_two_gpu_types(infra: KubernetesInfra) -> None:
    rows = {o.instance_type: o for o in infra.live() if o.region == "skyk8s"}
    h100, a100, cpu = rows["skyk8s-h100"], rows["skyk8s-a100"], rows["skyk8s-cpu"]
    assert (h100.accelerator, a100.accelerator, cpu.accelerator) == ("H100", "A100", None)
    assert h100.note.endswith("of 8 H100 free") and a100.note.endswith("of 4 A100 free")
    assert cpu.vcpus <= 8 and cpu.note.endswith("of 8 CPUs free")
    wanted = Resources(infra="k8s/skyk8s", accelerator="A100", accelerator_count=1)
    assert {o.accelerator for o in infra.offerings(wanted)} == {"H100", "A100"}
    cpu_only = infra.offerings(Resources(infra="k8s/skyk8s", cpus=1))
    assert [o.instance_type for o in cpu_only] == ["skyk8s-cpu"]


def test_simulated_containers_too_large_is_refused_before_any_pod(
    infra: KubernetesInfra, admin: client.CoreV1Api
) -> None:
    huge = Resources(infra="k8s/skyk8s", accelerator="H100", accelerator_count=16)
    assert "no node of context skyk8s has 16 H100" in infra.unmet(huge)
    v100 = Resources(infra="k8s/skyk8s", accelerator="V100", accelerator_count=1)
    assert "has V100 GPUs (it has A100, H100)" in infra.unmet(v100)
    with pytest.raises(LaunchError, match="16 H100") as err:
        infra.launch(request("huge", huge)[0])
    assert err.value.scope == "region"
    assert leftovers(admin, "huge") == []


def test_simulated_containers_pending_explains_then_capacity_error_and_failover(
    infra: KubernetesInfra, admin: client.CoreV1Api
) -> None:
    blocker = unique("blocker")
    admin.create_namespaced_pod(NS, pod_body(blocker, IMAGE_BARE, ["python3", "-c", "import time; time.sleep(600)"], gpus=4, product=A100))
    running_pod(admin, blocker, NS)
    try:
        res = Resources(infra="k8s/skyk8s", accelerator_count=1)
        rows = [Offering("k8s", "skyk8s", "skyk8s-a100", 16, 128, "A100", 4),
                Offering("k8s", "skyk8s", "skyk8s-h100", 32, 256, "H100", 8)]  # fmt: skip
        launch, lines = request("full", res)

        def start(inf: object, row: Offering, index: int) -> K8sHandle:
            launch.offering = row
            return infra.launch(launch)

        notes: list[str] = []
        done = failover.launch(rows, lambda kind: infra, start, notes.append)  # type: ignore[arg-type, return-value]
        handle = done.handle
        assert isinstance(handle, K8sHandle) and handle.node == "skyk8s-h100"
        assert any("Pending — FailedScheduling" in line and "Insufficient nvidia.com/gpu" in line for line in lines), lines
        assert "stayed Pending for 3 s" in notes[0] and "skyk8s-a100" in notes[0], notes
        assert infra.is_alive(handle)
        infra.down(handle)
        assert leftovers(admin, "full") == []
    finally:
        admin.delete_namespaced_pod(blocker, NS)
        gone(admin, blocker, NS)


def test_simulated_containers_image_pull_error_is_surfaced_and_pod_deleted(
    infra: KubernetesInfra, admin: client.CoreV1Api
) -> None:
    launch, _ = request("pull", Resources(infra="k8s/skyk8s", cpus=1), "registry.invalid/none:1")
    with pytest.raises(LaunchError, match="cannot be pulled") as err:
        infra.launch(launch)
    assert err.value.scope == "infra" and "ErrImagePull" in str(err.value)
    assert leftovers(admin, "pull") == []


def test_simulated_containers_unknown_context_is_one_sentence(infra: KubernetesInfra) -> None:
    with pytest.raises(InfraError, match="not in your kubeconfig"):
        infra.launch(request("nope", Resources(infra="k8s/nope", cpus=1))[0])


def test_simulated_containers_quota_exceeded_is_a_quota_error_and_leaves_nothing(
    infra: KubernetesInfra, admin: client.CoreV1Api
) -> None:
    """A ResourceQuota refusing GPUs in the namespace (its status written here, as no
    kube-controller-manager runs): the real quota admission says "exceeded quota"."""
    name, gpu = unique("no-gpus"), "requests.nvidia.com/gpu"
    admin.create_namespaced_resource_quota(NS, {"metadata": {"name": name}, "spec": {"hard": {gpu: "0"}}})
    admin.patch_namespaced_resource_quota_status(name, NS, {"status": {"hard": {gpu: "0"}, "used": {gpu: "0"}}})
    try:
        res = Resources(infra="k8s/skyk8s", accelerator="H100", accelerator_count=1)
        with pytest.raises(QuotaError, match="exceeded quota") as err:
            infra.launch(request("quota", res)[0])
        assert err.value.scope == "region"
        assert leftovers(admin, "quota") == []
    finally:
        admin.delete_namespaced_resource_quota(name, NS)
