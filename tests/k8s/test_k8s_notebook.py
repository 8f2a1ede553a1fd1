"""``%%sky --infra k8s/<context>`` in a real notebook kernel, on the engine (SIMULATED
CONTAINERS: API server, scheduler, events, RBAC and port-forward are real; the pod's
container is a process in its own network namespace, see :mod:`tests.k8s.runtime`).

The whole product path: the plan reads the context's nodes, the infra creates a Secret and a
pod, the kernel in the pod gets its key through ``secretKeyRef``, the cell's output streams
back over port-forward and its variable comes home; ``%sky status`` lists the cluster and
``%sky down`` leaves no pod, service or secret with the cluster's labels.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from .conftest import IMAGE_BARE, IMAGE_KERNEL, K8sEngine
from .engine import USER_NAMESPACE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbdriver import Notebook  # noqa: E402

pytestmark = [pytest.mark.slow]


@pytest.fixture
def notebook(k8s: K8sEngine, tmp_path: Path) -> Iterator[Notebook]:
    """A notebook kernel whose KUBECONFIG is the engine's user file and whose config names
    the engine's Python image."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.yaml").write_text(
        f"k8s:\n  image: {IMAGE_KERNEL}\n  pending_timeout: 20\n  ready_timeout: 60\n"
    )
    env = dict(os.environ, KUBECONFIG=str(k8s.user_kubeconfig), JUPYTER_SKY_HOME=str(home))
    nb = Notebook(env, str(tmp_path))
    assert nb.run("%load_ext jupyter_sky").status == "ok"
    yield nb
    nb.shutdown()


def labelled(k8s: K8sEngine, cluster: str) -> list[str]:
    """Every pod, service and secret in the user's namespace with the cluster's label."""
    api = config.new_client_from_config(str(k8s.admin_kubeconfig))
    core = client.CoreV1Api(api)
    sel = f"jupyter-sky/cluster={cluster}"
    found = [f"pod/{p.metadata.name}" for p in core.list_namespaced_pod(USER_NAMESPACE, label_selector=sel).items]
    found += [f"svc/{s.metadata.name}" for s in core.list_namespaced_service(USER_NAMESPACE, label_selector=sel).items]
    found += [f"secret/{s.metadata.name}" for s in core.list_namespaced_secret(USER_NAMESPACE, label_selector=sel).items]
    api.close()
    return found


def test_simulated_containers_cell_runs_in_a_pod_and_its_variable_comes_home(
    k8s: K8sEngine, notebook: Notebook
) -> None:
    res = notebook.run(
        "%%sky --infra k8s/skyk8s --name kc\nimport os\nprint('in', os.environ['HOSTNAME'])\nx = 6 * 7",
        timeout=180,
    )
    assert res.status == "ok", (res.error_text, res.stderr)
    assert res.stdout.startswith("in sky-kc-"), res.stdout
    assert "k8s: creating pod sky-kc-" in res.stderr and "on node skyk8s-cpu" in res.stderr, res.stderr
    assert notebook.value("x") == "42"
    assert any(p.startswith("pod/sky-kc-") for p in labelled(k8s, "kc"))
    assert any(p.startswith("secret/sky-kc-") for p in labelled(k8s, "kc"))
    again = notebook.run("%%sky --name kc\nprint(x + 1)", timeout=60)
    assert again.status == "ok" and again.stdout.strip() == "43", (again.error_text, again.stdout)
    status = notebook.run("%sky status", timeout=60).stdout
    assert any(line.split()[:3] == ["kc", "k8s", "UP"] for line in status.splitlines()), status
    down = notebook.run("%sky down kc", timeout=60)
    assert down.status == "ok", down.error_text
    assert labelled(k8s, "kc") == []


