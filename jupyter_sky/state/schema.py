"""The state database's schema: its migrations, and the records its rows become."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from jupyter_sky.errors import SkyError

CLUSTER_STATES = ("INIT", "UP", "STOPPED", "DOWN")  # STOPPED: a cloud VM kept with its disk
RUN_STATUSES = ("ok", "error", "interrupted", "died")

# MIGRATIONS[i] takes the schema from user_version i to i + 1; only ever append.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE clusters (
            name TEXT PRIMARY KEY,
            infra TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_used_at REAL NOT NULL,
            cells_run INTEGER NOT NULL DEFAULT 0,
            cost_per_hour REAL NOT NULL DEFAULT 0,
            owner TEXT NOT NULL DEFAULT '',
            placement TEXT NOT NULL DEFAULT '{}',
            handle TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster TEXT NOT NULL,
            cell_hash TEXT NOT NULL,
            infra TEXT NOT NULL,
            placement TEXT NOT NULL DEFAULT '{}',
            started_at REAL NOT NULL,
            ended_at REAL,
            status TEXT NOT NULL DEFAULT 'running',
            cost REAL NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX runs_by_cluster ON runs (cluster)",
    ),
    (  # who ended a cluster and when (the lab panel's Down); which notebook cell a run was
        "ALTER TABLE clusters ADD COLUMN ended_by TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE clusters ADD COLUMN ended_at REAL",
        "ALTER TABLE runs ADD COLUMN notebook TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN cell TEXT NOT NULL DEFAULT ''",
    ),
    (  # detached cells of any infra that runs them (its job id in ``job``); IF NOT EXISTS:
        # earlier versions made this table on first use, without the infra column
        """CREATE TABLE IF NOT EXISTS detached_jobs (
            id TEXT PRIMARY KEY,
            job TEXT NOT NULL,
            cluster TEXT NOT NULL,
            dir TEXT NOT NULL,
            name TEXT NOT NULL,
            pulls TEXT NOT NULL DEFAULT '[]',
            submitted_at REAL NOT NULL,
            first_line TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'SUBMITTED',
            elapsed REAL
        )""",
        "ALTER TABLE detached_jobs ADD COLUMN infra TEXT NOT NULL DEFAULT 'slurm'",
    ),
    (  # spend records: a run's nodes and $/h of all of them (cost = price x elapsed) and why
        # it stopped ('' or a budget sentence)
        "ALTER TABLE runs ADD COLUMN nodes INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE runs ADD COLUMN price REAL NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN reason TEXT NOT NULL DEFAULT ''",
    ),
    (  # uptime: one row per time a cluster was UP (launch or start to stop or down) and its
        # $/h (of every node), the time a cloud bills; an old database's clusters get their latest span
        """CREATE TABLE uptime (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster TEXT NOT NULL,
            infra TEXT NOT NULL,
            price REAL NOT NULL DEFAULT 0,
            started_at REAL NOT NULL,
            ended_at REAL
        )""",
        "CREATE INDEX uptime_by_cluster ON uptime (cluster)",
        """INSERT INTO uptime (cluster, infra, price, started_at, ended_at)
            SELECT name, infra, cost_per_hour, created_at,
                   CASE WHEN state = 'UP' THEN NULL ELSE COALESCE(ended_at, last_used_at) END
            FROM clusters WHERE state != 'INIT'""",
    ),
]
CLUSTER_COLUMNS = (
    "name", "infra", "state", "created_at", "last_used_at", "cells_run", "cost_per_hour", "owner",
    "placement", "handle", "ended_by", "ended_at",
)  # fmt: skip
PANEL = "panel"  # ended_by of a cluster ended with Down in the JupyterLab panel


@dataclass
class ClusterRecord:
    """One cluster as the store knows it; ``placement`` and ``handle`` are infra-specific JSON."""

    name: str
    infra: str
    state: str  # 'INIT' | 'UP' | 'DOWN'
    created_at: float = field(default_factory=time.time)
    last_used_at: float = field(default_factory=time.time)
    cells_run: int = 0
    cost_per_hour: float = 0.0
    owner: str = ""  # notebook session id
    placement: dict[str, Any] = field(default_factory=dict)
    handle: dict[str, Any] = field(default_factory=dict)
    ended_by: str = ""  # '' or who ended it: 'panel' for the lab panel's Down
    ended_at: float | None = None


@dataclass
class DetachedJob:
    """A detached cell: our id, the infra's job id, where its files are, what comes home."""

    id: str
    job: str
    cluster: str
    dir: str
    name: str
    pulls: list[str] = field(default_factory=list)  # names the cell rebinds
    submitted_at: float = field(default_factory=time.time)
    first_line: str = ""
    state: str = "SUBMITTED"
    elapsed: float | None = None
    infra: str = "slurm"

    @property
    def final(self) -> bool:
        """Ended: the store keeps ``SUBMITTED`` until the infra settles the final state."""
        return self.state not in ("SUBMITTED", "PENDING", "RUNNING")


JOB_COLUMNS = tuple(f.name for f in fields(DetachedJob))


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise SkyError(
            f"The state database {path} has schema {version}, newer than this jupyter-sky "
            f"understands ({len(MIGRATIONS)}); upgrade jupyter-sky."
        )
    if version == len(MIGRATIONS):
        return
    conn.execute("BEGIN IMMEDIATE")  # take the write lock first: two kernels may start together
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version, len(MIGRATIONS)):
            for sql in MIGRATIONS[number]:
                conn.execute(sql)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
