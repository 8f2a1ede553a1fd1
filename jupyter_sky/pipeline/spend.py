"""Budgets in a cell's pipeline: refuse a plan over budget before launch, watch the cell's
spend while it runs (and send the limit to the target with the cell), and at the limit stop the
cluster where the infra can stop it. The rules themselves are :mod:`jupyter_sky.budget`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import SkyError

if TYPE_CHECKING:
    from jupyter_sky.budget import Guard, Limit
    from jupyter_sky.kernel.cluster import LiveCluster
    from jupyter_sky.kernel.manager import Manager
    from jupyter_sky.pipeline.cell import Cell, Where
    from jupyter_sky.spec.task import Task


class BudgetError(SkyError):
    """A cell refused, or stopped, by a budget."""


@dataclass
class Budget:
    """The limits of one cell (empty: none applies, or the infra has no price)."""

    limits: list[Limit] = field(default_factory=list)


def before_launch(cell: Cell, name: str, where: Where) -> Budget:
    """The cell's limits; a plan whose estimate does not fit is refused here, in one sentence."""
    from jupyter_sky.budget import limits, refusal, unpriced_note
    from jupyter_sky.pipeline.status import say

    found = limits(cell.mgr.store, name, cell.config.budget, cell.task.max_cost)
    if not found or where.infra is None:
        return Budget()
    price, priced = _planned_price(cell.mgr, name, where)
    note = unpriced_note(where.infra.kind, found, priced)
    if note:
        say([note])
    why = refusal(price, cell.task.hours, found)
    if why:
        if where.widget is not None:
            where.widget.status = why
        raise BudgetError(why + _stop_idle(cell.mgr, name, found, where))
    return Budget(found if priced else [])


def _stop_idle(mgr: Manager, name: str, found: list[Limit], where: Where) -> str:
    """A running cluster whose UP time used a limit up keeps spending while it idles: stop it
    where the infra can; what was done, as the end of the refusal's sentence."""
    from jupyter_sky.budget import used_up
    from jupyter_sky.infra.base import Restartable
    from jupyter_sky.kernel.shield import no_interrupts

    record = mgr.store.get_cluster(name)
    if where.rows or used_up(found) is None or record is None or record.state != "UP":
        return ""
    if not isinstance(where.infra, Restartable):
        return f" Cluster '{name}' is still up and spending; %sky down {name} ends it."
    with no_interrupts():
        mgr.stop(name)
    return f" Cluster '{name}' was stopped (its disk is kept)."


def at_start(cell: Cell, live: LiveCluster, budget: Budget) -> Budget:
    """The limits again as the cell starts: the launch, and the time the cluster was UP since
    the plan, spent too. A limit used up by now stops the cluster where the infra can, and the
    cell does not run."""
    from jupyter_sky.budget import afterwards, limits, used_up
    from jupyter_sky.infra.base import Restartable
    from jupyter_sky.kernel.shield import no_interrupts

    if not budget.limits:
        return budget
    found = limits(cell.mgr.store, live.name, cell.config.budget, cell.task.max_cost)
    lim = used_up(found)
    if lim is None:
        return Budget(found)
    stopped = isinstance(live.infra, Restartable)
    if stopped:
        with no_interrupts():
            cell.mgr.stop(live.name)
    raise BudgetError(
        f"Budget reached before the cell ran: {lim.describe()} is used up (a cluster's UP time "
        f"counts, idle or not); {afterwards(live.name, stopped, live.infra.kind)}."
    )


def detached_limit(cell: Cell, kind: str) -> dict[str, object] | None:
    """A ``--detach`` cell's limits: refused before it is queued when its estimate does not
    fit; else what the job's kernel enforces on the target (None: no limit, or no price)."""
    from jupyter_sky.budget import limits, refusal, target_limit, unpriced_note
    from jupyter_sky.pipeline.plan import make_plan
    from jupyter_sky.pipeline.status import say

    name = cell.task.cluster or "detached"
    found = limits(cell.mgr.store, name, cell.config.budget, cell.task.max_cost)
    if not found:
        return None
    row = make_plan(cell.task).chosen
    priced = row is not None and bool(row.priced and row.price_per_hour)
    price = float(row.price_per_hour or 0.0) if row is not None and priced else 0.0
    note = unpriced_note(kind, found, priced)
    if note:
        say([note])
    why = refusal(price, cell.task.hours, found)
    if why:
        raise BudgetError(why)
    return target_limit(price, found, stop=False)


def _planned_price(mgr: Manager, name: str, where: Where) -> tuple[float, bool]:
    """$/h of the chosen row (a new cluster) or of the running cluster, and whether priced."""
    if where.rows:
        row = where.rows[0]
        return float(row.price_per_hour or 0.0), bool(row.priced and row.price_per_hour)
    record = mgr.store.get_cluster(name)
    price = float(record.cost_per_hour) if record is not None else 0.0
    return price, price > 0


