"""Place a pipeline of tasks as a whole: exact DP for chains, an integer program otherwise.

Egress depends only on the pair of infras (same cloud: free; different: the upstream
cloud's $/GB times its declared outputs), so each task needs only its best usable candidate
per infra; that keeps both solvers small (a few dozen candidates per task) and still exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import SpecError
from jupyter_sky.optimizer.model import InfraFacts, Placement, Tabular
from jupyter_sky.optimizer.ranking import Entry, Found, build, match, statuses
from jupyter_sky.optimizer.rows import Pricing, RowContext, live_price
from jupyter_sky.optimizer.status import egress_hours

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering
    from jupyter_sky.spec.task import Resources

OBJECTIVES = ("cost", "time")


@dataclass(frozen=True)
class DagTask:
    """One task of a pipeline: what it needs, how long it runs, what it sends on and home."""

    resources: Resources
    hours: float | None = None  # runtime estimate (--time); cost assumes 1 h without it
    output_gb: float = 0.0  # declared outputs, sent to every downstream task
    pull_gb: float = 0.0  # values the cell pulls back to the notebook


@dataclass(frozen=True)
class DagPlan(Tabular):
    """The placement of every task, with compute, task-to-task and home egress costs."""

    order: tuple[str, ...]
    tasks: Mapping[str, DagTask]
    placements: Mapping[str, Placement]
    edges: tuple[tuple[str, str], ...]
    edge_egress: Mapping[tuple[str, str], float]
    objective: str
    solver: str  # "dp" (chains) or "milp" (HiGHS)
    compute_cost: float
    hours: float | None  # longest path, when every task has a runtime estimate
    notes: tuple[str, ...] = ()

    @property
    def egress_cost(self) -> float:
        """Egress between tasks on different clouds, in $."""
        return sum(self.edge_egress.values())

    @property
    def home_egress_cost(self) -> float:
        """Egress of the values pulled back to the notebook, in $."""
        return sum(p.egress_cost for p in self.placements.values())

    @property
    def total_cost(self) -> float:
        """Compute plus both kinds of egress, in $."""
        return self.compute_cost + self.egress_cost + self.home_egress_cost

    def explain(self) -> str:
        """Return one sentence: the totals and how they were found."""
        how = "dynamic programming over the chain" if self.solver == "dp" else "HiGHS (milp)"
        span = f", about {self.hours:.2f} h end to end" if self.hours is not None else ""
        note = f" ({'; '.join(self.notes)})" if self.notes else ""
        return (
            f"{len(self.order)} tasks for ${self.total_cost:,.2f}: compute "
            f"${self.compute_cost:,.2f}, egress between tasks ${self.egress_cost:,.2f}, egress "
            f"home ${self.home_egress_cost:,.2f}{span}; minimum {self.objective} by {how}{note}."
        )

    def to_text(self) -> str:
        """Return the plan as a plain-text table."""
        from jupyter_sky.optimizer.render import dag_text

        return dag_text(self)

    def to_html(self) -> str:
        """Return the plan as an HTML table (frontends without widgets)."""
        from jupyter_sky.optimizer.render import dag_html

        return dag_html(self)

    def _repr_html_(self) -> str:  # %sky plan in a notebook and in the rendered docs
        return self.to_html()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # text/plain: the table
        printer.text(self.to_text())


@dataclass(frozen=True)
class _Candidate:
    entry: Entry
    cost: float
    time: float


def _graph(names: Sequence[str], edges: Sequence[tuple[str, str]]) -> Any:
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    for u, v in edges:
        for end in (u, v):
            if end not in graph:
                raise SpecError(f"The edge {u} -> {v} names {end!r}, which is not a task.")
        graph.add_edge(u, v)
    if not nx.is_directed_acyclic_graph(graph):
        loop = nx.find_cycle(graph)
        cycle = " -> ".join([u for u, _ in loop] + [loop[0][0]])
        raise SpecError(f"The tasks form a cycle ({cycle}); a pipeline must run one way.")
    return graph


def _chains(graph: Any, order: Sequence[str]) -> list[list[str]] | None:
    """Return each weakly connected component as an ordered chain, or None if one branches."""
    import networkx as nx

    if any(d > 1 for _, d in graph.in_degree()) or any(d > 1 for _, d in graph.out_degree()):
        return None
    position = {t: n for n, t in enumerate(order)}
    comps = nx.weakly_connected_components(graph)
    return [sorted(c, key=position.__getitem__) for c in comps]


def _best_per_infra(
    found: Found,
    task: DagTask,
    reasons: Mapping[str, str],
    objective: str,
    speed: Mapping[str, float] | None,
    prices: Mapping,
    rates: Mapping[str, float],
) -> list[_Candidate]:
    """Return the best usable candidate of each infra (one pass; Entries only for winners);
    ``rates`` are the $/GB of data leaving each infra."""
    hours = task.hours if task.hours is not None else 1.0
    speeds = {k.lower(): v for k, v in (speed or {}).items()}
    best: dict[str, tuple[tuple[float, float], tuple[Offering, float, float, float]]] = {}
    spot = found.res.spot
    sources: list[tuple[str, float, Offering]] = [
        (o.infra, (o.spot_price if spot else o.price) or 0.0, o) for o in found.ranked
    ]
    sources += [
        (o.infra, live_price(o, found.res, prices.get(o.infra)) or 0.0, o) for o in found.fits
    ]
    for infra, price, source in sources:
        if reasons.get(infra, ""):
            continue
        rate = rates.get(infra, 0.0)
        cost = price * hours + task.pull_gb * rate
        time = hours / speeds.get((source.accelerator or "").lower(), 1.0) + (
            egress_hours(task.pull_gb) if rate else 0.0
        )
        key = (time, cost) if objective == "time" else (cost, time)
        if infra not in best or key < best[infra][0]:
            best[infra] = (key, (source, price, cost, time))
    return [_candidate(found.res, task, *won) for _, won in best.values()]


def _candidate(
    res: Resources, task: DagTask, source: Offering, price: float, cost: float, time: float
) -> _Candidate:
    key = (price, price, 0.0, source.infra, source.region, source.instance_type, res.spot)
    return _Candidate(Entry(key, source, res, source.infra), cost, time)


def _hop(out_gb: float, a: str, b: str, objective: str, rates: Mapping[str, float]) -> float:
    if a == b or not out_gb:
        return 0.0
    return egress_hours(out_gb) if objective == "time" else out_gb * rates.get(a, 0.0)


def _matrices(
    tasks: Mapping[str, DagTask],
    cands: Mapping[str, list[_Candidate]],
    edges: Sequence[tuple[str, str]],
    objective: str,
    rates: Mapping[str, float],
) -> dict:
    return {
        (u, v): [
            [
                _hop(tasks[u].output_gb, a.entry.infra, b.entry.infra, objective, rates)
                for b in cands[v]
            ]
            for a in cands[u]
        ]
        for u, v in edges
    }


def _solve(
    graph: Any, order: list[str], node: dict, edge: dict, objective: str
) -> tuple[str, dict]:
    from jupyter_sky.optimizer.solve import solve_chain, solve_dag

    chains = _chains(graph, order)
    if chains is None:
        return "milp", solve_dag(order, node, edge, makespan=objective == "time")[1]
    picked: dict[str, int] = {}
    for chain in chains:
        picked.update(solve_chain(chain, node, edge)[1])
    return "dp", picked


def _span(
    order: list[str],
    edges: Sequence[tuple[str, str]],
    chosen: Mapping[str, _Candidate],
    tasks: Mapping[str, DagTask],
) -> float | None:
    if any(tasks[t].hours is None for t in order):
        return None
    finish: dict[str, float] = {}
    for v in order:
        start = max(
            (
                finish[u]
                + _hop(tasks[u].output_gb, chosen[u].entry.infra, chosen[v].entry.infra, "time", {})
                for u, w in edges
                if w == v
            ),
            default=0.0,
        )
        finish[v] = start + chosen[v].time
    return max(finish.values(), default=0.0)


def _normalise(tasks: Mapping[str, DagTask | Resources], objective: str) -> dict[str, DagTask]:
    if objective not in OBJECTIVES:
        raise SpecError(f"The objective must be cost or time, not {objective!r}.")
    out = {name: t if isinstance(t, DagTask) else DagTask(t) for name, t in tasks.items()}
    unknown = [name for name, t in out.items() if t.hours is None]
    if objective == "time" and unknown:
        raise SpecError(
            f"Minimising time needs a runtime estimate for every task, and {', '.join(unknown)} "
            "has none; add --time to it or minimise cost."
        )
    return out


def plan_dag(
    tasks: Mapping[str, DagTask | Resources],
    edges: Iterable[tuple[str, str]],
    objective: str = "cost",
    *,
    status: Mapping[str, str] | None = None,
    live: Iterable[Offering] = (),
    prices: Mapping[str, Pricing] | None = None,
    speed: Mapping[str, float] | None = None,
    today: date | None = None,
    facts: InfraFacts | None = None,
) -> DagPlan:
    """Place every task of a pipeline at once, minimising total cost (or time).

    Parameters
    ----------
    tasks : mapping of str to DagTask or Resources
        Task name -> what it needs, its runtime estimate, its output and pulled sizes.
    edges : iterable of (str, str)
        (upstream, downstream) pairs; the upstream's ``output_gb`` moves along each.
    objective : {"cost", "time"}
        ``time`` minimises the longest path and needs ``hours`` on every task.
    status, live, prices, today, facts
        As for :func:`jupyter_sky.optimizer.ranking.rank`; only usable infras are placed on.
    speed : mapping of str to float, optional
        Relative speed per accelerator (lower-case name; 1.0 when missing) for ``time``.

    Returns
    -------
    DagPlan
        ``placements`` per task, egress per edge and home, totals and ``explain()``.

    Raises
    ------
    SpecError
        For an unknown task in ``edges``, a cycle, a bad objective, ``time`` without every
        runtime, or a task that no usable infra can run (with the reason).
    """
    specs = _normalise(tasks, objective)
    edges = list(edges)
    graph = _graph(list(specs), edges)
    import networkx as nx

    order = list(nx.topological_sort(graph))
    live, prices = list(live), dict(prices or {})
    facts = facts or InfraFacts()
    found = {t: match(specs[t].resources, live, prices, status, facts) for t in order}
    reasons = statuses(list(found.values()), status, facts.capabilities, facts)
    cands = {
        t: _best_per_infra(found[t], specs[t], reasons, objective, speed, prices, facts.egress)
        for t in order
    }
    for t in order:
        if not cands[t]:
            why = _why(specs[t], live, status, facts)
            raise SpecError(f"Task {t} has no usable placement: {why}")
    node = {t: [c.time if objective == "time" else c.cost for c in cands[t]] for t in order}
    solver, picked = _solve(
        graph, order, node, _matrices(specs, cands, edges, objective, facts.egress), objective
    )
    chosen = {t: cands[t][picked[t]] for t in order}
    return _result(
        specs, order, edges, chosen, reasons, objective, solver, prices, today, facts
    )


def _why(
    task: DagTask, live: list[Offering], status: Mapping[str, str] | None, facts: InfraFacts
) -> str:
    from jupyter_sky.optimizer.ranking import rank

    return rank(task.resources, live=live, status=status, limit=1, facts=facts).explain()


def _result(
    specs: Mapping[str, DagTask],
    order: list[str],
    edges: list[tuple[str, str]],
    chosen: Mapping[str, _Candidate],
    reasons: Mapping[str, str],
    objective: str,
    solver: str,
    prices: Mapping,
    today: date | None,
    facts: InfraFacts,
) -> DagPlan:
    placements = {}
    for t in order:
        day = today or date.today()
        ctx = RowContext(
            specs[t].hours or 1.0, specs[t].pull_gb, reasons, day, facts.launchers, facts.egress
        )
        placements[t] = build(chosen[t].entry, ctx, prices)
    egress = {
        (u, v): _hop(
            specs[u].output_gb, chosen[u].entry.infra, chosen[v].entry.infra, "cost", facts.egress
        )
        for u, v in edges
    }
    unknown = [t for t in order if specs[t].hours is None]
    notes = (f"no runtime for {', '.join(unknown)}: priced as 1 h",) if unknown else ()
    compute = sum(p.est_cost or 0.0 for p in placements.values())
    return DagPlan(
        tuple(order),
        dict(specs),
        placements,
        tuple(edges),
        egress,
        objective,
        solver,
        compute,
        _span(order, edges, chosen, specs),
        notes,
    )
