"""Faults on k8s, on the engine (SIMULATED CONTAINERS: API server, scheduler, events, RBAC and
port-forward are real; a pod's container is a process in its own network namespace, see
:mod:`tests.k8s.runtime`).

- The cell's pod is *deleted* (not evicted: ``kubectl delete pod --grace-period=0``) while a
  cell runs: the cell ends with one sentence saying so, ``%sky status`` shows the cluster
  DOWN, ``%sky down`` leaves nothing labelled.
- The notebook kernel is SIGKILLed while its ``%%sky`` cell is launching a pod: the next
  notebook's ``%sky status`` ends what that launch started (found by label) and shows the
  cluster DOWN; no pod, service or secret of it is left.
"""

from __future__ import annotations

import glob
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from .conftest import IMAGE_KERNEL, K8sEngine
from .engine import USER_NAMESPACE
from .helpers import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbdriver import Notebook  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def env(k8s: K8sEngine, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.yaml").write_text(
        f"k8s:\n  image: {IMAGE_KERNEL}\n  pending_timeout: 20\n  ready_timeout: 60\n"
    )
    return dict(os.environ, KUBECONFIG=str(k8s.user_kubeconfig), JUPYTER_SKY_HOME=str(home))


@pytest.fixture
def admin(k8s: K8sEngine) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(str(k8s.admin_kubeconfig))
    yield client.CoreV1Api(api)
    api.close()


def labelled(admin: client.CoreV1Api, cluster: str) -> list[str]:
    sel = f"jupyter-sky/cluster={cluster}"
    ns = USER_NAMESPACE
    found = [f"pod/{p.metadata.name}" for p in admin.list_namespaced_pod(ns, label_selector=sel).items]
    found += [f"svc/{s.metadata.name}" for s in admin.list_namespaced_service(ns, label_selector=sel).items]
    found += [f"secret/{s.metadata.name}" for s in admin.list_namespaced_secret(ns, label_selector=sel).items]
    return found


def status_row(nb: Notebook, cluster: str) -> tuple[list[str], str]:
    out = nb.run("%sky status", timeout=60).stdout
    row = next((line.split() for line in out.splitlines() if line.startswith(cluster + " ")), [])
    return row, out


def test_simulated_containers_pod_deleted_mid_cell_ends_the_cell_with_a_sentence(
    env: dict[str, str], admin: client.CoreV1Api, tmp_path: Path
) -> None:
    mark = f"/tmp/skydel-{uuid.uuid4().hex[:10]}"
    nb = Notebook(env, str(tmp_path))
    try:
        assert nb.run("%load_ext jupyter_sky").status == "ok"
        msg = nb.send(
            "%%sky --infra k8s/skyk8s --name kdel\n"
            "import time\n"
            f"open('{mark}', 'w').write('started')\n"
            "print('started', flush=True)\n"
            "time.sleep(300)\n"
        )
        wait_for(lambda: os.path.exists(mark), 180, "the cell to start in its pod")
        [pod] = [p for p in labelled(admin, "kdel") if p.startswith("pod/")]
        admin.delete_namespaced_pod(pod[4:], USER_NAMESPACE, grace_period_seconds=0)
        started = time.monotonic()
        res = nb.collect(msg, timeout=120)
        assert time.monotonic() - started < 30, "the deleted pod was noticed late"
        assert res.status == "error" and res.stdout == "started\n", (res.stdout, res.stderr)
        said = ("The remote kernel of cluster 'kdel' died while running this cell (its pod was "
                "deleted); its variables are lost, and the next %%sky cell starts a fresh kernel.")  # fmt: skip
        assert said in res.error_text, res.error_text
        assert "Traceback" not in res.error_text, res.error_text
        row, out = status_row(nb, "kdel")
        assert row[:3] == ["kdel", "k8s", "DOWN"], out
        assert nb.run("%sky down kdel", timeout=60).status == "ok"
        wait_for(lambda: labelled(admin, "kdel") == [], 30, "nothing labelled 'kdel' to be left")
    finally:
        nb.shutdown()
        for path in glob.glob(mark):
            os.unlink(path)


def test_simulated_containers_notebook_killed_mid_launch_leaves_nothing_after_next_status(
    env: dict[str, str], admin: client.CoreV1Api, tmp_path: Path
) -> None:
    first = Notebook(env, str(tmp_path))
    try:
        assert first.run("%load_ext jupyter_sky").status == "ok"
        first.send("%%sky --infra k8s/skyk8s --name kmid\nprint('never seen')")
        pod = wait_for(
            lambda: [p for p in labelled(admin, "kmid") if p.startswith("pod/")], 60, "its pod"
        )
        os.kill(first.km.provisioner.process.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    finally:
        first.kc.stop_channels()
        first.km.shutdown_kernel(now=True)
    assert labelled(admin, "kmid"), "the launch left nothing to clean: the test proves nothing"
    second = Notebook(env, str(tmp_path))
    try:
        assert second.run("%load_ext jupyter_sky").status == "ok"
        row, out = status_row(second, "kmid")
        assert row[:3] == ["kmid", "k8s", "DOWN"], out
        assert "cluster 'kmid': its notebook died mid-launch; ended what the launch had " in out, out
        assert f"k8s/skyk8s/{USER_NAMESPACE}" in out, out
        wait_for(lambda: labelled(admin, "kmid") == [], 30, f"{pod} and the rest to be gone")
        again, out = status_row(second, "kmid")
        assert again[:3] == ["kmid", "k8s", "DOWN"] and "died mid-launch" not in out, out
        res = second.run("%%sky --infra k8s/skyk8s --name kmid\nprint('fresh')", timeout=180)
        assert res.status == "ok" and res.stdout.strip() == "fresh", (res.error_text, res.stderr)
        assert second.run("%sky down kmid", timeout=60).status == "ok"
        wait_for(lambda: labelled(admin, "kmid") == [], 30, "nothing labelled 'kmid' to be left")
    finally:
        second.shutdown()
