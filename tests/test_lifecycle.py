"""Interrupts, remote death, adoption and the idle watchdog — real kernels, real signals."""

from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import kill_kernels_under  # noqa: F401 - re-exported for clarity
from nbdriver import Notebook
from test_cells import remote_pid


def _wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_ctrl_c_interrupts_remote_cell_and_keeps_kernel(fresh_nb: Notebook, tmp_path: Path) -> None:
    nb = fresh_nb
    pid = remote_pid(nb, "intr")
    nb.run("%%sky --name intr\nkept = 'old globals'")
    marker = tmp_path / "touched"
    loop = f"%%sky --name intr\nimport pathlib, time\np = pathlib.Path({str(marker)!r})\nwhile True:\n    p.touch()\n    time.sleep(0.05)"
    msg_id = nb.send(loop)
    _wait_for(marker.exists)
    nb.interrupt()
    interrupted_at = time.time()
    res = nb.collect(msg_id, timeout=10)
    assert res.status == "error"
    assert res.error["ename"] == "KeyboardInterrupt"
    time.sleep(0.7)
    last_touch = marker.stat().st_mtime
    assert last_touch <= interrupted_at + 0.5, last_touch - interrupted_at
    assert remote_pid(nb, "intr") == pid
    assert nb.run("%%sky --name intr\nprint(kept)").stdout.strip() == "old globals"


def test_double_ctrl_c_restarts_kernel_in_place(fresh_nb: Notebook, tmp_path: Path) -> None:
    nb = fresh_nb
    pid = remote_pid(nb, "intr2")
    stubborn = (
        "%%sky --name intr2\nimport time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
        "    except KeyboardInterrupt:\n        print('ignoring', flush=True)"
    )
    msg_id = nb.send(stubborn)
    time.sleep(1.0)
    nb.interrupt()
    time.sleep(0.5)
    nb.interrupt()
    res = nb.collect(msg_id, timeout=30)
    assert res.status == "error"
    assert "remote state was lost; cluster kept" in res.error_text
    new_pid = remote_pid(nb, "intr2")
    assert new_pid != pid
    assert not _pid_alive(pid)
    assert "intr2" in nb.run("%sky status").stdout


def test_cluster_outlives_its_notebook_and_is_adopted(session_home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "JUPYTER_SKY_HOME": str(session_home)}
    first = Notebook(env, str(tmp_path))
    first.run("%load_ext jupyter_sky")
    pid = remote_pid(first, "adoptme")
    first.run("%%sky --name adoptme\nremote_only = 'kept remotely'")
    first.kc.stop_channels()
    first.km.shutdown_kernel(now=True)  # the owning notebook kernel dies, without %sky down
    assert _pid_alive(pid)
    second = Notebook(env, str(tmp_path))
    try:
        second.run("%load_ext jupyter_sky")
        status = second.run("%sky status").stdout
        assert "adoptme" in status and "UP" in status
        res = second.run("%%sky --name adoptme\nimport os\nprint(remote_only, os.getpid())")
        assert res.status == "ok", res.error_text
        assert res.stdout.split() == ["kept", "remotely", str(pid)]
        assert "adopted cluster 'adoptme'" in res.stderr
        assert "is down" in second.run("%sky down adoptme").stdout
        _wait_for(lambda: not _pid_alive(pid))
    finally:
        second.shutdown()


def test_idle_watchdog_ends_kernel_without_client(session_home: Path, tmp_path: Path) -> None:
    (tmp_path / "jupyter_sky.yaml").write_text("defaults:\n  idle_minutes: 0.03\n")
    env = {
        **os.environ,
        "JUPYTER_SKY_HOME": str(session_home),
        "JUPYTER_SKY_WATCHDOG_INTERVAL": "0.2",
    }
    nb = Notebook(env, str(tmp_path))
    try:
        nb.run("%load_ext jupyter_sky")
        pid = remote_pid(nb, "watched")
        time.sleep(3.0)  # longer than idle_minutes, but the notebook holds a lease
        assert _pid_alive(pid)
    finally:
        nb.kc.stop_channels()
        nb.km.shutdown_kernel(now=True)
    _wait_for(lambda: not _pid_alive(pid), timeout=15)
    exit_file = session_home / "clusters" / "watched" / "exit.txt"
    assert "idle watchdog" in exit_file.read_text()


def test_autostop_ends_idle_kernel_and_next_cell_says_so(fresh_nb: Notebook) -> None:
    nb = fresh_nb
    res = nb.run("%%sky --name auto --autostop 0.02\nimport os\nprint('PID', os.getpid())")
    pid = int(res.stdout.split()[-1])
    _wait_for(lambda: not _pid_alive(pid), timeout=60)
    res = nb.run("%%sky --name auto\nprint('back')")
    assert "autostop" in res.stderr and "remote state was lost" in res.stderr, (res.status, res.error_text, res.stderr)


def test_sky_stop_on_local_says_to_use_down_and_keeps_the_kernel(fresh_nb: Notebook) -> None:
    """``%sky stop`` on an infra that cannot keep a stopped cluster (local) is one sentence and
    leaves the cluster running with its variables (AWS's stop/start: tests/aws)."""
    assert fresh_nb.run("%%sky --name loc\ny = 5").status == "ok"
    res = fresh_nb.run("%sky stop loc")
    assert res.status == "error", res.stdout
    assert "cannot stop cluster 'loc' and keep it; %sky down loc ends it." in res.error_text
    assert fresh_nb.run("%%sky --name loc\nprint(y)").stdout.strip() == "5"
    missing = fresh_nb.run("%sky stop nope")
    assert "There is no cluster named 'nope' to stop" in missing.error_text
    assert fresh_nb.run("%sky down loc").status == "ok"
