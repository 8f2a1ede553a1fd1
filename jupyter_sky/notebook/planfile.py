"""``%sky plan -f task.yaml``: plan a SkyPilot task file (one task, or a pipeline) as written."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_sky.errors import SkyError
from jupyter_sky.optimizer.model import Plan, Tabular

if TYPE_CHECKING:
    from jupyter_sky.optimizer import DagPlan
    from jupyter_sky.spec.task import Task


def file_task(path_text: str, cwd: Path, document: int | None = None, line: str = "") -> Task:
    """The Task of a task file (document ``document`` of a pipeline), for planning only."""
    from jupyter_sky.config import load_config
    from jupyter_sky.spec import task as spec

    args = spec.parse_line(f"{line} -f {shlex.quote(path_text)}")
    args.document = document
    return spec.task_from_args(args, "", cwd, load_config(cwd).defaults, planning=True)


def plan_file(path_text: str, cwd: Path, line: str = "") -> Plan | DagPlan | PipelinePlans:
    """Rank the placements of a task file; a pipeline's tasks are placed as a chain, as a whole."""
    from jupyter_sky.infra.readiness import facts
    from jupyter_sky.optimizer import DagTask, plan_dag
    from jupyter_sky.pipeline.plan import make_plan
    from jupyter_sky.spec.skypilot import read_documents

    docs = read_documents(path_text, cwd)
    if len(docs) == 1:
        return make_plan(file_task(path_text, cwd, None, line))
    tasks: dict[str, DagTask] = {}
    for i, doc in enumerate(docs):
        task = file_task(path_text, cwd, i, line)
        name = _name(doc.get("name"), i, tasks)
        tasks[name] = DagTask(task.alternatives[0] if task.alternatives else task.resources)
    names = list(tasks)
    try:
        return plan_dag(tasks, list(pairwise(names)), facts=facts())
    except SkyError:  # no usable placement for some task: show each task's own ranking
        return PipelinePlans(tuple((n, make_plan(file_task(path_text, cwd, i, line)))
                                   for i, n in enumerate(names)))  # fmt: skip


@dataclass(frozen=True)
class PipelinePlans(Tabular):
    """Each task of a pipeline ranked on its own (shown when the pipeline cannot be placed)."""

    plans: tuple[tuple[str, Plan], ...]

    def explain(self) -> str:
        return " ".join(f"{name}: {plan.explain()}" for name, plan in self.plans)

    def to_text(self) -> str:
        return "\n\n".join(f"Task {name}\n{plan.to_text()}" for name, plan in self.plans)

    def to_html(self) -> str:
        return "".join(f"<h4>Task {name}</h4>{plan.to_html()}" for name, plan in self.plans)


def _name(value: object, index: int, taken: dict) -> str:
    text = "".join(c if c.isalnum() else "_" for c in str(value or f"task{index}"))
    text = text if text[:1].isalpha() else f"t_{text}"
    return text if text not in taken else f"{text}_{index}"
