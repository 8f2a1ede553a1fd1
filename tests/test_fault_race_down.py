"""Fault: two notebooks race ``%sky down X`` and a cell on the same cluster X (real kernels).

Both notebooks get a clear outcome (a result or one sentence), no kernel is left running that
the state database does not call UP, no UP record lacks its kernel, and every run is closed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbdriver import Notebook
from test_fault_interrupt import _kernel_pids

from jupyter_sky.state import Store


@pytest.fixture
def other(session_home: Path, tmp_path: Path) -> Iterator[Notebook]:
    """A second notebook on the same JUPYTER_SKY_HOME."""
    notebook = Notebook({**os.environ, "JUPYTER_SKY_HOME": str(session_home)}, str(tmp_path))
    assert notebook.run("%load_ext jupyter_sky").status == "ok"
    yield notebook
    notebook.shutdown()


def _consistent(home: Path, name: str) -> None:
    """The record says UP exactly when a kernel of the cluster runs; every run has ended."""
    marker = str(home / "clusters" / name) + "/"
    deadline = time.monotonic() + 10
    while True:
        record = Store(home).get_cluster(name)
        up = record is not None and record.state == "UP"
        if up == bool(_kernel_pids(marker)) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert up == bool(_kernel_pids(marker)), (record, _kernel_pids(marker))
    assert all(r["ended_at"] is not None for r in Store(home).runs(name))


def test_down_while_the_other_notebook_runs_a_cell(
    fresh_nb: Notebook, other: Notebook, session_home: Path
) -> None:
    res = fresh_nb.run("%%sky --name raced\nv = 1")
    assert res.status == "ok", res.error_text
    msg_id = fresh_nb.send(
        "%%sky --name raced\nimport time\nfor i in range(100):\n    print(i, flush=True)\n"
        "    time.sleep(0.05)"
    )
    time.sleep(1.0)
    down = other.run("%sky down raced")
    assert down.status == "ok" and "cluster 'raced' is down" in down.stdout, down.error_text
    res = fresh_nb.collect(msg_id, timeout=30)
    assert res.status == "error" and res.error is not None
    assert res.error["ename"] == "RemoteKernelDied"
    assert res.error_text.count("the cluster was taken down: %sky down") == 1, res.error_text
    assert res.stdout.startswith("0\n1\n")  # what the cell printed before is kept
    assert Store(session_home).get_cluster("raced").state == "DOWN"  # type: ignore[union-attr]
    _consistent(session_home, "raced")
    res = fresh_nb.run("%%sky --name raced\nprint('again', v)")
    assert res.status == "ok" and "again 1" in res.stdout, res.error_text
    _consistent(session_home, "raced")


@pytest.mark.parametrize("delay", [0.0, 0.15, 1.5])
def test_down_while_the_other_notebook_launches(
    fresh_nb: Notebook, other: Notebook, session_home: Path, delay: float
) -> None:
    """Down lands before, during or after the launch: each side ends with a result or one
    sentence (during: the cluster is being launched, down again once it has started), and the
    database agrees with the processes."""
    name = f"launchrace{int(delay * 100)}"
    msg_id = fresh_nb.send(f"%%sky --name {name}\nprint('ran')")
    time.sleep(delay)
    down = other.run(f"%sky down {name}")
    res = fresh_nb.collect(msg_id, timeout=60)
    for side in (down, res):
        assert side.status == "ok" or side.error_text.count("\n") <= 1, side.error_text
        assert "Traceback" not in side.error_text
    assert res.status == "error" or "ran" in res.stdout
    if "is being launched by another notebook right now" in down.error_text:
        assert res.status == "ok", res.error_text  # the launch went on
        _consistent(session_home, name)
        down = other.run(f"%sky down {name}")  # as the sentence says
        assert down.status == "ok" and "is down" in down.stdout, down.error_text
    _consistent(session_home, name)
