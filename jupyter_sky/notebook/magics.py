"""``%%sky`` (run this cell elsewhere) and ``%sky <subcommand>`` (status, down, check).

Parse → task → infra check → preflight of the variables → attach a warm kernel → run
and relay → pull changed names home → record. Everything that can fail cheaply fails
before a kernel is started.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from pathlib import Path
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from jupyter_sky.errors import InfraError, RemoteKernelDied, SkyError, TransferError
from jupyter_sky.spec import task as spec

_manager: Any = None


def manager() -> Any:
    """The process-wide cluster manager (created on first use, not at ``%load_ext``)."""
    global _manager
    if _manager is None:
        from jupyter_sky.kernel.manager import Manager

        _manager = Manager()
    return _manager


def register(ipython: Any) -> None:
    ipython.register_magics(SkyMagics(ipython))
    # The first cell on a new cluster plans before it launches: load the price catalog and
    # the planner now, in the background, so that cell does not wait ~0.1 s for them.
    threading.Thread(target=_warm_up, name="jupyter-sky-warm-up", daemon=True).start()


def _warm_up() -> None:
    try:
        from jupyter_sky.catalog.offers import load_offers
        from jupyter_sky.notebook.placement import statuses
        from jupyter_sky.notebook.widget import PlacementWidget  # noqa: F401
        from jupyter_sky.optimizer import ranking  # noqa: F401

        load_offers()
        statuses()  # imports every registered infra (no connection is opened)
    except Exception:  # noqa: BLE001 - only a head start; the first plan loads them anyway
        pass


def unregister(ipython: Any) -> None:
    if _manager is not None:
        _manager.detach_all()


@magics_class
class SkyMagics(Magics):
    """The ``sky`` line and cell magic."""

    @line_cell_magic
    @spec.apply_flags
    def sky(self, line: str, cell: str | None = None) -> Any:
        """Run this cell on a remote IPython kernel (see the flags below), or with no cell
        body: ``%sky status``, ``%sky down NAME|--all``, ``%sky check``,
        ``%sky gpus [NAME[:N]]``, ``%sky plan [FLAGS]``, ``%sky jobs`` (detached cells),
        ``%sky attach JOB`` (replay a detached cell's output, bring its variables home)."""
        if cell is None:
            from jupyter_sky.notebook.commands import run_subcommand

            return run_subcommand(line, manager())
        return run_sky_cell(self.shell, line, cell)


def run_sky_cell(shell: Any, line: str, cell: str) -> None:
    """Everything one ``%%sky`` cell does, in order."""
    from jupyter_sky.config import load_config
    from jupyter_sky.variables import transfer

    args = spec.parse_line(line)
    cwd = Path.cwd()
    config = load_config(cwd)
    task = spec.task_from_args(args, cell, cwd, config.defaults)
    mgr = manager()
    mgr.shell = shell
    if task.detach:  # the spec checked that the infra runs detached cells
        from jupyter_sky.infra import get_infra, split_infra
        from jupyter_sky.infra.base import RunsDetached

        detacher = get_infra(split_infra(task.resources.infra or "")[0])
        assert isinstance(detacher, RunsDetached)
        detacher.submit_detached(shell, mgr, task, config)
        return
    name = task.cluster or (f"task-{task.task_name}" if task.task_name else mgr.default_name())
    names = transfer.analyse(cell)
    ns, hidden = shell.user_ns, set(getattr(shell, "user_ns_hidden", ()))
    synced = mgr.synced_for(name)
    plan = transfer.plan_push(
        names, ns, synced, push=task.push, exclude=task.exclude, hidden=hidden
    )
    infra, rows, widget = _where(shell, mgr, name, task)
    if infra is None:
        return
    attached = mgr.attach(name, infra, task, config, rows)
    live = attached.cluster
    if live.synced is not synced and synced:
        plan = transfer.plan_push(
            names, ns, live.synced, push=task.push, exclude=task.exclude, hidden=hidden
        )
    notes = attached.notes + _version_notes(live.info, plan)
    if attached.created and task.setup:
        _run_setup(shell, live, task.setup)
    notes += plan.notes
    _say(notes)
    _execute(shell, mgr, live, task, config, names, plan, cell, widget)


def _where(shell: Any, mgr: Any, name: str, task: Any) -> tuple[Any, tuple[Any, ...], Any]:
    """The infra to run on: the cluster's own, or (for a new cluster) the plan's choice, with
    the rows failover may try after it.

    Returns ``(None, (), widget)`` when nothing should launch (``--confirm`` without a
    frontend that can deliver the click).
    """
    from jupyter_sky.infra import get_infra, split_infra
    from jupyter_sky.notebook.placement import decide, make_plan

    existing = mgr.kind_of(name)
    if existing is not None and not (task.replan or task.pick or task.confirm):
        wanted, _ = split_infra(task.resources.infra or existing)
        infra = get_infra(wanted)  # a different --infra is refused by the manager
        reason = infra.check() or infra.unmet(task.resources)
        if reason:
            raise InfraError(reason)
        return infra, (), None
    if task.task_name:
        return _where_in_pipeline(name, task, existing)
    decision = decide(make_plan(task), task, interactive=_frontend(shell))
    if decision.placement is None:
        print(decision.message)
        return None, (), decision.widget
    row = decision.placement
    kind = existing or row.infra
    if existing is not None and row.infra != existing:
        raise InfraError(
            f"Cluster '{name}' runs on {existing}; to launch on {row.infra} instead, use another "
            f"--name or run %sky down {name} first."
        )
    infra = get_infra(kind)
    # With alternatives the planner matched the row to one of them; check that one's infra.
    reason = infra.check() or ("" if task.alternatives else infra.unmet(task.resources))
    if reason:
        raise InfraError(reason)
    decision.widget.status = f"provisioning on {row.where()} …"
    return infra, (row, *decision.fallbacks), decision.widget


def _where_in_pipeline(
    name: str, task: Any, existing: str | None
) -> tuple[Any, tuple[Any, ...], Any]:
    """A ``--task`` cell: place the whole pipeline, run this task where the plan put it."""
    from IPython.display import display

    from jupyter_sky.infra import get_infra
    from jupyter_sky.pipeline import dag as pipeline

    plan = pipeline.declare(task)
    display(plan)
    row = plan.placements[task.task_name]
    if existing is not None and row.infra != existing:
        raise InfraError(
            f"Cluster '{name}' runs on {existing}, but the pipeline now places task "
            f"'{task.task_name}' on {row.infra}; run %sky down {name} to move it."
        )
    infra = get_infra(existing or row.infra)
    reason = infra.check() or infra.unmet(task.resources)
    if reason:
        raise InfraError(reason)
    return infra, (row,), None


def _frontend(shell: Any) -> bool:
    """Is there a notebook frontend that could render a widget (an ipykernel kernel)?"""
    return getattr(shell, "kernel", None) is not None


def _execute(
    shell: Any,
    mgr: Any,
    live: Any,
    task: Any,
    config: Any,
    names: Any,
    plan: Any,
    cell: str,
    widget: Any = None,
) -> None:
    from jupyter_sky.kernel.execute import DoubleInterrupt, KernelDied, run_cell
    from jupyter_sky.kernel.relay import CellRelay, remote_error
    from jupyter_sky.variables import pull

    prepare = _prepare_message(live, task, names, plan, _remote_workdir(live, task))
    for item in plan.items:
        live.synced[item["name"]] = item["digest"]
    relay = CellRelay(shell, live.bridge, _show_status_line(live))
    cell_hash = hashlib.sha256(cell.encode()).hexdigest()[:16]
    run_id = mgr.store.start_run(live.name, cell_hash, live.infra.kind, {"where": live.where()})
    status = "died"
    try:
        meter = _SpendMeter(widget, live) if widget is not None else None
        tick = meter or _status_ticker(live, relay.status)
        outcome = run_cell(live, cell, relay, prepare, plan.frames, tick)
        if meter is not None:
            meter.done(outcome.status)
        status = outcome.status
    except DoubleInterrupt:
        status = "interrupted"
        mgr.restart(live, task, config)
        raise SkyError(
            f"Interrupted twice: restarted the kernel of cluster '{live.name}' in the same place "
            "— remote state was lost; cluster kept."
        ) from None
    except KernelDied as died:
        mgr.forget(live.name)
        why = f" ({died.args[0]})" if died.args and died.args[0] else ""
        raise RemoteKernelDied(
            f"The remote kernel of cluster '{live.name}' died while running this cell{why}; "
            "its variables are lost, and the next %%sky cell starts a fresh kernel."
        ) from None
    finally:
        mgr.store.end_run(run_id, status, 0.0)
        mgr.store.touch(live.name)
    written = set(names.rebinds)
    _say(pull.apply(outcome.pulled, shell.user_ns, live.synced, written))
    if outcome.error is not None:
        raise remote_error(outcome.error, live.where())


class _SpendMeter:
    """Keeps the placement widget's status line current: where, how long, what it cost."""

    def __init__(self, widget: Any, live: Any) -> None:
        import time

        self.widget, self.live = widget, live
        self.start = time.monotonic()
        record = manager().store.get_cluster(live.name)
        self.price = float(record.cost_per_hour) if record is not None else 0.0
        self()

    def text(self, verb: str) -> str:
        import time

        elapsed = time.monotonic() - self.start
        cost = self.price * elapsed / 3600
        return f"{verb} on {self.live.where()} · {elapsed:.0f} s · ${cost:.2f} so far"

    def __call__(self) -> None:
        self.widget.status = self.text("running")

    def done(self, status: str) -> None:
        self.widget.status = self.text("ran" if status == "ok" else f"{status}")


def _remote_workdir(live: Any, task: Any) -> str | None:
    """The cell's working directory on the target: synced there first where that is needed."""
    sync = getattr(live.infra, "sync_workdir", None)
    if task.workdir and sync is not None:
        return str(sync(live.handle, task.workdir))  # only changed files travel
    return task.workdir  # type: ignore[no-any-return]


def _prepare_message(
    live: Any, task: Any, names: Any, plan: Any, workdir: str | None
) -> dict[str, Any] | None:
    # --pull overrides the automatic list: exactly those names come back, whatever their size.
    force = list(task.pull or ())
    check = force if task.pull is not None else list(dict.fromkeys([*plan.check, *names.writes]))
    if task.no_pull:
        check = []
    envs = dict(task.envs)
    if not (plan.items or check or envs or task.workdir):
        return None  # a trivial cell carries nothing (acks also ride on the lease)
    return {
        "op": "prepare",
        "ack": live.ack(),  # lets a remote kernel that numbers its output forget what arrived
        "client": live.client_id,
        "push": plan.items,
        "check": check,
        "writes": list(names.writes),
        "force": force,
        "no_pull": task.no_pull,
        "env": envs,
        "cwd": workdir,
    }


def _version_notes(info: dict[str, Any], plan: Any) -> list[str]:
    from jupyter_sky.variables import serialize
    here = serialize.versions()
    minor = ".".join(here["python"].split(".")[:2])
    there = ".".join(str(info.get("python", minor)).split(".")[:2])
    cp_here = here["cloudpickle"].split(".")[0]
    cp_there = str(info.get("cloudpickle", here["cloudpickle"])).split(".")[0]
    if (minor, cp_here) == (there, cp_there) or not plan.items:
        return []
    what = f"Python {minor} / cloudpickle {cp_here} here, Python {there} / cloudpickle {cp_there} remotely"
    if plan.has_code:
        raise TransferError(
            f"Cannot send notebook functions or classes: {what}; use the same versions on both "
            "sides, or define them inside the cell."
        )
    return [f"warning: {what}; plain data is sent anyway"]


def _show_status_line(live: Any) -> Any:
    """Show where this cell runs, above its output; late output of the cell goes here too."""
    import uuid

    from jupyter_sky.kernel.bridge import StatusLine

    bridge = live.bridge
    if bridge is None or not bridge.local.available:
        return None  # terminal IPython: no display ids, and no late output to place
    text = _status_text(live)
    status = StatusLine(bridge.local, f"sky-{uuid.uuid4().hex}", text, bridge.local.parent())
    # Straight onto iopub: publish_display_data would first flush both streams through the
    # I/O thread (two cross-thread waits), and nothing was printed in this cell yet.
    content = {
        "data": status.bundle(),
        "metadata": {"jupyter_sky": "status"},
        "transient": {"display_id": status.display_id},
    }
    bridge.local.publish("display_data", content, status.parent)
    return status


def _status_text(live: Any) -> str:
    return f"▸ sky · cluster {live.name} · {live.where()}"


def _status_ticker(live: Any, status: Any) -> Any:
    """Once a second while the cell runs: the status line follows ``where`` (a Slurm
    allocation's time left); ``None`` without a status line."""
    if status is None:
        return None
    return lambda: status.set_text(_status_text(live))


def _run_setup(shell: Any, live: Any, setup: str) -> None:
    from jupyter_sky.kernel.execute import run_cell
    from jupyter_sky.kernel.relay import CellRelay, remote_error

    outcome = run_cell(live, "%%bash\n" + setup, CellRelay(shell))
    if outcome.error is not None:
        raise remote_error(outcome.error, f"setup of cluster '{live.name}'")


def _say(notes: list[str]) -> None:
    for note in notes:
        print(f"[sky] {note}", file=sys.stderr)
    if notes:
        sys.stderr.flush()
