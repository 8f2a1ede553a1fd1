"""The ``prepare`` message a cell carries to the remote kernel (values to install, names to
check afterwards, environment, working directory), and the version check before it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import TransferError

if TYPE_CHECKING:
    from jupyter_sky.spec.task import Task
    from jupyter_sky.variables.transfer import CellNames, PushPlan


def prepare_message(
    client_id: str,
    ack: int,
    task: Task,
    names: CellNames,
    plan: PushPlan,
    workdir: str | None,
    checkpoints: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """The message sent before the cell, or None when the cell carries nothing.

    ``client_id`` names this notebook to the remote kernel; ``ack`` is how much numbered
    output already arrived (the remote may forget it); ``checkpoints`` are the ones the cell
    loads (base64 by name, see :mod:`jupyter_sky.checkpoint`).
    """
    # --pull overrides the automatic list: exactly those names come back, whatever their size.
    force = list(task.pull or ())
    check = force if task.pull is not None else list(dict.fromkeys([*plan.check, *names.writes]))
    if task.no_pull:
        check = []
    envs = dict(task.envs)
    if not (plan.items or check or envs or task.workdir or checkpoints):
        return None  # a trivial cell carries nothing (acks also ride on the lease)
    return {
        "op": "prepare",
        "ack": ack,
        "client": client_id,
        "push": plan.items,
        "check": check,
        "writes": list(names.writes),
        "force": force,
        "no_pull": task.no_pull,
        "env": envs,
        "cwd": workdir,
        "checkpoints": checkpoints or {},
    }


def version_notes(info: dict[str, Any], plan: PushPlan) -> list[str]:
    """A warning when Python or cloudpickle differ between the two sides; an error when code
    (functions, classes) would have to cross that gap."""
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
