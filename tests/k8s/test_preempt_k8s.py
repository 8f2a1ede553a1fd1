"""An evicted pod mid-cell, on the engine (SIMULATED CONTAINERS: API server, scheduler,
events, RBAC and port-forward are real; the pod's container is a process in its own network
namespace, see :mod:`tests.k8s.runtime`).

The test evicts the cell's pod as the kubelet does (phase Failed, reason Evicted; the runtime
then kills its container):

- without ``--recover`` the cell ends with one sentence naming the eviction;
- with ``--recover`` the dead pod is released, a new pod starts, the variable the cell read
  is pushed again, the cell reruns and its result comes home; ``%sky down`` leaves no pod,
  service or secret of the cluster.

The cell marks its start in /tmp (the simulated containers share this machine's files),
which tells the test when to evict and the rerun that it is the rerun.
"""

from __future__ import annotations

import glob
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from .conftest import IMAGE_KERNEL, K8sEngine
from .engine import USER_NAMESPACE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbdriver import Notebook  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.yaml").write_text(
        f"k8s:\n  image: {IMAGE_KERNEL}\n  pending_timeout: 20\n  ready_timeout: 60\n"
    )
    monkeypatch.setenv("JUPYTER_SKY_HOME", str(home))  # this process reads the same store
    return home


@pytest.fixture
def notebook(k8s: K8sEngine, home: Path, tmp_path: Path) -> Iterator[Notebook]:
    env = dict(os.environ, KUBECONFIG=str(k8s.user_kubeconfig), JUPYTER_SKY_HOME=str(home))
    nb = Notebook(env, str(tmp_path))
    assert nb.run("%load_ext jupyter_sky").status == "ok"
    yield nb
    nb.shutdown()


@pytest.fixture
def admin(k8s: K8sEngine) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(str(k8s.admin_kubeconfig))
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture
def token() -> Iterator[str]:
    mark = f"/tmp/skyevict-{uuid.uuid4().hex[:10]}"
    yield mark
    for path in glob.glob(mark + "-*"):
        os.unlink(path)


def cell(flags: str, mark: str) -> str:
    """A cell that reads ``seed``, marks its start, sleeps on its first run, assigns ``x``."""
    return (
        f"%%sky --infra k8s/skyk8s --name pk {flags}\n"
        "import glob, os, time\n"
        f"first = not glob.glob('{mark}-*')\n"
        f"open('{mark}-' + os.environ['HOSTNAME'], 'w').write('started')\n"
        "print('run in', os.environ['HOSTNAME'], flush=True)\n"
        "time.sleep(300 if first else 0)\n"
        "x = seed + 22\n"
    )


def pods(admin: client.CoreV1Api, cluster: str) -> list[client.V1Pod]:
    sel = f"jupyter-sky/cluster={cluster}"
    return list(admin.list_namespaced_pod(USER_NAMESPACE, label_selector=sel).items)


def labelled(admin: client.CoreV1Api, cluster: str) -> list[str]:
    sel = f"jupyter-sky/cluster={cluster}"
    found = [f"pod/{p.metadata.name}" for p in pods(admin, cluster)]
    found += [f"svc/{s.metadata.name}" for s in admin.list_namespaced_service(USER_NAMESPACE, label_selector=sel).items]
    found += [f"secret/{s.metadata.name}" for s in admin.list_namespaced_secret(USER_NAMESPACE, label_selector=sel).items]
    return found


def evict_when_started(admin: client.CoreV1Api, mark: str, timeout: float = 180) -> str:
    """Wait until the cell has started in its pod, then evict that pod; its name."""
    deadline = time.monotonic() + timeout
    while not glob.glob(mark + "-*"):
        assert time.monotonic() < deadline, "the cell never started in its pod"
        time.sleep(0.2)
    [pod] = pods(admin, "pk")
    admin.patch_namespaced_pod_status(pod.metadata.name, USER_NAMESPACE, {"status": {
        "phase": "Failed", "reason": "Evicted",
        "message": "The node was low on resource: memory."}})  # fmt: skip
    return str(pod.metadata.name)