def test_simulated_containers_num_nodes_makes_named_pods_with_the_slurm_variables(
    k8s: K8sEngine, notebook: Notebook
) -> None:
    """``--num-nodes 2``: the kernel's pod and one more, named by a headless Service; each
    pod is told MASTER_ADDR, WORLD_SIZE and its NODE_RANK as Slurm's nodes are (only the
    kernel's pod holds the kernel's key); down leaves nothing."""
    res = notebook.run(
        "%%sky --infra k8s/skyk8s --num-nodes 2 --name kn\nimport os\n"
        "print(os.environ['WORLD_SIZE'], os.environ['NODE_RANK'], os.environ['MASTER_ADDR'], os.environ['HOSTNAME'])",
        timeout=180,
    )
    assert res.status == "ok", (res.error_text, res.stderr)
    world, rank, master, host = res.stdout.split()
    assert (world, rank, master) == ("2", "0", f"{host}.{host}"), res.stdout
    assert "and 1 more node pod" in res.stderr, res.stderr
    found = labelled(k8s, "kn")
    assert sorted(p for p in found if not p.startswith("secret/")) == [f"pod/{host}", f"pod/{host}-1", f"svc/{host}"]
    api = config.new_client_from_config(str(k8s.admin_kubeconfig))
    worker = client.CoreV1Api(api).read_namespaced_pod(f"{host}-1", USER_NAMESPACE)
    api.close()
    env = {e.name: e.value for e in worker.spec.containers[0].env}
    assert (worker.status.phase, env["NODE_RANK"], env["MASTER_ADDR"]) == ("Running", "1", f"{host}.{host}")
    assert "JUPYTER_SKY_KERNEL_KEY" not in env  # only the kernel's pod holds its key
    assert (worker.spec.hostname, worker.spec.subdomain) == (f"{host}-1", host)
    down = notebook.run("%sky down kn", timeout=60)
    assert down.status == "ok", down.error_text
    assert labelled(k8s, "kn") == []


def test_simulated_containers_a_bare_image_gets_the_kernel_from_wheels_sent_over_the_api(
    k8s: K8sEngine, tmp_path: Path
) -> None:
    """An image whose Python has neither ipykernel nor cloudpickle nor jupyter-sky (a bare
    venv): the pod's bootstrap describes its Python through the API server's port-forward,
    this notebook sends the wheels it lacks, the pod installs them in a directory of its own
    and becomes the kernel; nothing is installed in the image; down leaves nothing."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.yaml").write_text(f"k8s:\n  image: {IMAGE_BARE}\n  pending_timeout: 20\n  ready_timeout: 120\n")
    env = dict(os.environ, KUBECONFIG=str(k8s.user_kubeconfig), JUPYTER_SKY_HOME=str(home))
    nb = Notebook(env, str(tmp_path))
    try:
        assert nb.run("%load_ext jupyter_sky").status == "ok"
        res = nb.run("%%sky --infra k8s/skyk8s --name kb\nimport ipykernel, sys\nprint(ipykernel.__file__)\nx = 6 * 7",
                     timeout=300)  # fmt: skip
        assert res.status == "ok", (res.error_text, res.stderr)
        assert "the image lacks ipykernel" in res.stderr and " wheels (" in res.stderr, res.stderr
        assert "/jupyter-sky-" in res.stdout and "/site/ipykernel/" in res.stdout, res.stdout
        assert nb.value("x") == "42"
        assert nb.run("%sky down kb", timeout=60).status == "ok"
        assert labelled(k8s, "kb") == []
    finally:
        nb.shutdown()


def test_simulated_containers_stop_deletes_the_pods_and_the_next_cell_starts_new_ones(
    k8s: K8sEngine, notebook: Notebook
) -> None:
    """``%sky stop`` on k8s deletes the pods (nothing billable is kept; the Secret marks the
    cluster stopped), ``%sky status`` says STOPPED, the next cell starts new pods and says its
    remote state was lost; down leaves nothing."""
    assert notebook.run("%%sky --infra k8s/skyk8s --name kst\nimport os\nprint(os.environ['HOSTNAME'])",
                        timeout=180).status == "ok"  # fmt: skip
    res = notebook.run("%sky stop kst", timeout=60)
    assert "cluster 'kst' is stopped (its pods are deleted, nothing is billed)" in res.stdout, (res.stdout, res.error_text)
    assert [p for p in labelled(k8s, "kst") if not p.startswith("secret/")] == []
    status = notebook.run("%sky status", timeout=60).stdout
    assert any(line.split()[:3] == ["kst", "k8s", "STOPPED"] for line in status.splitlines()), status
    again = notebook.run("%%sky --name kst\nprint('again')", timeout=180)
    assert again.status == "ok" and again.stdout.strip() == "again", (again.error_text, again.stderr)
    assert "started the stopped cluster 'kst' again (in new pods) — remote state was lost" in again.stderr, again.stderr
    assert len([p for p in labelled(k8s, "kst") if p.startswith("secret/")]) == 1  # the old one is gone
    assert notebook.run("%sky down kst", timeout=60).status == "ok"
    assert labelled(k8s, "kst") == []
