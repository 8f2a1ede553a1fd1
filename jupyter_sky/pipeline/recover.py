"""Preemption: a cell whose machine was taken back while it ran (a spot VM reclaimed, a pod
evicted) ends with one sentence saying so; with ``--recover`` the cluster is relaunched and
the cell rerun.

When a cell's kernel dies, :func:`preempted` asks the infra's ``status``: only a PREEMPTED
cluster counts (a crash, an out-of-memory kill or ``%sky down`` elsewhere is not rerun).
:func:`relaunch` releases the dead cluster (whatever the infra still holds of it is ended,
its record set DOWN), greys its placement in the plan with the reason "preempted", and hands
the pipeline the rows to launch on through the same failover as a first launch: the
placements after the preempted one, then the preempted one itself last (a new machine or pod
there). The pipeline then pushes the cell's variables to the new kernel and runs the cell
again, at most :data:`MAX_RECOVERIES` times per cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jupyter_sky.errors import RemoteKernelDied

if TYPE_CHECKING:
    from jupyter_sky.infra.base import AnyInfra, Handle
    from jupyter_sky.kernel.cluster import LiveCluster
    from jupyter_sky.kernel.manager import Manager
    from jupyter_sky.optimizer.model import Placement
    from jupyter_sky.pipeline.cell import Where
    from jupyter_sky.spec.task import Task

#: How many times one ``--recover`` cell is relaunched and rerun after a preemption (a
#: constant: a cell preempted again after its rerun ends with the preemption message).
MAX_RECOVERIES = 1


class Preempted(RemoteKernelDied):
    """The cluster running the cell was preempted: its name, dead handle and the infra's reason."""

    def __init__(self, name: str, infra: AnyInfra, handle: Handle, reason: str) -> None:
        super().__init__(message(name, reason))
        self.name, self.infra, self.handle, self.reason = name, infra, handle, reason


def preempted(live: LiveCluster) -> str | None:
    """The infra's sentence when the cluster was preempted; None when it was not (or the
    infra cannot tell)."""
    from jupyter_sky.infra.base import State

    try:
        status = live.infra.status(live.handle)
    except Exception:  # noqa: BLE001 - no answer: the kernel died, as far as we can tell
        return None
    if status.state is not State.PREEMPTED:
        return None
    return status.reason.rstrip(".") or "its machine was taken back"


def message(name: str, reason: str) -> str:
    """The cell's error for a preemption, in one sentence."""
    return (
        f"Cluster '{name}' was preempted while running this cell ({reason}); the variables "
        "on it are lost — run the cell again to start a fresh cluster, or add --recover to "
        "relaunch it and rerun the cell by itself."
    )


def again(gone: Preempted) -> str:
    """The cell's error when its ``--recover`` rerun was preempted too."""
    return (
        f"Cluster '{gone.name}' was preempted again while rerunning this cell ({gone.reason}); "
        f"--recover reruns a cell at most {MAX_RECOVERIES} time(s) — run the cell again, or "
        "choose a placement without spot machines."
    )


def lost(live: LiveCluster) -> Preempted | None:
    """The :class:`Preempted` error for a dead kernel's cluster, or None if not preempted."""
    reason = preempted(live)
    if reason is None:
        return None
    return Preempted(live.name, live.infra, live.handle, reason)


def relaunch(mgr: Manager, task: Task, where: Where, gone: Preempted, attempt: int) -> Where:
    """Release the preempted cluster and say where its relaunch tries first."""
    from dataclasses import replace

    from jupyter_sky.kernel.shield import stop_quietly
    from jupyter_sky.pipeline.status import say

    name = gone.name
    say([f"--recover: cluster '{name}' was preempted ({gone.reason}); releasing it"])
    record = mgr.store.get_cluster(name)
    placement = dict(record.placement) if record is not None else {}
    mgr.forget(name)
    stop_quietly(gone.infra, gone.handle)  # whatever the infra still holds of it
    mgr.store.set_state(name, "DOWN")
    rows = list(where.rows) or _fresh_rows(task)
    landed = _landed(rows, placement)
    if landed is not None:
        rows = [r for r in rows if r is not landed] + [landed]  # a new machine there, last
        if where.widget is not None:
            where.widget.mark_failed(landed, "preempted")
    first = f"on {rows[0].where()}" if rows else "where the infra decides"
    say([f"--recover: relaunching cluster '{name}' {first} (recovery {attempt} of {MAX_RECOVERIES})"])
    return replace(where, rows=tuple(rows))


def _landed(rows: list[Placement], placement: dict[str, object]) -> Placement | None:
    """The row the cluster ran on: same infra, region and instance type (its zone if it can)."""
    same = [
        r for r in rows
        if (r.offering.infra, r.offering.region, r.offering.instance_type)
        == (placement.get("infra"), placement.get("region"), placement.get("instance_type"))
    ]  # fmt: skip
    zoned = [r for r in same if r.offering.zone == placement.get("zone")]
    found = zoned or same
    return found[0] if found else None


def _fresh_rows(task: Task) -> list[Placement]:
    """A running cluster's cell has no plan: rank the placements again (chosen row first)."""
    from jupyter_sky.pipeline.plan import make_plan

    plan = make_plan(task)
    rows = [r for r in plan.rows if r.usable and r.launchable]
    chosen = [r for r in rows if r is plan.chosen]
    return chosen + [r for r in rows if r is not plan.chosen]