def test_simulated_containers_without_recover_the_cell_says_its_pod_was_evicted(
    k8s: K8sEngine, notebook: Notebook, admin: client.CoreV1Api, token: str
) -> None:
    from jupyter_sky.state import Store

    assert notebook.run("seed = 20").status == "ok"
    msg = notebook.send(cell("", token))
    evict_when_started(admin, token)
    res = notebook.collect(msg, timeout=180)
    assert res.status == "error", res.stderr
    text = res.error_text
    assert ("Cluster 'pk' was preempted while running this cell (its pod was evicted "
            "(The node was low on resource: memory.))") in text, text  # fmt: skip
    assert "the variables on it are lost" in text and "--recover" in text, text
    assert "--recover:" not in res.stderr, res.stderr
    [run] = Store().runs("pk")
    assert run["status"] == "died" and run["reason"].startswith("preempted: its pod was evicted"), run
    assert notebook.run("%sky down pk", timeout=60).status == "ok"
    assert labelled(admin, "pk") == []


def test_simulated_containers_with_recover_the_cell_reruns_in_a_new_pod(
    k8s: K8sEngine, notebook: Notebook, admin: client.CoreV1Api, token: str
) -> None:
    from jupyter_sky.state import Store

    assert notebook.run("seed = 20").status == "ok"
    msg = notebook.send(cell("--recover", token))
    evicted = evict_when_started(admin, token)
    res = notebook.collect(msg, timeout=240)
    assert res.status == "ok", (res.error_text, res.stderr)
    err = res.stderr
    assert "--recover: cluster 'pk' was preempted (its pod was evicted" in err, err
    assert "--recover: relaunching cluster 'pk' on k8s " in err, err
    assert "--recover: pushing 1 variable (seed) again and rerunning the cell" in err, err
    assert res.stdout.count("run in sky-pk-") == 2, res.stdout
    assert notebook.value("x") == "42"
    [pod] = pods(admin, "pk")
    assert pod.metadata.name != evicted and pod.status.phase == "Running", pod.status
    record = Store().get_cluster("pk")
    assert record is not None and record.state == "UP" and record.handle["pod"] == pod.metadata.name
    died, ok = Store().runs("pk")
    assert died["status"] == "died" and died["reason"].startswith("preempted: its pod was evicted"), died
    assert ok["status"] == "ok" and ok["started_at"] >= died["ended_at"], (died, ok)
    again = notebook.run("%%sky --name pk\nprint(x + 1)", timeout=60)  # the new pod is the cluster
    assert again.status == "ok" and again.stdout.strip() == "43", (again.error_text, again.stdout)
    assert notebook.run("%sky down pk", timeout=60).status == "ok"
    assert labelled(admin, "pk") == []


def test_simulated_containers_a_recovered_cell_resumes_from_its_checkpoint(
    k8s: K8sEngine, notebook: Notebook, admin: client.CoreV1Api, tmp_path: Path
) -> None:
    """The cell saves a checkpoint per step; evicted after step 3 (the checkpoint is home by
    then), its rerun in a new pod starts from step 3, not from the beginning."""
    assert notebook.run("seed = 20").status == "ok"
    msg = notebook.send(
        "%%sky --infra k8s/skyk8s --name pc --recover\n"
        "import time\n"
        "from jupyter_sky import checkpoint\n"
        "start = int(checkpoint.load('run/step') or 0)\n"
        "print('from step', start, flush=True)\n"
        "for step in range(start + 1, 6):\n"
        "    checkpoint.save('run/step', str(step).encode())\n"
        "    if step == 3 and start == 0:\n"
        "        time.sleep(300)\n"
        "done = step * seed\n"
    )
    saved = tmp_path / ".sky-checkpoints" / "run" / "step"
    deadline = time.monotonic() + 180
    while not (saved.exists() and saved.read_bytes() == b"3"):
        assert time.monotonic() < deadline, "the checkpoint of step 3 never came home"
        time.sleep(0.2)
    [pod] = pods(admin, "pc")
    admin.patch_namespaced_pod_status(pod.metadata.name, USER_NAMESPACE, {"status": {
        "phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}})  # fmt: skip
    res = notebook.collect(msg, timeout=240)
    assert res.status == "ok", (res.error_text, res.stderr)
    assert res.stdout == "from step 0\nfrom step 3\n", res.stdout
    assert "--recover: relaunching cluster 'pc'" in res.stderr, res.stderr
    assert notebook.value("done") == "100"
    assert saved.read_bytes() == b"5"
    assert notebook.run("%sky down pc", timeout=60).status == "ok"
    assert labelled(admin, "pc") == []
