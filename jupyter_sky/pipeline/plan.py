"""The plan of a new cluster: every placement ranked (:func:`make_plan`), and what the
notebook side decided from it (:class:`Decision`). How the plan is shown and chosen from is
the notebook's business: it hands the pipeline a :data:`Choose`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jupyter_sky.optimizer import Placement, Plan
    from jupyter_sky.spec.task import Task


class PlanView(Protocol):
    """What shows a plan while its cell runs (the placement widget): a status line, and the
    rows failover gave up on greyed."""

    status: str

    def mark_failed(self, row: Placement, reason: str) -> None: ...


@dataclass
class Decision:
    """The row to launch on (None: nothing launches) and the widget that shows the plan."""

    placement: Placement | None
    widget: PlanView | None = None
    message: str = ""
    fallbacks: tuple[Placement, ...] = ()  # usable rows failover may try after the chosen one


#: ``choose(plan, task, interactive)``: show the plan and say where to launch.
Choose = Callable[["Plan", "Task", bool], Decision]


def make_plan(task: Task) -> Plan:
    """Rank the placements for ``task`` over the catalog and the live offerings."""
    from pathlib import Path

    from jupyter_sky.config import load_config
    from jupyter_sky.infra.readiness import facts, live_offerings
    from jupyter_sky.optimizer import rank

    live, known = live_offerings(task.resources), facts()
    prices = load_config(Path.cwd()).prices.infras  # $0 (unpriced) for infras not listed

    def ranked(request: Any) -> Plan:
        return rank(
            request, live=live, hours=task.hours, output_gb=task.output_gb, prices=prices,
            facts=known,
        )  # fmt: skip

    if not task.alternatives:
        return ranked(task.resources)
    if not task.ordered:  # any_of: every alternative competes, the cheapest usable wins
        return ranked(list(task.alternatives))
    first = ranked(task.alternatives[0])
    for alternative in task.alternatives:  # ordered: the first with a usable placement
        plan = ranked(alternative) if alternative is not task.alternatives[0] else first
        if plan.chosen is not None:
            return plan
    return first  # none usable: the preferred alternative, with its reasons
