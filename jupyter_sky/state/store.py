"""SQLite state store: clusters and cell runs, shared by every notebook kernel of one user.

The database lives in ``sky_home()/state.db``. Several kernels write to it at once, so every write
is one autocommitted statement and every connection waits up to 30 s for a lock. WAL lets readers
and a writer work in parallel, but it needs shared memory that network filesystems do not give
(NFS home directories are common on clusters), so there the rollback journal is used instead.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

from jupyter_sky.config import ensure_sky_home, sky_home
from jupyter_sky.errors import ConfigError
from jupyter_sky.state import recover as state_recover
from jupyter_sky.state import uptime
from jupyter_sky.state.journal_mode import MOUNTS_FILE, journal_mode_for
from jupyter_sky.state.pending import RUN_COLUMNS, PendingRuns
from jupyter_sky.state.schema import (
    CLUSTER_COLUMNS,
    CLUSTER_STATES,
    JOB_COLUMNS,
    PANEL,
    RUN_STATUSES,
    ClusterRecord,
    DetachedJob,
    migrate,
)

DB_FILE = "state.db"
BUSY_TIMEOUT_MS = 30_000


def _record(row: sqlite3.Row) -> ClusterRecord:
    values = dict(row)
    values["placement"] = json.loads(values["placement"])
    values["handle"] = json.loads(values["handle"])
    return ClusterRecord(**values)


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, default=str)  # a Path in a handle is stored as its string


class Store:
    """The clusters and runs tables; one lazily opened connection per instance.

    Parameters
    ----------
    home : Path, optional
        Directory of ``state.db``; defaults to :func:`jupyter_sky.config.sky_home`.
    mounts_file : Path
        Mount table used to detect a network filesystem.
    """

    def __init__(self, home: Path | None = None, *, mounts_file: Path = MOUNTS_FILE) -> None:
        self.home = Path(home) if home is not None else sky_home()
        self.path = self.home / DB_FILE
        self.journal_mode: str | None = None  # what SQLite reports once the store is open
        self._mounts_file = mounts_file
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()  # the I/O threads of several kernels share this store
        self._warned = False  # a failed write is said once per store
        self.inode = 0  # of the file the connection opened; see state/recover.py
        self.pending = PendingRuns()  # runs a full disk kept out of the database

    def _db(self) -> sqlite3.Connection:
        if self._conn is not None and state_recover.replaced(self):
            self.close()  # another kernel rebuilt a damaged database: use the new one
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        ensure_sky_home(self.home)
        try:
            return state_recover.opened(self, self._connect())
        except (sqlite3.Error, OSError) as exc:
            if state_recover.damaged(exc):  # moved aside and rebuilt, running clusters kept
                return state_recover.recover(self, exc)
            raise ConfigError(
                f"The state database {self.path} cannot be used ({exc}); move it aside (an "
                "empty one is made in its place) or fix what the reason names."
            ) from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = journal_mode_for(self.home, self._mounts_file)
        self.journal_mode = conn.execute(f"PRAGMA journal_mode = {mode}").fetchone()[0].upper()
        if self.journal_mode == "WAL":
            conn.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL, much faster
        migrate(conn, self.path)
        return conn

    def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[list[sqlite3.Row], int | None]:
        """Run one statement: its rows and new row id. A database found damaged is rebuilt
        (state/recover.py) and the statement run once more."""
        with self._lock:  # fetch under the lock too: the connection is shared by threads
            try:
                cur = self._db().execute(sql, params)
                return cur.fetchall(), cur.lastrowid
            except sqlite3.DatabaseError as exc:
                if not state_recover.damaged(exc):
                    raise
                self._conn = state_recover.recover(self, exc)
                cur = self._conn.execute(sql, params)
                return cur.fetchall(), cur.lastrowid

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> int | None:
        """Run one autocommitted statement and return the new row id, if any."""
        try:
            return self._run(sql, params)[1]
        except sqlite3.OperationalError as exc:  # disk full, read-only: cells go on
            self._warn_once(exc)
            return None

    def _warn_once(self, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            print(
                f"jupyter-sky: could not write the state database {self.path} ({exc}); cells "
                "keep running, but %sky status may be out of date.",
                file=sys.stderr,
            )

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._run(sql, params)[0]

    def close(self) -> None:
        """Close the connection; the next call opens a new one."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def put_cluster(self, rec: ClusterRecord) -> None:
        """Insert the cluster, or replace the record with the same name."""
        self._execute(
            f"INSERT OR REPLACE INTO clusters ({', '.join(CLUSTER_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(CLUSTER_COLUMNS))})",
            (rec.name, rec.infra, _state(rec.state), rec.created_at, rec.last_used_at,
             rec.cells_run, rec.cost_per_hour, rec.owner, _json(rec.placement), _json(rec.handle),
             rec.ended_by, rec.ended_at),
        )  # fmt: skip
        state_recover.journal_cluster(self, rec.name)
        uptime.follow(self, rec, rec.name)

    def get_cluster(self, name: str) -> ClusterRecord | None:
        """Return the named cluster, or None."""
        rows = self._query("SELECT * FROM clusters WHERE name = ?", (name,))
        return _record(rows[0]) if rows else None

    def list_clusters(self) -> list[ClusterRecord]:
        """Return every cluster, oldest first."""
        rows = self._query("SELECT * FROM clusters ORDER BY created_at, name")
        return [_record(row) for row in rows]

    def set_state(self, name: str, state: str) -> None:
        """Set the state of a cluster ('INIT', 'UP', 'STOPPED' or 'DOWN'); unknown names are
        ignored.

        The first change to 'DOWN' or 'STOPPED' records when the cluster ended (its cost stops
        there; a stopped VM's disk is not counted).
        """
        ended = time.time() if _state(state) in ("DOWN", "STOPPED") else None
        self._execute(
            "UPDATE clusters SET state = ?, ended_at = COALESCE(ended_at, ?) WHERE name = ?",
            (state, ended, name),
        )
        state_recover.journal_cluster(self, name)
        uptime.follow(self, self.get_cluster(name), name)

    def end_cluster(self, name: str, by: str) -> None:
        """Mark the cluster DOWN, ended now by ``by`` (``PANEL`` for the lab panel's Down)."""
        self._execute(
            "UPDATE clusters SET state = 'DOWN', ended_by = ?, ended_at = ? WHERE name = ?",
            (by, time.time(), name),
        )
        state_recover.journal_cluster(self, name)
        uptime.follow(self, self.get_cluster(name), name)

    def touch(self, name: str, cells_delta: int = 1) -> None:
        """Mark the cluster used now and add ``cells_delta`` to its cell count, atomically."""
        self._execute(
            "UPDATE clusters SET last_used_at = ?, cells_run = cells_run + ? WHERE name = ?",
            (time.time(), cells_delta, name),
        )

    def remove_cluster(self, name: str) -> None:
        """Forget a cluster; its runs stay as history."""
        self._execute("DELETE FROM clusters WHERE name = ?", (name,))
        state_recover.journal_cluster(self, name)
        uptime.follow(self, None, name)

    def start_run(
        self,
        cluster: str,
        cell_hash: str,
        infra: str,
        placement: dict,
        *,
        notebook: str = "",
        cell: str = "",
        nodes: int = 1,
        price: float = 0.0,
    ) -> int:
        """Record that a cell started on ``cluster`` and return the run id.

        ``notebook`` is the notebook's path (``$JPY_SESSION_NAME`` in a kernel Jupyter started),
        ``cell`` a short label of the cell (its first line), ``price`` the $/h of the cluster
        (every node: the planner's row price counts them all).
        """
        values = (cluster, cell_hash, infra, _json(placement), time.time(), notebook, cell[:200],
                  nodes, price)  # fmt: skip
        run_id = self._execute(
            f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(values))})",
            values,
        )
        if run_id is None:  # a full disk: held in memory, written once there is room
            return self.pending.hold(values)
        state_recover.journal_run(self, run_id)
        return run_id

    def end_run(
        self, run_id: int, status: str, cost: float | None = None, reason: str = ""
    ) -> None:
        """Record how a run ended: status 'ok', 'error', 'interrupted' or 'died', and its cost.

        Without ``cost`` the store computes it: price x elapsed hours.
        """
        if status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {RUN_STATUSES}, not {status!r}")
        now = time.time()
        if run_id < 0:  # held since its start could not be written
            self.pending.end(run_id, status, reason, cost, now)
        else:
            self._execute(
                "UPDATE runs SET ended_at = ?, status = ?, reason = ?, "
                "cost = COALESCE(?, price * MAX(0, ? - started_at) / 3600) WHERE id = ?",
                (now, status, reason, cost, now, run_id),
            )
            state_recover.journal_run(self, run_id)
        self.pending.flush(self)

    def runs(self, cluster: str | None = None) -> list[dict]:
        """Return runs (all, or those of one cluster) as dicts, oldest first."""
        where, params = ("WHERE cluster = ?", (cluster,)) if cluster is not None else ("", ())
        rows = self._query(f"SELECT * FROM runs {where} ORDER BY id", params)
        return [{**dict(row), "placement": json.loads(row["placement"])} for row in rows]

    def uptime_spans(self) -> list[uptime.Span]:
        """Every stretch of time a cluster was UP, with its $/h, oldest first."""
        return uptime.spans(self)

    # ---- detached jobs ------------------------------------------------------------------
    def put_job(self, job: DetachedJob) -> None:
        """Record a submitted job (or replace its record)."""
        values = tuple(getattr(job, c) for c in JOB_COLUMNS)
        self._execute(
            f"INSERT OR REPLACE INTO detached_jobs ({', '.join(JOB_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(JOB_COLUMNS))})",
            tuple(json.dumps(v) if isinstance(v, list) else v for v in values),
        )

    def jobs(self, ref: str | None = None) -> list[DetachedJob]:
        """Every detached job, oldest first; with ``ref``, those whose id or job id it is."""
        where = " WHERE id = ? OR job = ?" if ref is not None else ""
        rows = self._query(f"SELECT * FROM detached_jobs{where} ORDER BY submitted_at, id",
                           (ref, ref) if ref is not None else ())  # fmt: skip
        return [DetachedJob(**{**dict(r), "pulls": json.loads(r["pulls"])}) for r in rows]

    def settle_job(self, job_id: str, state: str, elapsed: float | None) -> None:
        """Store a job's final state and run time."""
        self._execute(
            "UPDATE detached_jobs SET state = ?, elapsed = ? WHERE id = ?", (state, elapsed, job_id)
        )


def _state(state: str) -> str:
    if state not in CLUSTER_STATES:
        raise ValueError(f"cluster state must be one of {CLUSTER_STATES}, not {state!r}")
    return state


def ended_from_panel(store: Store, name: str) -> str | None:
    """The sentence for a ``%%sky`` cell whose cluster was ended with Down in the lab panel.

    Returns None unless the cluster ``name`` is DOWN and was ended from the panel. Launching
    the cluster again replaces its record, so the sentence is said once.
    """
    rec = store.get_cluster(name)
    if rec is None or rec.state != "DOWN" or rec.ended_by != PANEL:
        return None
    when = time.strftime("%H:%M", time.localtime(rec.ended_at)) if rec.ended_at else "earlier"
    return (
        f"cluster '{name}' was ended from the panel at {when}; started a new one "
        "— remote state was lost"
    )
