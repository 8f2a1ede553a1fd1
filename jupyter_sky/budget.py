"""Budgets: ``--max-cost`` on a cell and the ``budget:`` config section (per cluster, per day,
total), counted from the spend records of the state DB (:mod:`jupyter_sky.cost`).

Before launch, a plan whose estimate (price x ``--time``) exceeds what is left of a limit is
refused with the numbers. While a cell runs, :class:`Guard` watches price x elapsed and, at the
limit, interrupts the cell; the pipeline then stops the cluster where the infra can stop it.
The same limit rides to the target with the cell (:func:`target_limit`), where the remote
agent enforces it with no notebook attached. A live infra without a price never trips a budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jupyter_sky.cost import charges, midnight, usd

if TYPE_CHECKING:
    from jupyter_sky.config_sections import BudgetConfig
    from jupyter_sky.state import Store

_UNPRICED_SAID: set[str] = set()  # infras whose "no price, no budget" was said in this kernel


@dataclass(frozen=True)
class Limit:
    """One limit and what was spent against it before this cell."""

    name: str  # "--max-cost", "budget.per_cluster", "budget.per_day" or "budget.total"
    dollars: float
    spent: float
    others: float = 0.0  # $/h other clusters up now add to it while this cell runs

    @property
    def left(self) -> float:
        return max(0.0, self.dollars - self.spent)

    def share(self, price: float) -> float:
        """Dollars a cell at ``price`` $/h may spend before the limit is reached, the other
        clusters up spending at their rates meanwhile."""
        if price <= 0 or self.others <= 0:
            return self.left
        return self.left * price / (price + self.others)

    def describe(self) -> str:
        return f"{self.name} {usd(self.dollars)} ({usd(self.spent)} spent, {usd(self.left)} left)"


def limits(
    store: Store, cluster: str, budget: BudgetConfig, max_cost: float | None
) -> list[Limit]:
    """Every limit that applies to a cell on ``cluster``; empty when none is set.

    What was spent counts the UP time of every priced cluster (:mod:`jupyter_sky.cost`), so a
    cluster idle between cells spends against ``per_cluster``, ``per_day`` and ``total``;
    ``--max-cost`` limits the cell alone.
    """
    found = [Limit("--max-cost", max_cost, 0.0)] if max_cost is not None else []
    if budget.per_cluster is None and budget.per_day is None and budget.total is None:
        return found
    now = time.time()
    items = charges(store, now)
    others = sum(c.price for c in items if c.up and c.ended_at is None and c.cluster != cluster)
    if budget.per_cluster is not None:
        spent = sum(c.cost(now) for c in items if c.cluster == cluster)
        found.append(Limit("budget.per_cluster", budget.per_cluster, spent))
    if budget.per_day is not None:
        today = sum(c.cost(now, midnight(now)) for c in items)
        found.append(Limit("budget.per_day", budget.per_day, today, others))
    if budget.total is not None:
        found.append(Limit("budget.total", budget.total, sum(c.cost(now) for c in items), others))
    return found


def tightest(found: list[Limit], price: float = 0.0) -> Limit | None:
    """The limit a cell at ``price`` $/h reaches first, or None."""
    return min(found, key=lambda lim: lim.share(price)) if found else None


def unpriced_note(infra: str, found: list[Limit], priced: bool) -> str | None:
    """Once per infra and kernel: a live infra with no price is not held to any budget."""
    if priced or not found or infra in _UNPRICED_SAID:
        return None
    _UNPRICED_SAID.add(infra)
    return (
        f"{infra} has no price, so no budget applies to it (a prices: entry in the config "
        "prices it)"
    )


def refusal(price: float, hours: float | None, found: list[Limit]) -> str | None:
    """Why a plan may not launch, in one sentence, or None.

    A limit already used up refuses any priced cell; with ``--time`` the estimate
    (price x hours) must fit in what is left of every limit.
    """
    if price <= 0:
        return None
    for lim in found:
        if lim.left <= 0:
            return (
                f"Refused before launch: {lim.describe()} is used up; raise it in the config "
                "(or --max-cost) or wait for the next day."
            )
        if hours is not None and price * hours > lim.left:
            return (
                f"Refused before launch: the estimate {usd(price * hours)} ({usd(price)}/h for "
                f"{hours:g} h) exceeds {lim.describe()}; raise the limit, shorten --time or "
                "choose a cheaper placement."
            )
    return None


def target_limit(price: float, found: list[Limit], stop: bool) -> dict[str, object] | None:
    """What the remote agent enforces for this cell: $/h, dollars left, which limit, and
    whether to end the kernel at the limit (so a cloud VM's watcher stops it)."""
    lim = tightest(found, price)
    if price <= 0 or lim is None:
        return None
    return {"price": price, "left": lim.share(price), "limit": lim.describe(), "stop": stop}


class Guard:
    """Called once a second while a cell runs: at the limit it interrupts the cell, once.

    ``tick`` is the spend meter or status ticker it wraps; ``interrupt`` stops the cell.
    """

    def __init__(
        self,
        price: float,
        limit: Limit,
        interrupt: Callable[[], None],
        tick: Callable[[], None] | None,
    ) -> None:
        self.price, self.limit, self.interrupt, self.tick = price, limit, interrupt, tick
        self.allowed = limit.share(price)  # this cell's dollars before the limit is reached
        self.start = time.monotonic()
        self.tripped: float | None = None  # dollars spent when it tripped

    def spent(self) -> float:
        return self.price * (time.monotonic() - self.start) / 3600

    def __call__(self) -> None:
        if self.tick is not None:
            self.tick()
        spent = self.spent()
        if self.tripped is None and spent >= self.allowed:
            self.tripped = spent
            self.interrupt()

    def reached(self, status: str) -> bool:
        """Did the cell end at the limit (here, or on the target a moment earlier)?"""
        if self.tripped is None and status == "interrupted":  # the target's SIGINT, maybe
            slack = self.price * 2 / 3600  # the target checks on its own clock
            if self.spent() + slack >= self.allowed:
                self.tripped = self.spent()
        return self.tripped is not None

    def sentence(self, cluster: str, stopped: bool, kind: str) -> str:
        """What was spent and why the cell stopped."""
        spent = self.tripped if self.tripped is not None else self.spent()
        then = afterwards(cluster, stopped, kind)
        lim = self.limit
        meanwhile = (
            f", and other clusters up {usd(lim.others)}/h meanwhile" if lim.others > 0 else ""
        )
        return (
            f"Budget reached: this cell spent {usd(spent)} at {usd(self.price)}/h, reaching "
            f"{lim.name} {usd(lim.dollars)} ({usd(lim.spent)} spent before it{meanwhile}); "
            f"the cell was interrupted and {then}."
        )


def afterwards(cluster: str, stopped: bool, kind: str) -> str:
    """What became of the cluster at a budget: stopped, or its kernel left idle."""
    if stopped:
        return (
            f"cluster '{cluster}' was stopped (its disk is kept; the next cell on it starts it "
            "again)"
        )
    return (
        f"the kernel of cluster '{cluster}' is left idle (the {kind} infra cannot stop and keep "
        "it)"
    )


def used_up(found: list[Limit]) -> Limit | None:
    """The first limit with nothing left, or None."""
    return next((lim for lim in found if lim.left <= 0), None)
