"""Issue 15 B: faults leave the cluster in a consistent state (real kernels, real signals)."""

from __future__ import annotations

import time
from pathlib import Path

from nbdriver import Notebook


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
