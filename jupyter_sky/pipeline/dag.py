"""``%%sky --task NAME [--after A,B]``: cells as the tasks of one pipeline, placed as a whole.

Each ``--task`` cell declares (or re-declares) its task — resources, ``--time``,
``--output-gb`` and the tasks it reads from — in this notebook kernel's pipeline; the whole
pipeline declared so far is then placed at once by :func:`jupyter_sky.optimizer.plan_dag`
(cost, with egress between clouds and home), and the cell runs where that plan put its task.
``%sky plan`` with no flags shows the pipeline's plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import SpecError

if TYPE_CHECKING:
    from jupyter_sky.optimizer import DagPlan
    from jupyter_sky.spec.task import Task

_tasks: dict[str, Any] = {}
_edges: dict[str, tuple[str, ...]] = {}


def declare(task: Task) -> DagPlan:
    """Add ``task`` to the pipeline and place the whole pipeline; returns the plan."""
    from jupyter_sky.optimizer import DagTask

    name = task.task_name
    assert name is not None
    missing = [up for up in task.after if up not in _tasks]
    if missing:
        raise SpecError(
            f"--after names task '{missing[0]}', which no %%sky --task cell has declared yet; "
            "run that cell first."
        )
    if name in task.after:
        raise SpecError(f"--task {name} cannot come --after itself.")
    _tasks[name] = DagTask(task.resources, task.hours, task.output_gb)
    _edges[name] = tuple(task.after)
    return plan()


def plan(objective: str = "cost") -> DagPlan:
    """The placement of every declared task, by cost or by time (one sentence if none)."""
    from pathlib import Path

    from jupyter_sky.config import load_config
    from jupyter_sky.infra.readiness import facts, live_offerings
    from jupyter_sky.optimizer import plan_dag

    if not _tasks:
        raise SpecError("No pipeline yet: mark cells with %%sky --task NAME [--after A,B] first.")
    edges = [(up, down) for down, ups in _edges.items() for up in ups]
    speed = load_config(Path.cwd()).optimizer.speed
    return plan_dag(
        dict(_tasks), edges, objective, live=live_offerings(), speed=speed, facts=facts()
    )


def reset() -> None:
    """Forget the declared pipeline (tests, or a fresh start)."""
    _tasks.clear()
    _edges.clear()
