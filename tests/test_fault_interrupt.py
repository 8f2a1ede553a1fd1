"""Issue 15 B and 17: interrupts and a stopped (SIGSTOP) kernel leave the cluster consistent
(real kernels, real signals)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from nbdriver import Notebook
from test_cells import remote_pid


def test_three_quick_ctrl_c_on_a_cell_ignoring_sigint(fresh_nb: Notebook, tmp_path: Path) -> None:
    """Ctrl-C three times: one restart, one sentence, and the next cell runs."""
    nb = fresh_nb
    marker = tmp_path / "started"
    code = (
        "%%sky --name ignint\nimport pathlib, signal, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"pathlib.Path({str(marker)!r}).touch()\ntime.sleep(120)"
    )
    msg_id = nb.send(code)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists()
    for _ in range(3):
        nb.interrupt()
        time.sleep(0.3)  # the third lands while the second's restart runs
    res = nb.collect(msg_id, timeout=90)
    assert res.status == "error"
    assert "Interrupted twice: restarted the kernel of cluster 'ignint'" in res.error_text
    res = nb.run("%%sky --name ignint\nprint('after the restart')", timeout=90)
    assert res.status == "ok" and "after the restart" in res.stdout, res.error_text
    status = nb.run("%sky status")
    assert "ignint" in status.stdout and "UP" in status.stdout


@pytest.mark.slow
def test_stopped_kernel_is_bounded_by_the_heartbeat(fresh_nb: Notebook) -> None:
    """A kernel stopped with SIGSTOP ends the cell with a sentence, not a silent hang."""
    nb = fresh_nb
    pid = remote_pid(nb, "frozen")
    try:
        code = "%%sky --name frozen\nimport os, signal\nos.kill(os.getpid(), signal.SIGSTOP)"
        res = nb.run(code, timeout=90)
        assert res.status == "error"
        assert "The remote kernel of cluster 'frozen' has not answered for" in res.error_text
        assert "%sky down frozen" in res.error_text and "Traceback" not in res.error_text
        os.kill(pid, signal.SIGCONT)
        res = nb.run("%%sky --name frozen\nprint('thawed')", timeout=90)
        assert res.status == "ok" and "thawed" in res.stdout, res.error_text
    finally:
        os.kill(pid, signal.SIGCONT)
        nb.run("%sky down frozen")


@pytest.mark.slow
def test_adopting_a_stopped_kernel_is_one_sentence(nb: Notebook, fresh_nb: Notebook) -> None:
    """Another notebook adopting a kernel stopped with SIGSTOP gets a sentence, not TimeoutError."""
    pid = remote_pid(nb, "frozen2")
    os.kill(pid, signal.SIGSTOP)
    try:
        res = fresh_nb.run("%%sky --name frozen2\nprint('hi')", timeout=90)
        assert res.status == "error"
        assert "The remote kernel of cluster 'frozen2' has not answered for" in res.error_text
        assert "TimeoutError" not in res.error_text
    finally:
        os.kill(pid, signal.SIGCONT)
        nb.run("%sky down frozen2")


def _kernel_pids(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"jupyter_sky.remote.kernel" in cmdline and marker.encode() in cmdline:
                pids.append(int(proc.name))
    return pids


def test_ctrl_c_during_launch_leaves_no_kernel(fresh_nb: Notebook, session_home: Path) -> None:
    """Interrupted while its kernel starts: the kernel is stopped and recorded DOWN."""
    nb = fresh_nb
    marker = str(session_home / "clusters" / "halfway") + "/"
    msg_id = nb.send("%%sky --name halfway\nprint('never')")
    deadline = time.monotonic() + 60
    while not _kernel_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _kernel_pids(marker), "the kernel never started"
    nb.interrupt()
    res = nb.collect(msg_id, timeout=60)
    assert res.status == "error"
    deadline = time.monotonic() + 10
    while _kernel_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _kernel_pids(marker) == []
    status = nb.run("%sky status").stdout
    assert "halfway" in status and "DOWN" in status, status
