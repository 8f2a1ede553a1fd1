"""Uptime spans: each time a cluster is UP — from the start of its launch (or of starting it
again after a stop) to its stop or down — with its $/h, the time a cloud bills.

The store follows every change of a cluster record here (:func:`follow`), so every path that
launches, starts, stops, downs, replaces or forgets a cluster opens or closes its span; a
cluster found ended later (a VM that stopped itself) is closed when that is noticed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_sky.state import ClusterRecord, Store


@dataclass(frozen=True)
class Span:
    """One stretch of a cluster's UP time; ``ended_at`` None while it is still UP."""

    cluster: str
    infra: str
    price: float  # $/h of the whole cluster (every node)
    started_at: float
    ended_at: float | None

    def covers(self, when: float, now: float) -> bool:
        """Was the cluster UP in this span at ``when`` (a run's start)?"""
        end = self.ended_at if self.ended_at is not None else now
        return self.started_at <= when <= end


def follow(store: Store, rec: ClusterRecord | None, name: str) -> None:
    """After a change to cluster ``name`` (``rec``: its record now, None once removed): an UP
    cluster has one open span; any other state, or no record, closes it."""
    if rec is not None and rec.state == "UP":
        if not _open(store, name):
            start = max(rec.created_at, _last_end(store, name))
            store._execute(
                "INSERT INTO uptime (cluster, infra, price, started_at) VALUES (?, ?, ?, ?)",
                (name, rec.infra, rec.cost_per_hour, start),
            )
        return
    ended = rec.ended_at if rec is not None and rec.ended_at is not None else time.time()
    store._execute(
        "UPDATE uptime SET ended_at = MAX(started_at, ?) WHERE cluster = ? AND ended_at IS NULL",
        (ended, name),
    )


def _open(store: Store, name: str) -> bool:
    rows = store._query(
        "SELECT 1 FROM uptime WHERE cluster = ? AND ended_at IS NULL LIMIT 1", (name,)
    )
    return bool(rows)


def _last_end(store: Store, name: str) -> float:
    rows = store._query("SELECT MAX(ended_at) FROM uptime WHERE cluster = ?", (name,))
    return float(rows[0][0]) if rows and rows[0][0] is not None else 0.0


def spans(store: Store) -> list[Span]:
    """Every span, oldest first."""
    rows = store._query("SELECT * FROM uptime ORDER BY started_at, id")
    return [
        Span(r["cluster"], r["infra"], float(r["price"]), float(r["started_at"]),
             None if r["ended_at"] is None else float(r["ended_at"]))
        for r in rows
    ]  # fmt: skip
