"""Fault: the state database is overwritten or truncated while a cluster runs.

The damaged file is moved aside, a new database is built from what can still be read and from
the journal beside it (jupyter_sky/state/recover.py), and no record of a running cluster or of
a run (its cost) is lost — checked on the store itself and through two real notebooks.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from nbdriver import Notebook
from test_fault_interrupt import _kernel_pids

from jupyter_sky.state import ClusterRecord, Store


def _damage(db: Path, how: str) -> None:
    if how == "garbage":  # overwritten in place, as a stray `cp` or a bad sync would
        with open(db, "r+b") as fh:
            fh.write(b"this is not SQLite\n" * 400)
    elif how == "empty":
        os.truncate(db, 0)
    else:  # half of it: the tables' pages are gone
        os.truncate(db, os.path.getsize(db) // 2)


def _filled(home: Path) -> Store:
    store = Store(home)
    store.put_cluster(ClusterRecord("gone", "local", "UP"))
    store.set_state("gone", "DOWN")
    store.remove_cluster("gone")
    store.put_cluster(ClusterRecord("running", "local", "UP", handle={"pid": 123}))
    for k in range(40):  # enough rows for several pages
        run_id = store.start_run("running", f"{k:064d}", "local", {"where": "x" * 200}, price=1.0)
        store.end_run(run_id, "ok")
    store.start_run("running", "still", "local", {}, price=2.0)  # a cell still running
    store.close()
    return store


@pytest.mark.parametrize("how", ["garbage", "empty", "half"])
def test_damaged_db_is_rebuilt_with_every_record(
    tmp_path: Path, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    _filled(home)
    db_file = home / "state.db"
    for wal in ("state.db-wal", "state.db-shm"):  # closed: SQLite checkpointed and removed them
        assert not (home / wal).exists()
    _damage(db_file, how)
    store = Store(home)
    clusters = store.list_clusters()
    assert [(c.name, c.state, c.handle) for c in clusters] == [("running", "UP", {"pid": 123})]
    runs = store.runs("running")
    assert len(runs) == 41  # no cost record lost
    assert [r["status"] for r in runs].count("running") == 1
    store.end_run(runs[-1]["id"], "ok")  # the running cell's end still lands
    assert store.runs("running")[-1]["status"] == "ok"
    err = capsys.readouterr().err
    assert err.count("jupyter-sky: the state database") == 1, err
    assert "rebuilt 1 cluster record(s) and 41 run record(s)" in err
    if how != "empty":
        assert list(home.glob("state.db.damaged-*")), "the damaged file is kept aside"


def test_the_runs_journal_is_compacted_and_still_rebuilds_every_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its size limit runs.jsonl keeps one line per run (the last), never fewer runs."""
    from jupyter_sky.state import recover

    monkeypatch.setattr(recover, "COMPACT_AT", 8_000)
    home = tmp_path / "home"
    _filled(home)  # 41 runs, 81 lines of ~400 bytes: compacted more than once
    lines = (home / "journal" / "runs.jsonl").read_text().splitlines()
    assert len(lines) < 81, len(lines)
    assert len({__import__("json").loads(line)["id"] for line in lines}) == 41
    _damage(home / "state.db", "garbage")
    runs = Store(home).runs("running")
    assert len(runs) == 41 and [r["status"] for r in runs].count("ok") == 40


def test_a_store_open_elsewhere_follows_the_rebuilt_db(tmp_path: Path) -> None:
    """Another kernel's open store notices the database was replaced and writes to the new one."""
    home = tmp_path / "home"
    _filled(home)
    other = Store(home)
    other.list_clusters()  # open
    _damage(home / "state.db", "garbage")
    assert [c.name for c in Store(home).list_clusters()] == ["running"]
    other.put_cluster(ClusterRecord("later", "local", "UP"))
    assert {c.name for c in Store(home).list_clusters()} == {"running", "later"}


def test_notebooks_keep_a_running_cluster_across_a_damaged_db(
    fresh_nb: Notebook, session_home: Path, tmp_path: Path
) -> None:
    """Damaged while a cluster runs: a new notebook's status still shows it UP (with one
    sentence), the owning notebook's next cell reaches the same kernel, every run is kept."""
    nb = fresh_nb
    res = nb.run("%%sky --name survivor\nkept = 'remote value'")
    assert res.status == "ok", res.error_text
    db_file = session_home / "state.db"
    _damage(db_file, "garbage")
    for sidecar in ("state.db-wal", "state.db-shm"):  # else SQLite reads the pages from the WAL
        (session_home / sidecar).unlink(missing_ok=True)
    other = Notebook({**os.environ, "JUPYTER_SKY_HOME": str(session_home)}, str(tmp_path))
    try:
        loaded = other.run("%load_ext jupyter_sky")
        status = other.run("%sky status")
        assert "survivor" in status.stdout and "UP" in status.stdout, status.stdout
        said = loaded.stderr + status.stderr
        assert said.count("was damaged") == 1, (said, list(session_home.iterdir()))
    finally:
        other.kc.stop_channels()
        other.km.shutdown_kernel(now=True)
    res = nb.run("%%sky --name survivor\nprint(kept)")
    assert res.status == "ok" and "remote value" in res.stdout, res.error_text
    runs = Store(session_home).runs("survivor")
    assert [r["status"] for r in runs] == ["ok", "ok"]
    assert "is down" in nb.run("%sky down survivor").stdout
    marker = str(session_home / "clusters" / "survivor") + "/"
    deadline = time.monotonic() + 10
    while _kernel_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _kernel_pids(marker) == []
