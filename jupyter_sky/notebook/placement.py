"""Where a new cluster runs: show the ranked placements and take the user's pick
(:func:`decide`, handed to the cell pipeline; the ranking is :func:`jupyter_sky.pipeline.plan.make_plan`).

Planning happens only when a cell creates a cluster (or asks with ``--replan``/``--pick``/
``--confirm``): warm cells on an existing cluster skip it, so their overhead stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import InfraError
from jupyter_sky.pipeline.plan import Decision

if TYPE_CHECKING:
    from jupyter_sky.optimizer import Placement, Plan
    from jupyter_sky.spec.task import Task


def decide(plan: Plan, task: Task, interactive: bool) -> Decision:
    """Show ``plan`` and return where to launch: ``--pick N``, a click, or the chosen row."""
    widget = show(plan, task.confirm and interactive, compact=not (task.confirm or task.replan))
    if task.pick is not None:
        return Decision(_picked(plan, task.pick, widget), widget)
    if task.confirm:
        index = widget.wait_for_click() if widget is not None else None
        if index is None:
            return Decision(None, widget, _pick_hint(plan))
        return Decision(_picked(plan, index + 1, widget), widget)
    if plan.chosen is None:
        raise InfraError(plan.explain())
    rest = tuple(r for r in plan.rows if r.usable and r.launchable and r is not plan.chosen)
    return Decision(plan.chosen, widget, fallbacks=rest)


def show(plan: Plan, confirm: bool, compact: bool = False) -> Any:
    """Display the plan: a widget where widgets render, its own HTML/text table elsewhere.
    ``compact``: the chosen row and the best usable alternatives only (a first cell)."""
    from IPython.display import display

    from jupyter_sky.notebook.widget import PlacementWidget

    widget = PlacementWidget(plan, confirm=confirm, compact=compact)
    display(widget)
    return widget


def _picked(plan: Plan, number: int, widget: Any) -> Placement:
    shown = len(plan.rows)
    if not 1 <= number <= shown:
        raise InfraError(
            f"--pick {number} is not a row of the placement table; it has rows 1 to {shown}."
        )
    row = plan.rows[number - 1]
    if not row.usable:
        raise InfraError(
            f"Row {number} ({row.where()}) cannot launch: {row.reason}; pick a usable row."
        )
    if widget is not None:
        widget.chosen = number - 1
    return row


def _pick_hint(plan: Plan) -> str:
    if plan.chosen is None:
        return plan.explain()
    number = plan.rows.index(plan.chosen) + 1
    return (
        "This frontend cannot deliver a click while the cell runs (that needs JupyterLab 4.4+ "
        f"with ipykernel 7); nothing was launched: re-run with --pick N (--pick {number} is the chosen row)."
    )
