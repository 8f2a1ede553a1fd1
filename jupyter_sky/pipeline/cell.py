"""One ``%%sky`` cell, in order: parse → task → plan and choose → launch with failover →
connect → push → run and relay → pull → record. Everything that can fail cheaply fails
before a kernel is started.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import InfraError, RemoteKernelDied, SkyError

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_sky.config_sections import Config
    from jupyter_sky.infra.base import AnyInfra
    from jupyter_sky.kernel.cluster import LiveCluster
    from jupyter_sky.kernel.execute import Outcome
    from jupyter_sky.kernel.manager import Manager
    from jupyter_sky.optimizer.model import Placement
    from jupyter_sky.pipeline.plan import Choose, PlanView
    from jupyter_sky.pipeline.spend import Budget
    from jupyter_sky.spec.task import Task
    from jupyter_sky.variables.transfer import CellNames, PushPlan


@dataclass(frozen=True)
class Where:
    """Where a cell goes: its infra (None: nothing launches), the rows failover may try (the
    chosen one first; empty for a running cluster) and the widget showing the plan."""

    infra: AnyInfra | None
    rows: tuple[Placement, ...] = ()
    widget: PlanView | None = None


@dataclass
class Cell:
    """A parsed cell and what it runs with; ``choose`` shows a new cluster's plan and says
    where to launch (the notebook layer hands in its ``placement.decide``)."""

    shell: InteractiveShell
    mgr: Manager
    task: Task
    config: Config
    source: str
    choose: Choose


def run(shell: InteractiveShell, mgr: Manager, line: str, source: str, choose: Choose) -> None:
    """Everything one ``%%sky`` cell does, in order."""
    from jupyter_sky.config import load_config
    from jupyter_sky.spec import task as spec

    args = spec.parse_line(line)
    cwd = Path.cwd()
    config = load_config(cwd)
    task = spec.task_from_args(args, source, cwd, config.defaults)
    mgr.shell = shell
    cell = Cell(shell, mgr, task, config, source, choose)
    if task.detach:  # the spec checked that the infra runs detached cells
        _submit_detached(cell)
        return
    _run_attached(cell)


def _submit_detached(cell: Cell) -> None:
    from jupyter_sky.infra import get_infra, split_infra
    from jupyter_sky.infra.base import RunsDetached
    from jupyter_sky.pipeline.spend import detached_limit

    detacher = get_infra(split_infra(cell.task.resources.infra or "")[0])
    assert isinstance(detacher, RunsDetached)
    budget = detached_limit(cell, detacher.kind)  # refused here when the estimate does not fit
    detacher.submit_detached(cell.shell, cell.mgr, cell.task, cell.config, budget)


def _run_attached(cell: Cell) -> None:
    from jupyter_sky.pipeline import recover, spend
    from jupyter_sky.pipeline.status import say
    from jupyter_sky.variables import transfer

    task, mgr = cell.task, cell.mgr
    name = task.cluster or (f"task-{task.task_name}" if task.task_name else mgr.default_name())
    names = transfer.analyse(cell.source)
    say(spend.stopped_notices(mgr, name))
    synced = mgr.synced_for(name)
    plan = _push_plan(cell, names, synced)
    where = _where(cell, name)
    if where.infra is None:
        return
    budget = spend.before_launch(cell, name, where)
    task, autostop_notes = spend.priced_autostop(cell, where)
    for attempt in range(recover.MAX_RECOVERIES + 1):
        try:
            _attach_and_run(cell, Launching(name, names, plan, where, budget, task, autostop_notes))
            return
        except recover.Preempted as gone:
            if not task.recover:
                raise
            if attempt == recover.MAX_RECOVERIES:
                raise RemoteKernelDied(recover.again(gone)) from None
            where = recover.relaunch(mgr, task, where, gone, attempt + 1)
            plan, autostop_notes = _push_plan(cell, names, {}), []  # everything, to the new kernel
            say([f"--recover: pushing {_count(plan)} again and rerunning the cell"])


@dataclass
class Launching:
    """What one attach-and-run of a cell needs (a ``--recover`` rerun has its own)."""

    name: str
    names: CellNames
    plan: PushPlan
    where: Where
    budget: Budget
    task: Task
    notes: list[str]


def _attach_and_run(cell: Cell, run: Launching) -> None:
    from jupyter_sky.pipeline import spend
    from jupyter_sky.pipeline.filerun import run_file_task
    from jupyter_sky.pipeline.status import say
    from jupyter_sky.spec.runs import run_setup  # task-file setup
    from jupyter_sky.variables.prepare import version_notes

    mgr, task, where, plan, name = cell.mgr, run.task, run.where, run.plan, run.name
    synced = mgr.synced_for(name)
    widget = where.widget
    greyed = widget.mark_failed if widget is not None else None
    assert where.infra is not None
    attached = mgr.attach(name, where.infra, task, cell.config, where.rows, greyed)
    live = attached.cluster
    if attached.created:
        spend.remember_autostop(mgr, name, task)
    if live.synced is not synced and synced:
        plan = _push_plan(cell, run.names, live.synced)
    notes = attached.notes + run.notes + version_notes(live.info, plan)
    run_setup(cell.shell, live, task, attached.created)
    say(notes + plan.notes + list(task.notes))
    if run_file_task(cell, live, run.budget):
        return
    _execute(cell, live, run.names, plan, where.widget, run.budget)


def _count(plan: PushPlan) -> str:
    names = [str(item["name"]) for item in plan.items]
    if not names:
        return "no variables"
    return f"{len(names)} variable{'s' if len(names) != 1 else ''} ({', '.join(names)})"


def _push_plan(cell: Cell, names: CellNames, synced: dict[str, str]) -> PushPlan:
    from jupyter_sky.variables import transfer

    hidden = set(getattr(cell.shell, "user_ns_hidden", ()))
    task = cell.task
    return transfer.plan_push(
        names, cell.shell.user_ns, synced, push=task.push, exclude=task.exclude, hidden=hidden
    )


# ---- where ----------------------------------------------------------------------------
def _where(cell: Cell, name: str) -> Where:
    """The cluster's own infra, or (for a new cluster) the plan's choice and its fallbacks.

    ``Where(None, ...)`` when nothing should launch (``--confirm`` without a frontend that
    can deliver the click).
    """
    from jupyter_sky.infra import get_infra, split_infra
    from jupyter_sky.pipeline.plan import make_plan

    task = cell.task
    existing = cell.mgr.kind_of(name)
    if existing is not None and not (task.replan or task.pick or task.confirm):
        infra = get_infra(split_infra(task.resources.infra or existing)[0])
        _usable(infra, task)  # a different --infra is refused by the manager
        return Where(infra)
    if task.task_name:
        return _where_in_pipeline(task, name, existing)
    decision = cell.choose(make_plan(task), task, _frontend(cell.shell))
    if decision.placement is None:
        print(decision.message)
        return Where(None, (), decision.widget)
    row = decision.placement
    if existing is not None and row.offering.infra != existing:
        raise InfraError(
            f"Cluster '{name}' runs on {existing}; to launch on {row.offering.infra} instead, use another "
            f"--name or run %sky down {name} first."
        )
    infra = get_infra(existing or row.offering.infra)
    # With alternatives the planner matched the row to one of them; check that one's infra.
    _usable(infra, task, resources=not task.alternatives)
    if decision.widget is not None:
        decision.widget.status = f"provisioning on {row.where()} …"
    return Where(infra, (row, *decision.fallbacks), decision.widget)


def _usable(infra: AnyInfra, task: Task, resources: bool = True) -> None:
    reason = infra.check() or (infra.unmet(task.resources) if resources else "")
    if reason:
        raise InfraError(reason)


def _where_in_pipeline(task: Task, name: str, existing: str | None) -> Where:
    """A ``--task`` cell: place the whole pipeline, run this task where the plan put it."""
    from IPython.display import display

    from jupyter_sky.infra import get_infra
    from jupyter_sky.pipeline import dag

    plan = dag.declare(task)
    display(plan)  # type: ignore[no-untyped-call]
    row = plan.placements[task.task_name or ""]
    if existing is not None and row.offering.infra != existing:
        raise InfraError(
            f"Cluster '{name}' runs on {existing}, but the pipeline now places task "
            f"'{task.task_name}' on {row.offering.infra}; run %sky down {name} to move it."
        )
    infra = get_infra(existing or row.offering.infra)
    _usable(infra, task)
    return Where(infra, (row,))


def _frontend(shell: InteractiveShell) -> bool:
    """Is there a notebook frontend that could render a widget (an ipykernel kernel)?"""
    return getattr(shell, "kernel", None) is not None


# ---- run ------------------------------------------------------------------------------
def _execute(
    cell: Cell,
    live: LiveCluster,
    names: CellNames,
    plan: PushPlan,
    widget: PlanView | None,
    budget: Budget,
) -> None:
    from jupyter_sky.kernel.execute import DoubleInterrupt, KernelDied, run_cell
    from jupyter_sky.kernel.heartbeat import KernelHung
    from jupyter_sky.kernel.relay import CellRelay, remote_error
    from jupyter_sky.pipeline import checkpoints, recover, spend
    from jupyter_sky.pipeline.status import SpendMeter, say, show_status_line, status_ticker
    from jupyter_sky.variables import pull, spill
    from jupyter_sky.variables.prepare import prepare_message

    task, mgr = cell.task, cell.mgr
    budget = spend.at_start(cell, live, budget)  # before anything counts as pushed
    carried = checkpoints.brought(cell.source, task.workdir)
    workdir = remote_workdir(live, task)
    prepare = prepare_message(live.client_id, live.ack(), task, names, plan, workdir, carried)
    for item in plan.items:
        live.synced[item["name"]] = item["digest"]
    relay = CellRelay(cell.shell, live.bridge, show_status_line(live))
    relay.on_checkpoint = checkpoints.keeper(task.workdir, say)
    cell_hash = hashlib.sha256(cell.source.encode()).hexdigest()[:16]
    price = _price(mgr, live)
    prepare = spend.with_target_limit(prepare, budget, live, price)
    shared, spilled = _spill(live, prepare, plan)
    run_id = mgr.store.start_run(
        live.name, cell_hash, live.infra.kind, {"where": live.where()},
        notebook=os.environ.get("JPY_SESSION_NAME", ""), cell=_label(cell.source),
        nodes=task.num_nodes, price=price,
    )  # fmt: skip
    status, reason = "died", ""
    watch = None
    try:
        meter = SpendMeter(widget, live, price) if widget is not None else None
        tick = meter or status_ticker(live, relay.status)
        watch = spend.guard(budget, live, price, tick)
        outcome = run_cell(live, cell.source, relay, prepare, plan.frames, watch or tick)
        if meter is not None:
            meter.done(outcome.status)
        status = outcome.status
        if watch is not None and watch.reached(_interrupted(outcome)):
            status, reason = "interrupted", spend.at_limit(mgr, live, watch)
    except DoubleInterrupt:
        status = "interrupted"
        reason = spend.after_double_interrupt(cell, live, watch)
        raise spend.BudgetError(reason) if reason else SkyError(
            f"Interrupted twice: restarted the kernel of cluster '{live.name}' in the same place "
            "— remote state was lost; cluster kept."
        ) from None
    except (KernelDied, KernelHung) as died:
        gone = recover.lost(live)  # asked before forgetting it: the infra's own account
        if gone is None and isinstance(died, KernelHung):
            raise  # silent but not preempted: the cluster is kept
        mgr.forget(live.name)
        if gone is not None:
            reason = f"preempted: {gone.reason}"
            raise gone from None
        why = f" ({died.args[0]})" if died.args and died.args[0] else ""
        raise RemoteKernelDied(
            f"The remote kernel of cluster '{live.name}' died while running this cell{why}; "
            "its variables are lost, and the next %%sky cell starts a fresh kernel."
        ) from None
    finally:
        spill.clean(spilled)
        mgr.store.end_run(run_id, status, reason=reason)
        mgr.store.touch(live.name)
    say(pull.apply(outcome.pulled, cell.shell.user_ns, live.synced, set(names.rebinds), shared))
    if reason:  # what the cell assigned before the limit came home first
        if widget is not None:
            widget.status = reason
        raise spend.BudgetError(reason)
    if outcome.error is not None:
        raise remote_error(outcome.error, live.where())


def _spill(
    live: LiveCluster, prepare: dict[str, Any] | None, plan: PushPlan
) -> tuple[Path | None, list[Path]]:
    """On an infra whose kernel shares this machine, big buffers travel as files both ways:
    the directory offered, and the files this push wrote (removed after the cell)."""
    if prepare is None or not live.infra.same_host:
        return None, []
    from jupyter_sky.variables import spill

    shared = spill.directory()
    prepare["spill"] = str(shared)
    return shared, spill.out(prepare.get("push", []), plan.frames, shared)


def _interrupted(outcome: Outcome) -> str:
    """The outcome's status, ``interrupted`` also when the target itself sent the SIGINT."""
    ename = (outcome.error or {}).get("ename")
    return "interrupted" if ename == "KeyboardInterrupt" else outcome.status


def _label(source: str) -> str:
    """The first non-empty line of the cell body: what ``%sky cost --by`` rows call it."""
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


def _price(mgr: Manager, live: LiveCluster) -> float:
    record = mgr.store.get_cluster(live.name)
    return float(record.cost_per_hour) if record is not None else 0.0


def remote_workdir(live: LiveCluster, task: Task) -> str | None:
    """The cell's working directory on the target: synced there first where that is needed."""
    from jupyter_sky.infra.base import SyncsWorkdir

    if task.workdir and isinstance(live.infra, SyncsWorkdir):
        return live.infra.sync_workdir(live.handle, task.workdir)  # only changed files travel
    return task.workdir