def guard(
    budget: Budget, live: LiveCluster, price: float, tick: Callable[[], None] | None
) -> Guard | None:
    """The once-a-second check that interrupts the cell at the limit (None: no limit)."""
    from jupyter_sky.budget import Guard, tightest

    limit = tightest(budget.limits, price)
    if limit is None or price <= 0:
        return None
    return Guard(price, limit, lambda: live.infra.interrupt(live.handle), tick)


def with_target_limit(
    prepare: dict[str, Any] | None, budget: Budget, live: LiveCluster, price: float
) -> dict[str, Any] | None:
    """The cell's prepare message carrying the limit the target enforces on its own."""
    from jupyter_sky.budget import target_limit
    from jupyter_sky.infra.base import Restartable

    limit = target_limit(price, budget.limits, stop=isinstance(live.infra, Restartable))
    if limit is None:
        return prepare
    base = prepare or {
        "op": "prepare", "ack": live.ack(), "client": live.client_id, "push": [], "check": [],
        "writes": [], "force": [], "no_pull": True, "env": {}, "cwd": None,
    }  # fmt: skip
    return {**base, "budget": limit}


def at_limit(mgr: Manager, live: LiveCluster, watch: Guard) -> str:
    """Stop the cluster where the infra can (else its kernel stays idle); the sentence."""
    from jupyter_sky.infra.base import Restartable
    from jupyter_sky.kernel.shield import no_interrupts

    stopped = isinstance(live.infra, Restartable)
    if stopped:
        with no_interrupts():
            mgr.stop(live.name)
    return watch.sentence(live.name, stopped, live.infra.kind)


def after_double_interrupt(cell: Cell, live: LiveCluster, watch: Guard | None) -> str:
    """Ctrl-C twice: a new kernel in the same place, unless the cell was at its limit: then a
    cluster that can stop is stopped instead (a restart would keep it spending); the budget
    sentence, or '' for a plain restart."""
    from jupyter_sky.infra.base import Restartable
    from jupyter_sky.kernel.shield import no_interrupts

    at_limit_now = watch is not None and watch.reached("interrupted")
    if at_limit_now and isinstance(live.infra, Restartable):
        assert watch is not None
        return at_limit(cell.mgr, live, watch)
    with no_interrupts():  # a third Ctrl-C must not cut the restart in half
        cell.mgr.restart(live, cell.task, cell.config)
    if watch is None or not at_limit_now:
        return ""
    return watch.sentence(live.name, False, live.infra.kind).replace(
        "is left idle", "was restarted (the cell did not stop at the interrupt; its variables "
        "are lost) and is left idle", 1
    )


# ---- default autostop for priced infras ------------------------------------------------
def priced_autostop(cell: Cell, where: Where) -> tuple[Task, list[str]]:
    """A new priced cluster with no ``--autostop`` (nor ``defaults.autostop_minutes``) gets
    ``defaults.autostop_minutes_priced``, so a forgotten GPU stops; the note says so."""
    import dataclasses

    task = cell.task
    if task.autostop_minutes is not None or not where.rows:
        return task, []
    row = where.rows[0]
    if not (row.priced and row.price_per_hour):
        return task, []
    minutes = cell.config.defaults.autostop_minutes_priced
    note = (
        f"autostop after {minutes:g} idle minutes (no cell running, no notebook attached): "
        f"{row.offering.infra} is priced at ${row.price_per_hour:.2f}/h; --autostop MIN sets another"
    )
    return dataclasses.replace(task, autostop_minutes=minutes), [note]


def remember_autostop(mgr: Manager, name: str, task: Task) -> None:
    """Keep the cluster's autostop in its record, for the note at kernel shutdown."""
    record = mgr.store.get_cluster(name)
    if record is not None and record.placement.get("autostop_minutes") != task.autostop_minutes:
        record.placement["autostop_minutes"] = task.autostop_minutes
        mgr.store.put_cluster(record)


def stopped_notices(mgr: Manager, current: str) -> list[str]:
    """One notice per cluster of this notebook that stopped on its own (autostop, idle
    watchdog, budget on the target) since the last cell; ``current`` says it itself."""
    notes = []
    mgr.noticed.discard(current)  # this cell says its own; a relaunch may stop again later
    for name, live in list(mgr.live.items()):
        if name == current or name in mgr.noticed or live.is_alive():
            continue
        mgr.noticed.add(name)
        why = live.infra.exit_reason(live.handle) or "its kernel ended"
        notes.append(f"cluster '{name}' of this notebook was stopped ({why})")
    return notes
