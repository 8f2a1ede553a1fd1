"""Default autostop for priced infras, on a priced ``local`` (a ``prices:`` entry): a new priced
cluster without ``--autostop`` gets ``defaults.autostop_minutes_priced`` and says so; idle means
no cell running and no notebook attached; the notebook shows a notice when a cluster of its
stopped; a kernel shutting down logs (no prompt) what it leaves running and when it stops."""

from __future__ import annotations

import os
import time
from pathlib import Path

from jupyter_sky.state import Store
from tests.conftest import kill_kernels_under
from tests.nbdriver import Notebook

PRICED = "prices:\n  local:\n    cpu: 3600\n    memory: 0\n"
LOCAL = "--cpus 1+ --infra local"
PID = "import os\nprint(os.getpid())"


def _notebook(tmp: Path, config: str) -> tuple[Notebook, Path]:
    home, cwd = tmp / "home", tmp / "nb"
    home.mkdir()
    cwd.mkdir()
    (cwd / "jupyter_sky.yaml").write_text(config)
    env = {**os.environ, "JUPYTER_SKY_HOME": str(home), "JUPYTER_SKY_WATCHDOG_INTERVAL": "0.2"}
    nb = Notebook(env, str(cwd))
    assert nb.run("%load_ext jupyter_sky").status == "ok"
    return nb, home


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_dead(pid: int, timeout: float) -> float:
    start = time.monotonic()
    while _alive(pid):
        assert time.monotonic() - start < timeout, f"kernel {pid} still running"
        time.sleep(0.1)
    return time.monotonic() - start


def test_priced_cluster_gets_the_default_autostop_and_the_notebook_hears_it_stopped(
    tmp_path: Path,
) -> None:
    nb, home = _notebook(tmp_path, PRICED + "defaults:\n  autostop_minutes_priced: 0.03\n")
    try:
        res = nb.run(f"%%sky --name priced {LOCAL}\n{PID}")
        assert res.status == "ok", res.error_text
        assert (
            "[sky] autostop after 0.03 idle minutes (no cell running, no notebook attached): "
            "local is priced at $3600.00/h; --autostop MIN sets another" in res.stderr
        )
        assert Store(home).get_cluster("priced").placement["autostop_minutes"] == 0.03  # type: ignore[union-attr]
        _wait_dead(int(res.stdout.split()[-1]), timeout=30)  # the lease renews every 30 s only
        other = nb.run(f"%%sky --name other {LOCAL} --autostop 5\nx = 1")
        assert other.status == "ok", other.error_text
        assert (
            "[sky] cluster 'priced' of this notebook was stopped (autostop: no cell and no "
            "notebook attached for 0.03 minutes)" in other.stderr
        )
        assert "autostop after" not in other.stderr  # --autostop given: no default
        again = nb.run("%%sky --name other\nx + 1")
        assert "was stopped" not in again.stderr  # said once
    finally:
        nb.shutdown()
        kill_kernels_under(home)


def test_unpriced_cluster_gets_no_default_autostop(tmp_path: Path) -> None:
    nb, home = _notebook(tmp_path, "defaults:\n  autostop_minutes_priced: 0.01\n")
    try:
        res = nb.run(f"%%sky --name free {LOCAL}\n{PID}")
        assert res.status == "ok" and "autostop after" not in res.stderr
        time.sleep(3)  # far past 0.01 minutes
        assert _alive(int(res.stdout.split()[-1]))
        assert Store(home).get_cluster("free").placement.get("autostop_minutes") is None  # type: ignore[union-attr]
    finally:
        nb.shutdown()
        kill_kernels_under(home)


def test_an_attached_notebook_keeps_autostop_off_until_it_is_gone(tmp_path: Path) -> None:
    """Idle means no cell *and* no notebook: with a lease every 2 s (idle_minutes 0.1) an
    autostop of 3 s never fires while the notebook is there, and fires once it is gone."""
    config = PRICED + "defaults:\n  idle_minutes: 0.1\n  autostop_minutes_priced: 0.05\n"
    nb, home = _notebook(tmp_path, config)
    try:
        res = nb.run(f"%%sky --name held {LOCAL}\n{PID}")
        assert res.status == "ok", res.error_text
        pid = int(res.stdout.split()[-1])
        time.sleep(6)
        assert _alive(pid)  # twice the autostop, no cell, but the notebook holds it
        nb.kc.stop_channels()
        nb.km.shutdown_kernel(now=True)
        assert _wait_dead(pid, timeout=15) < 15
        exit_text = (home / "clusters" / "held" / "exit.txt").read_text()
        assert "autostop: no cell and no notebook attached for 0.05 minutes" in exit_text
    finally:
        kill_kernels_under(home)


def test_kernel_shutdown_logs_the_clusters_it_leaves_running(tmp_path: Path) -> None:
    nb, home = _notebook(tmp_path, PRICED)
    try:
        res = nb.run(f"%%sky --name kept {LOCAL} --autostop 30\n{PID}")
        assert res.status == "ok", res.error_text
        before = time.time()
        nb.kc.stop_channels()
        nb.km.shutdown_kernel(now=False)  # a clean shutdown, as Jupyter's
        log = (home / "shutdown.log").read_text()
        assert "this kernel shuts down leaving cluster 'kept' (local pid" in log
        assert "$3600.00/h) running; it stops by " in log and "(autostop after 30 idle minutes)" in log
        stop_at = time.strftime("%H:%M", time.localtime(before + 30 * 60))
        later = time.strftime("%H:%M", time.localtime(before + 30 * 60 + 60))
        assert stop_at in log or later in log
        assert _alive(int(res.stdout.split()[-1]))  # logged, not stopped, not asked
    finally:
        kill_kernels_under(home)
