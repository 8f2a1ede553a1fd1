"""SQLite state store: records, runs, concurrent writers, journal mode and migrations."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jupyter_sky import state
from jupyter_sky.errors import SkyError
from jupyter_sky.state import ClusterRecord, Store, filesystem_type, journal_mode_for

WRITES = 1000


def _record(name: str = "train", **kw: Any) -> ClusterRecord:
    values: dict[str, Any] = {
        "infra": "local",
        "state": "INIT",
        "created_at": 100.0,
        "last_used_at": 100.0,
        "owner": "session-1",
        "placement": {"instance_type": "this machine", "price": 0.0},
        "handle": {"pid": 42, "connection_file": Path("/tmp/k.json")},
    }
    values.update(kw)
    return ClusterRecord(name=name, **values)


def test_cluster_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    assert store.get_cluster("train") is None and store.list_clusters() == []
    store.put_cluster(_record())
    got = store.get_cluster("train")
    assert got == _record(handle={"pid": 42, "connection_file": "/tmp/k.json"})
    store.put_cluster(_record("eval", created_at=50.0))
    store.put_cluster(_record(state="UP", cost_per_hour=1.5))  # replaces, keeps one row
    assert [(r.name, r.state, r.cost_per_hour) for r in store.list_clusters()] == [
        ("eval", "INIT", 0.0),
        ("train", "UP", 1.5),
    ]
    store.set_state("train", "DOWN")
    store.touch("train", cells_delta=3)
    got = store.get_cluster("train")
    assert got is not None and (got.state, got.cells_run) == ("DOWN", 3)
    assert got.last_used_at > 100.0
    store.remove_cluster("train")
    assert [r.name for r in store.list_clusters()] == ["eval"]
    with pytest.raises(ValueError):
        store.set_state("eval", "RUNNING")


def test_runs(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = store.start_run("a", "h1", "local", {"where": "here"})
    second = store.start_run("b", "h2", "aws", {})
    store.end_run(first, "ok", 0.25)
    rows = store.runs()
    assert [(r["id"], r["cluster"], r["status"], r["cost"]) for r in rows] == [
        (first, "a", "ok", 0.25),
        (second, "b", "running", 0.0),
    ]
    assert rows[0]["placement"] == {"where": "here"} and rows[0]["ended_at"] is not None
    assert [r["cell_hash"] for r in store.runs("b")] == ["h2"]
    with pytest.raises(ValueError):
        store.end_run(second, "fine", 0.0)


def test_creates_home_lazily_with_private_mode(tmp_path: Path) -> None:
    home = tmp_path / "deep" / "home"
    store = Store(home)
    assert not home.exists()
    store.list_clusters()
    assert (home.stat().st_mode & 0o777, store.path) == (0o700, home / "state.db")


def test_wal_on_a_local_directory(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.list_clusters()
    assert store.journal_mode == "WAL"
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(state.MIGRATIONS)
    assert store._db().execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


FAKE_MOUNTS = """\
sysfs /sys sysfs rw,nosuid 0 0
/dev/sda1 / ext4 rw,relatime 0 0
filer:/export/home {home} nfs4 rw,vers=4.2 0 0
tmpfs {home}/scratch tmpfs rw 0 0
"""


def test_network_filesystem_detection(tmp_path: Path) -> None:
    home = str(tmp_path / "my home")
    mounts = FAKE_MOUNTS.format(home=home.replace(" ", "\\040"))
    assert filesystem_type(Path(home) / "x" / "state.db", mounts) == "nfs4"
    assert filesystem_type(Path(home) / "scratch", mounts) == "tmpfs"
    assert filesystem_type(Path(home + "-other"), mounts) == "ext4"
    fake = tmp_path / "mounts"
    fake.write_text(mounts)
    assert journal_mode_for(Path(home) / "x", fake) == "DELETE"
    assert journal_mode_for(Path(home) / "scratch", fake) == "WAL"
    assert journal_mode_for(Path(home), tmp_path / "no-such-file") == "WAL"


def test_store_uses_rollback_journal_on_nfs(tmp_path: Path) -> None:
    home = tmp_path / "nfs-home"
    fake = tmp_path / "mounts"
    fake.write_text(f"/dev/sda1 / ext4 rw 0 0\nfiler:/h {home} nfs rw 0 0\n")
    store = Store(home, mounts_file=fake)
    store.put_cluster(_record())
    assert store.journal_mode == "DELETE"
    assert store._db().execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not (home / "state.db-wal").exists()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).list_clusters()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(SkyError) as err:
        Store(tmp_path).list_clusters()
    assert str(err.value) == (
        f"The state database {tmp_path / 'state.db'} has schema 99, newer than this jupyter-sky "
        f"understands ({len(state.MIGRATIONS)}); upgrade jupyter-sky."
    )


def _writer(home: str, worker: int, barrier: Any) -> None:
    barrier.wait()  # open and write at the same moment as the other process
    store = Store(Path(home))
    for i in range(WRITES):
        run_id = store.start_run("shared", f"w{worker}-{i}", "local", {"i": i})
        store.end_run(run_id, "ok", 0.001)
        store.touch("shared")
    store.close()


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    Store(tmp_path).put_cluster(_record("shared"))
    ctx = multiprocessing.get_context("spawn")  # fork is unsafe once other tests left threads
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), n, barrier)) for n in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    store = Store(tmp_path)
    assert store._db().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    runs = store.runs("shared")
    assert len(runs) == 2 * WRITES
    assert {r["status"] for r in runs} == {"ok"}
    assert len({r["cell_hash"] for r in runs}) == 2 * WRITES
    record = store.get_cluster("shared")
    assert record is not None and record.cells_run == 2 * WRITES


def test_detached_jobs_table_comes_from_the_migrations_and_keeps_older_jobs(tmp_path: Path) -> None:
    """The detached-jobs table is made by state.py's migrations (for any infra); a database
    whose table an earlier version made on first use (no ``infra`` column) keeps its jobs."""
    from jupyter_sky.state import DetachedJob

    old = tmp_path / "old"
    old.mkdir(mode=0o700)
    with sqlite3.connect(old / "state.db") as conn:
        for sql in state.MIGRATIONS[0] + state.MIGRATIONS[1]:
            conn.execute(sql)
        conn.execute(state.MIGRATIONS[2][0])  # the table as the Slurm code used to make it
        conn.execute("INSERT INTO detached_jobs (id, job, cluster, dir, name, submitted_at) "
                     "VALUES ('j-1', '77', 'hpc', '/scratch/j-1', 'train', 1.0)")
        conn.execute("PRAGMA user_version = 2")
    store = Store(old)
    [kept] = store.jobs()
    assert (kept.id, kept.job, kept.infra, kept.pulls) == ("j-1", "77", "slurm", [])
    fresh = Store(tmp_path / "new")
    fresh.put_job(DetachedJob("j-2", "9", "pod", "/w", "n", ["x"], 2.0, infra="k8s"))
    fresh.settle_job("j-2", "DONE", 3.5)
    [job] = fresh.jobs("9")
    assert (job.infra, job.pulls, job.state, job.elapsed) == ("k8s", ["x"], "DONE", 3.5)
    assert fresh.jobs("nope") == []
