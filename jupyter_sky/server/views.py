"""What the panel shows, as JSON-ready dicts built from the state store's records.

Pure functions of records and the time: no network, no kernel, so the REST handlers stay thin.
A cluster costs its ``cost_per_hour`` from creation until it ended (``ended_at``), or until now
while it is up; a cluster that went down before its end time was recorded is counted until it
was last used. The spend totals are the charges of :mod:`jupyter_sky.cost` (every uptime span,
not only the latest launch), the same ``%sky cost`` and the budgets add up.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from jupyter_sky.cost import day_bounds
from jupyter_sky.state import ClusterRecord

if TYPE_CHECKING:
    from jupyter_sky.cost import Charge

RUNS_SHOWN = 20


def running_until(rec: ClusterRecord, now: float) -> float:
    """When the cluster stopped costing money (``now`` while it is up)."""
    if rec.state not in ("DOWN", "STOPPED"):
        return now
    return rec.ended_at if rec.ended_at is not None else rec.last_used_at


def cluster_view(rec: ClusterRecord, where: str, now: float) -> dict[str, Any]:
    """One cluster: infra, where, state, uptime, idle time, $/h, $ so far, who ended it."""
    up = rec.state not in ("DOWN", "STOPPED")
    end = running_until(rec, now)
    return {
        "name": rec.name,
        "infra": rec.infra,
        "where": where,
        "state": rec.state,
        "created_at": rec.created_at,
        "uptime_s": max(0.0, end - rec.created_at),
        "idle_s": max(0.0, now - rec.last_used_at) if up else None,
        "cells_run": rec.cells_run,
        "cost_per_hour": rec.cost_per_hour,
        "cost": _cost(rec.cost_per_hour, rec.created_at, end),
        "ended_by": rec.ended_by,
        "ended_at": rec.ended_at,
    }


def run_view(run: dict[str, Any], now: float) -> dict[str, Any]:
    """One cell run: notebook, cell, started, duration, status and cost."""
    end = run["ended_at"] if run["ended_at"] is not None else now
    return {
        "id": run["id"],
        "cluster": run["cluster"],
        "notebook": run.get("notebook", ""),
        "cell": run.get("cell", "") or run["cell_hash"],
        "started_at": run["started_at"],
        "duration_s": max(0.0, end - run["started_at"]),
        "status": run["status"],
        "cost": run["cost"],
    }


def recent_runs(runs: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """The newest runs first, at most ``RUNS_SHOWN``."""
    return [run_view(r, now) for r in reversed(runs[-RUNS_SHOWN:])]


def job_view(job: Any, now: float) -> dict[str, Any]:
    """One detached job as the store last saw it (its state is refreshed by ``%sky jobs``)."""
    running = not job.final
    elapsed = now - job.submitted_at if running and job.elapsed is None else job.elapsed
    return {
        "id": job.id,
        "job": job.job,
        "name": job.name,
        "cluster": job.cluster,
        "state": job.state,
        "submitted_at": job.submitted_at,
        "elapsed_s": elapsed,
        "first_line": job.first_line,
        "final": not running,
    }


def spend(items: list[Charge], now: float) -> dict[str, Any]:
    """Spend per cluster, per local calendar day, today and in total, in dollars: the charges
    ``%sky cost`` and the budgets add up (:func:`jupyter_sky.cost.charges`)."""
    per_cluster: dict[str, float] = {}
    per_day: dict[str, float] = {}
    for item in items:
        per_cluster[item.cluster] = per_cluster.get(item.cluster, 0.0) + item.cost(now)
        end = item.ended_at if item.ended_at is not None else now
        for day, start, stop in day_bounds(item.started_at, end):
            per_day[day] = per_day.get(day, 0.0) + item.cost(now, start, stop)
    today = dt.datetime.fromtimestamp(now).date().isoformat()
    return {
        "total": sum(per_cluster.values()),
        "today": per_day.get(today, 0.0),
        "per_cluster": per_cluster,
        "per_day": dict(sorted(per_day.items())),
    }


def _cost(per_hour: float, start: float, end: float) -> float:
    return per_hour * max(0.0, end - start) / 3600
