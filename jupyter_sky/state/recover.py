"""Recovering a damaged state database without losing what still runs.

Beside ``state.db`` the store keeps a small journal in ``sky_home()/journal/``: one JSON file
per cluster (rewritten whenever its record changes, removed with it) and ``runs.jsonl``, one
line each time a run starts or ends. When SQLite finds the database damaged (overwritten,
truncated, "file is not a database", "database disk image is malformed"), the damaged file is
moved aside, a new database is made, and it is filled with whatever rows could still be read
from the damaged one, then with the journal, which wins. A database found empty while the
journal names clusters (a file truncated to nothing) is refilled the same way. Every kernel
notices a database replaced under it (another inode at the path) and reopens it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from jupyter_sky.state import Store

JOURNAL_DIR = "journal"
RUNS_FILE = "runs.jsonl"
COMPACT_AT = 2 * 1024 * 1024  # bytes of runs.jsonl before it keeps only each run's last line
TABLES = ("clusters", "runs", "detached_jobs", "uptime")


def _journal(store: Store) -> Path:
    return store.home / JOURNAL_DIR


def _inode(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return 0


def opened(store: Store, conn: sqlite3.Connection) -> sqlite3.Connection:
    """Note which file ``conn`` opened; refill it from the journal if it came up empty."""
    store.inode = _inode(store.path)
    if not conn.execute("SELECT 1 FROM clusters LIMIT 1").fetchall() and _journal_clusters(store):
        restored = _restore(store, conn, None)
        _say(f"the state database {store.path} was empty; rebuilt {restored} from its journal.")
    return conn


def replaced(store: Store) -> bool:
    """Has another kernel moved the database aside (or rebuilt it) since this store opened it?"""
    return store.inode != 0 and _inode(store.path) != store.inode


def damaged(exc: BaseException) -> bool:
    """Is this SQLite saying the file is damaged or not a database (rather than busy, full,
    read-only or unopenable)?"""
    return type(exc) is sqlite3.DatabaseError


def recover(store: Store, exc: BaseException) -> sqlite3.Connection:
    """Move the damaged database aside (unless another kernel did already), make a new one, and
    fill it with what can be read from the damaged file and the journal; say so once."""
    store.close()
    if replaced(store):  # another kernel recovered first: use its database
        conn = store._connect()
        store.inode = _inode(store.path)
        return conn
    aside = store.path.with_name(f"{store.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{store.path}{suffix}", f"{aside}{suffix}")
    conn = store._connect()
    store.inode = _inode(store.path)
    restored = _restore(store, conn, aside)
    _say(
        f"the state database {store.path} was damaged ({exc}); moved it to {aside.name} and "
        f"rebuilt {restored} from what could be read and its journal."
    )
    return conn


def _say(sentence: str) -> None:
    print(f"jupyter-sky: {sentence}", file=sys.stderr)


def _restore(store: Store, conn: sqlite3.Connection, damaged: Path | None) -> str:
    if damaged is not None:
        for table in TABLES:
            _insert(conn, table, _salvage(damaged, table), "OR IGNORE")
    clusters = _journal_clusters(store)
    _insert(conn, "clusters", clusters, "OR REPLACE")
    runs = _journal_runs(store)
    _insert(conn, "runs", runs, "OR REPLACE")
    (count,) = conn.execute("SELECT COUNT(*) FROM clusters").fetchone()
    (runs_count,) = conn.execute("SELECT COUNT(*) FROM runs").fetchone()
    return f"{count} cluster record(s) and {runs_count} run record(s)"


def _salvage(damaged: Path, table: str) -> list[dict[str, object]]:
    """Rows of ``table`` readable in the damaged file, up to the first unreadable one."""
    rows: list[dict[str, object]] = []
    try:
        conn = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
    except sqlite3.Error:
        return rows
    try:
        conn.row_factory = sqlite3.Row
        for row in conn.execute(f"SELECT * FROM {table}"):
            rows.append(dict(row))
    except sqlite3.Error:
        pass  # what was read before the damage is kept
    finally:
        conn.close()
    return rows


def _insert(conn: sqlite3.Connection, table: str, rows: list[dict[str, object]], how: str) -> None:
    known = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    for row in rows:
        values = {k: v for k, v in row.items() if k in known}
        if values:
            conn.execute(
                f"INSERT {how} INTO {table} ({', '.join(values)}) "
                f"VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )


def _journal_clusters(store: Store) -> list[dict[str, object]]:
    rows = []
    for path in sorted((_journal(store) / "clusters").glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            rows.append(json.loads(path.read_text()))
    return rows


def _journal_runs(store: Store) -> list[dict[str, object]]:
    """The last line written for each run id (a run's end follows its start)."""
    latest: dict[object, dict[str, object]] = {}
    with contextlib.suppress(OSError):
        for line in (_journal(store) / RUNS_FILE).read_text().splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                latest[row["id"]] = row
    return list(latest.values())


def _rows(store: Store, sql: str, key: object) -> list[dict[str, object]] | None:
    """The rows, or None when the read fails (busy, I/O): the journal is then left as it was."""
    try:
        return [dict(row) for row in store._query(sql, (key,))]
    except sqlite3.OperationalError:
        return None


def journal_cluster(store: Store, name: str) -> None:
    """Write the cluster's current row to the journal, or remove it when the row is gone."""
    rows = _rows(store, "SELECT * FROM clusters WHERE name = ?", name)
    path = _journal(store) / "clusters" / f"{name}.json"
    with contextlib.suppress(OSError):  # a full disk: the database warning said it already
        if rows == []:
            path.unlink(missing_ok=True)
        elif rows:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(f"{name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(rows[0]))
            os.replace(tmp, path)


def journal_run(store: Store, run_id: int | None) -> None:
    """Append the run's current row to ``runs.jsonl``; past :data:`COMPACT_AT` bytes the file
    is rewritten with only the last line of each run (no run is dropped)."""
    rows = _rows(store, "SELECT * FROM runs WHERE id = ?", run_id) if run_id else None
    if rows:
        with contextlib.suppress(OSError):
            _journal(store).mkdir(exist_ok=True, mode=0o700)
            path = _journal(store) / RUNS_FILE
            with _locked_append(path) as fh:
                fh.write(json.dumps(rows[0]) + "\n")
                fh.flush()
                if fh.tell() > COMPACT_AT:
                    _compact(path)


@contextlib.contextmanager
def _locked_append(path: Path) -> Iterator[TextIO]:
    """The journal open for appending under an exclusive lock, on the file now at ``path``
    (a writer that waited while another compacted the file reopens the new one)."""
    while True:
        fh = open(path, "a")  # noqa: SIM115 - closed below or yielded in a with
        fcntl.flock(fh, fcntl.LOCK_EX)
        if os.fstat(fh.fileno()).st_ino == _inode(path):
            break
        fh.close()
    with fh:
        yield fh


def _compact(path: Path) -> None:
    """Rewrite the runs journal with the last line of each run (called under its lock)."""
    latest: dict[object, str] = {}
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            latest[json.loads(line)["id"]] = line
    tmp = path.with_name(f"{RUNS_FILE}.{os.getpid()}.tmp")
    tmp.write_text("".join(line + "\n" for line in latest.values()))
    os.replace(tmp, path)
