"""Spend records and the cost report (``%sky cost`` / ``jupyter-sky cost``).

Every ``%%sky`` cell is one run in the state database: its cluster, infra, notebook, cell,
start, end, nodes, $/h (of all its nodes), cost (price x elapsed) and status. The report adds
them up per cluster, day, notebook or infra, like SkyPilot's ``sky cost-report``. A run still
going is counted up to now.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jupyter_sky.errors import SpecError
from jupyter_sky.textual import duration, table

if TYPE_CHECKING:
    from jupyter_sky.state import Store

GROUPS = ("cluster", "day", "notebook", "infra")
USAGE = "Usage: %sky cost [--by cluster|day|notebook|infra] (default: cluster)."


@dataclass(frozen=True)
class Spend:
    """One run as the report counts it."""

    cluster: str
    infra: str
    notebook: str
    started_at: float
    seconds: float
    cost: float
    status: str


def usd(dollars: float) -> str:
    """``$4.41``; amounts under a cent keep four decimals (``$0.0002``), so they are not $0.00."""
    return f"${dollars:.4f}" if 0 < abs(dollars) < 0.01 else f"${dollars:.2f}"


def run_cost(run: dict, now: float) -> float:
    """The cost of a run: its recorded cost once ended, price x elapsed while running."""
    if run["ended_at"] is not None:
        return float(run["cost"])
    hours = max(0.0, now - float(run["started_at"])) / 3600
    return float(run["price"]) * hours


def spends(store: Store, now: float | None = None) -> list[Spend]:
    """Every run of the store as a :class:`Spend`, oldest first."""
    now = time.time() if now is None else now
    return [
        Spend(
            run["cluster"], run["infra"], run["notebook"] or "-", float(run["started_at"]),
            max(0.0, (run["ended_at"] or now) - float(run["started_at"])), run_cost(run, now),
            run["status"],
        )
        for run in store.runs()
    ]  # fmt: skip


def _key(spend: Spend, by: str) -> str:
    if by == "day":
        return time.strftime("%Y-%m-%d", time.localtime(spend.started_at))
    return str(getattr(spend, by))


def totals(items: list[Spend], by: str) -> dict[str, tuple[int, float, float]]:
    """Group -> (runs, seconds, cost), in the order groups first appear."""
    out: dict[str, tuple[int, float, float]] = {}
    for spend in items:
        runs, seconds, cost = out.get(_key(spend, by), (0, 0.0, 0.0))
        out[_key(spend, by)] = (runs + 1, seconds + spend.seconds, cost + spend.cost)
    return out


def spent_since(store: Store, since: float, cluster: str | None = None) -> float:
    """Dollars spent by runs that started at or after ``since`` (of one cluster, or all)."""
    return sum(
        s.cost for s in spends(store) if s.started_at >= since and cluster in (None, s.cluster)
    )


def report(store: Store, by: str = "cluster") -> str:
    """The cost report as text: one row per group and a total line."""
    if by not in GROUPS:
        raise SpecError(f"%sky cost --by takes one of {', '.join(GROUPS)}, not '{by}'.")
    items = spends(store)
    if not items:
        return "No runs recorded yet; a %%sky cell records what it costs."
    groups = totals(items, by)
    rows: list[tuple[str, ...]] = [(by.upper(), "RUNS", "CELL TIME", "COST")]
    rows += [(k, str(n), duration(s), f"${c:.2f}") for k, (n, s, c) in groups.items()]
    total = sum(c for _, _, c in groups.values())
    rows.append(("TOTAL", str(len(items)), duration(sum(s.seconds for s in items)), f"${total:.2f}"))
    return table(rows)


def parse_args(rest: list[str]) -> str:
    """``[]`` or ``['--by', GROUP]`` -> the group; anything else is one sentence."""
    if not rest:
        return "cluster"
    if len(rest) == 2 and rest[0] == "--by":
        return rest[1]
    if len(rest) == 1 and rest[0].startswith("--by="):
        return rest[0].split("=", 1)[1]
    raise SpecError(USAGE)
