"""Spend records and the cost report (``%sky cost`` / ``jupyter-sky cost``).

What is spent is what holding clusters costs: a priced cluster costs its $/h (of every node)
for all its **UP time**, from the start of its launch (or of starting it again after a stop) to
its stop or down, cells running or not — as a cloud bills a VM. The state DB keeps that time as
uptime spans (:mod:`jupyter_sky.state.uptime`). Every ``%%sky`` cell is also one run: its
cluster, infra, notebook, cell, start, end, nodes, $/h and cost (price x elapsed); a run inside
an uptime span of its cluster is part of that span's cost and is not counted again. A run with
no span around it (recorded before spans were, or whose cluster record was lost) counts on its
own. The report and the budgets (:mod:`jupyter_sky.budget`) add up the same charges; a cluster
or run still going is counted up to now.
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jupyter_sky.errors import SpecError
from jupyter_sky.textual import duration, table

if TYPE_CHECKING:
    from jupyter_sky.state import Store
    from jupyter_sky.state.uptime import Span

GROUPS = ("cluster", "day", "notebook", "infra")
USAGE = "Usage: %sky cost [--by cluster|day|notebook|infra] (default: cluster)."


@dataclass(frozen=True)
class Charge:
    """Money one cluster spent over a stretch of time: an uptime span, or a run outside any."""

    cluster: str
    infra: str
    notebook: str
    started_at: float
    ended_at: float | None  # None: still going
    price: float  # $/h
    recorded: float | None = None  # an ended run's recorded cost (a span: price x time)
    up: bool = True  # an uptime span (False: a run outside any span)

    def seconds(self, now: float, since: float = 0.0, until: float | None = None) -> float:
        """Its seconds up to ``now`` within [``since``, ``until``)."""
        end = min(self.ended_at if self.ended_at is not None else now, until or now)
        return max(0.0, end - max(self.started_at, since))

    def cost(self, now: float, since: float = 0.0, until: float | None = None) -> float:
        """Its dollars up to ``now`` within [``since``, ``until``)."""
        part = self.seconds(now, since, until)
        if self.recorded is None or self.ended_at is None:
            return self.price * part / 3600
        whole = self.ended_at - self.started_at
        if whole <= 0:  # an instant: all of it, if it falls in the window
            inside = since <= self.started_at < (until or now + 1)
            return self.recorded if inside else 0.0
        return self.recorded * part / whole


@dataclass(frozen=True)
class Spend:
    """One run (a cell) as the report counts it."""

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


def charges(store: Store, now: float | None = None) -> list[Charge]:
    """Every uptime span, and every run outside a span of its cluster, as a :class:`Charge`."""
    now = time.time() if now is None else now
    by_cluster: dict[str, list[Span]] = {}
    for span in store.uptime_spans():  # oldest first; a cluster's spans never overlap
        by_cluster.setdefault(span.cluster, []).append(span)
    starts = {name: [s.started_at for s in group] for name, group in by_cluster.items()}
    first_notebook: dict[Span, str] = {}
    loose: list[Charge] = []
    for run in spends(store, now):
        around = _around(by_cluster.get(run.cluster, []), starts.get(run.cluster, []), run, now)
        if around is not None:
            first_notebook.setdefault(around, run.notebook)
            continue
        price = run.cost * 3600 / run.seconds if run.seconds > 0 else 0.0
        loose.append(Charge(run.cluster, run.infra, run.notebook, run.started_at,
                            run.started_at + run.seconds, price, run.cost, up=False))  # fmt: skip
    ups = [
        Charge(s.cluster, s.infra, first_notebook.get(s, "-"), s.started_at, s.ended_at, s.price)
        for group in by_cluster.values() for s in group
    ]  # fmt: skip
    return ups + loose


def _around(spans: list[Span], starts: list[float], run: Spend, now: float) -> Span | None:
    """The span of ``spans`` (one cluster's; ``starts`` their starts) the run started in."""
    at = bisect.bisect_right(starts, run.started_at) - 1
    return spans[at] if at >= 0 and spans[at].covers(run.started_at, now) else None


def spent(
    store: Store, since: float = 0.0, cluster: str | None = None, now: float | None = None
) -> float:
    """Dollars spent from ``since`` to now (by one cluster, or all)."""
    now = time.time() if now is None else now
    return sum(
        c.cost(now, since) for c in charges(store, now) if cluster in (None, c.cluster)
    )


# ---- the report -------------------------------------------------------------------------
def _day(when: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(when))


def midnight(when: float) -> float:
    """The start of ``when``'s day, local time."""
    t = time.localtime(when)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))


def day_bounds(start: float, end: float) -> list[tuple[str, float, float]]:
    """[start, end] cut at local midnights: (ISO date, from, to) per day (one for an instant)."""
    parts: list[tuple[str, float, float]] = []
    at = start
    while at < end or not parts:
        day = dt.datetime.fromtimestamp(at).date()
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time()).timestamp()
        parts.append((day.isoformat(), at, min(end, midnight) if end > at else midnight))
        at = midnight
    return parts


def _pieces(charge: Charge, by: str, now: float) -> list[tuple[str, float, float]]:
    """(group, UP seconds, dollars) of a charge; ``day`` cuts it at each local midnight."""
    up = 1.0 if charge.up else 0.0
    if by != "day":
        return [(str(getattr(charge, by)), up * charge.seconds(now), charge.cost(now))]
    end = charge.ended_at if charge.ended_at is not None else now
    return [
        (day, up * charge.seconds(now, lo, hi), charge.cost(now, lo, hi))
        for day, lo, hi in day_bounds(charge.started_at, end)
    ]


Row = tuple[int, float, float, float]  # runs, cell seconds, UP seconds, dollars


def totals(store: Store, by: str, now: float | None = None) -> dict[str, Row]:
    """Group -> (runs, cell seconds, UP seconds, dollars), groups in the order they appear."""
    now = time.time() if now is None else now
    out: dict[str, Row] = {}
    for run in spends(store, now):
        key = _day(run.started_at) if by == "day" else str(getattr(run, by))
        runs, cell, up, cost = out.get(key, (0, 0.0, 0.0, 0.0))
        out[key] = (runs + 1, cell + run.seconds, up, cost)
    for charge in charges(store, now):
        for key, seconds, dollars in _pieces(charge, by, now):
            runs, cell, up, cost = out.get(key, (0, 0.0, 0.0, 0.0))
            out[key] = (runs, cell, up + seconds, cost + dollars)
    return out


def report(store: Store, by: str = "cluster") -> str:
    """The cost report as text: one row per group and a total line."""
    if by not in GROUPS:
        raise SpecError(f"%sky cost --by takes one of {', '.join(GROUPS)}, not '{by}'.")
    groups = {k: v for k, v in totals(store, by).items() if v[0] or v[2] or v[3]}
    if not groups:
        return "No runs recorded yet; a %%sky cell records what it costs."
    rows: list[tuple[str, ...]] = [(by.upper(), "RUNS", "CELL TIME", "UP TIME", "COST")]
    rows += [(k, str(n), duration(c), duration(u), f"${d:.2f}") for k, (n, c, u, d) in groups.items()]
    n, c, u, d = (sum(v[i] for v in groups.values()) for i in range(4))
    rows.append(("TOTAL", str(int(n)), duration(c), duration(u), f"${d:.2f}"))
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
