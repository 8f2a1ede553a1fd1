"""Uptime spans: each time a cluster is up — from the start of its launch (or of starting it
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
    """After a change to cluster ``name`` (``rec``: its record now, None once removed).

    A launching or UP cluster has one open span, from its ``created_at`` (the start of its
    launch, or of starting it again): a record with another ``created_at`` is a new launch, so
    the old span ends and a new one opens; a stopped, down or removed cluster's span ends.
    """
    current = _open(store, name)
    if rec is not None and rec.state in ("INIT", "UP"):
        if current is not None and current[1] == rec.created_at:
            store._execute("UPDATE uptime SET price = ? WHERE id = ?", (rec.cost_per_hour, current[0]))
            return  # the same launch: failover may have landed on another price
        _close(store, name, time.time())
        store._execute(
            "INSERT INTO uptime (cluster, infra, price, started_at) VALUES (?, ?, ?, ?)",
            (name, rec.infra, rec.cost_per_hour, rec.created_at),
        )
    elif current is not None:
        ended = rec.ended_at if rec is not None and rec.ended_at is not None else time.time()
        _close(store, name, ended)


def _open(store: Store, name: str) -> tuple[int, float] | None:
    """(id, started_at) of the cluster's open span, or None."""
    rows = store._query(
        "SELECT id, started_at FROM uptime WHERE cluster = ? AND ended_at IS NULL "
        "ORDER BY id DESC LIMIT 1",
        (name,),
    )
    return (int(rows[0][0]), float(rows[0][1])) if rows else None


def _close(store: Store, name: str, ended: float) -> None:
    store._execute(
        "UPDATE uptime SET ended_at = MAX(started_at, ?) WHERE cluster = ? AND ended_at IS NULL",
        (ended, name),
    )


def spans(store: Store) -> list[Span]:
    """Every span, oldest first."""
    rows = store._query("SELECT * FROM uptime ORDER BY started_at, id")
    return [
        Span(r["cluster"], r["infra"], float(r["price"]), float(r["started_at"]),
             None if r["ended_at"] is None else float(r["ended_at"]))
        for r in rows
    ]  # fmt: skip
