"""Fault: the notebook kernel is SIGKILLed while a ``%%sky`` launch is under way.

The remote kernel it started was never leased, so its idle watchdog ends it; a new notebook's
``%sky status`` shows the cluster DOWN (not INIT forever), and a cell on it starts afresh.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from nbdriver import Notebook
from test_fault_interrupt import _kernel_pids

from jupyter_sky.kernel import launching


def _wait(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return bool(condition())


def test_launch_lock_is_held_only_while_launching(tmp_path: Path) -> None:
    assert not launching.under_way(tmp_path, "c")
    with launching.held(tmp_path, "c"):
        assert launching.under_way(tmp_path, "c")
    assert not launching.under_way(tmp_path, "c")


def test_notebook_killed_mid_launch_leaves_no_kernel_and_status_says_down(
    session_home: Path, tmp_path: Path
) -> None:
    (tmp_path / "jupyter_sky.yaml").write_text("defaults:\n  idle_minutes: 0.03\n")
    env = {
        **os.environ,
        "JUPYTER_SKY_HOME": str(session_home),
        "JUPYTER_SKY_WATCHDOG_INTERVAL": "0.2",
    }
    marker = str(session_home / "clusters" / "midlaunch") + "/"
    first = Notebook(env, str(tmp_path))
    try:
        assert first.run("%load_ext jupyter_sky").status == "ok"
        first.send("%%sky --name midlaunch\nprint('never seen')")
        assert _wait(lambda: _kernel_pids(marker), 30), "the kernel never started"
        os.kill(first.km.provisioner.process.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    finally:
        first.kc.stop_channels()
        first.km.shutdown_kernel(now=True)
    assert _wait(lambda: not _kernel_pids(marker), 20), "the orphan kernel kept running"
    exit_reason = (session_home / "clusters" / "midlaunch" / "exit.txt").read_text()
    assert "idle watchdog" in exit_reason
    second = Notebook(env, str(tmp_path))
    try:
        assert second.run("%load_ext jupyter_sky").status == "ok"
        status = second.run("%sky status").stdout
        row = next(line for line in status.splitlines() if line.startswith("midlaunch"))
        assert row.split()[2] == "DOWN", status
        res = second.run("%%sky --name midlaunch\nprint('fresh')")
        assert res.status == "ok" and "fresh" in res.stdout, res.error_text
        assert "is down" in second.run("%sky down midlaunch").stdout
        assert _wait(lambda: not _kernel_pids(marker), 10)
    finally:
        second.shutdown()
