"""``%sky <subcommand>``: status, stop, down, check, gpus, plan, cost; jobs and attach (detached cells:
``%sky jobs`` lists them, ``%sky attach JOB`` brings one back into the current cell)."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

from jupyter_sky.errors import SkyError, SpecError
from jupyter_sky.textual import duration, table

SUBCOMMANDS = ("status", "stop", "down", "check", "gpus", "plan", "jobs", "attach", "cost")


def run_subcommand(line: str, mgr: Any) -> None:
    """Dispatch ``%sky status|down|check|gpus|plan|attach|jobs``; unknown words get one sentence."""
    try:
        words = shlex.split(line)
    except ValueError:
        raise SpecError("The %sky line has an unclosed quote; close it or remove it.") from None
    if not words:
        raise SpecError(
            f"%sky needs a subcommand: {', '.join(SUBCOMMANDS)} (or use %%sky on a cell)."
        )
    command, rest = words[0], words[1:]
    if command not in SUBCOMMANDS:
        raise SpecError(
            f"Unknown %sky subcommand '{command}'; choose one of {', '.join(SUBCOMMANDS)}."
        )
    globals()[f"_{command}"](rest, mgr)


def _cost(rest: list[str], mgr: Any) -> None:
    from jupyter_sky.cost import parse_args, report

    print(report(mgr.store, parse_args(rest)))


def _status(rest: list[str], mgr: Any) -> None:
    from jupyter_sky.infra import canonical_kind, kinds
    from jupyter_sky.notebook import orphans

    if rest and (len(rest) != 2 or rest[0] != "--infra" or canonical_kind(rest[1]) not in kinds()):
        raise SpecError(f"%sky status takes no arguments or --infra KIND, not '{' '.join(rest)}'.")
    for line in _end_dead_launches(mgr):
        print(line)
    rows = status_rows(mgr)
    if rows:
        header = ("NAME", "INFRA", "STATE", "UPTIME", "CELLS", "IDLE", "COST")
        print(table([header, *rows]))
    known = {r[0] for r in rows if r[2] != "DOWN"}
    found, failed = orphans.orphans(canonical_kind(rest[1]) if rest else None, known)
    if found:
        print("\nNot in this machine's state (a kernel killed mid-launch, another machine); "
              "%sky down NAME ends one:")  # fmt: skip
        print(table([("NAME", "INFRA", "STATE", "WHERE"), *orphans.rows(found)]))
    for line in failed:
        print(line)
    if not rows and not found:
        print("No clusters. A %%sky cell starts one.")


def _end_dead_launches(mgr: Any) -> list[str]:
    """A cluster still INIT whose launch no process holds: its notebook kernel died
    mid-launch. What that launch started (a pod, a VM) is found by its labels and ended."""
    from jupyter_sky.kernel import launching
    from jupyter_sky.notebook import orphans

    lines = []
    for rec in mgr.store.list_clusters():
        if rec.state == "INIT" and not launching.under_way(mgr.store.home, rec.name):
            said = orphans.end_left(rec.name, rec.infra)
            if said:
                lines.append(said)
    return lines


def status_rows(mgr: Any) -> list[tuple[str, ...]]:
    """One row per known cluster; clusters whose kernel ended are shown as DOWN (STOPPED when a
    cloud VM stopped itself and kept its disk)."""
    from jupyter_sky.kernel import launching

    now = time.time()
    rows: list[tuple[str, ...]] = []
    for rec in mgr.store.list_clusters():
        state = rec.state
        if state == "UP" and rec.handle:
            state = checked_state(rec.infra, rec.handle)
        elif state == "INIT" and not launching.under_way(mgr.store.home, rec.name):
            state = "DOWN"  # its notebook kernel died mid-launch
        if state != rec.state:
            mgr.store.set_state(rec.name, state)
        uptime = duration(now - rec.created_at) if state == "UP" else "-"
        idle = duration(now - rec.last_used_at) if state == "UP" else "-"
        ended = rec.ended_at if state in ("DOWN", "STOPPED") and rec.ended_at else now
        cost = rec.cost_per_hour * max(0.0, ended - rec.created_at) / 3600
        rows.append((rec.name, rec.infra, state, uptime, str(rec.cells_run), idle, f"${cost:.2f}"))
    return rows


def checked_state(kind: str, handle_json: dict[str, Any]) -> str:
    """UP while the kernel answers; STOPPED when a cloud VM stopped itself (disk kept); else DOWN."""
    from jupyter_sky.infra import get_infra
    from jupyter_sky.kernel.manager import is_stopped

    try:
        infra = get_infra(kind)
        handle = infra.handle(handle_json)
        if infra.is_alive(handle):
            return "UP"
        return "STOPPED" if is_stopped(infra, handle) else "DOWN"
    except SkyError:
        return "DOWN"


def _detacher() -> Any:
    """The infra that runs detached cells (Slurm), or one sentence when none can."""
    from jupyter_sky.infra import classes, get_infra
    from jupyter_sky.infra.base import RunsDetached

    for kind, cls in sorted(classes().items()):
        if issubclass(cls, RunsDetached):
            return get_infra(kind)
    raise SpecError("No infra of this installation runs detached cells.")


def _attach(rest: list[str], mgr: Any) -> None:
    if len(rest) != 1 or rest[0].startswith("-"):
        raise SpecError("Usage: %sky attach JOB, where JOB is a job id %sky jobs lists.")
    _detacher().attach_detached(rest[0], mgr)


def _jobs(rest: list[str], mgr: Any) -> None:
    if len(rest) == 2 and rest[0] == "--cancel":
        print(_detacher().cancel_detached(mgr.store, rest[1]))
        return
    if rest:
        raise SpecError(
            "Usage: %sky jobs (it lists every detached job), or %sky jobs --cancel JOB."
        )
    print(_detacher().detached_jobs(mgr.store))


def _stop(rest: list[str], mgr: Any) -> None:
    if len(rest) != 1 or rest[0].startswith("-"):
        raise SpecError("Usage: %sky stop NAME (a cloud VM stops and keeps its disk).")
    print(mgr.stop(rest[0]))


def _down(rest: list[str], mgr: Any) -> None:
    if rest == ["--all"]:
        reports = mgr.down_all()
        print("\n".join(reports) if reports else "No clusters were up.")
        return
    if len(rest) != 1 or rest[0].startswith("-"):
        raise SpecError("Usage: %sky down NAME, or %sky down --all.")
    if mgr.store.get_cluster(rest[0]) is None and rest[0] not in mgr.live:
        from jupyter_sky.notebook import orphans

        ended = orphans.end(rest[0])  # known only to a cloud (its tags or labels)
        if ended is not None:
            print(ended)
            return
    print(mgr.down(rest[0]))


def _check(rest: list[str], mgr: Any) -> None:
    from jupyter_sky.config import load_config, sky_home
    from jupyter_sky.infra import kinds, planned
    from jupyter_sky.infra.readiness import infra_reason

    config = load_config(Path.cwd())
    print(f"jupyter-sky home: {sky_home()}")
    if config.sources:
        print("config files read (later wins): " + ", ".join(str(p) for p in config.sources))
    else:
        print("config files read: none (defaults in use)")
    for kind in [*kinds(), *planned()]:  # credentials, then the infra's own check
        reason = infra_reason(kind)
        print(f"  {kind:<8} {reason if reason else 'usable'}")


def _gpus(rest: list[str], mgr: Any) -> None:
    from jupyter_sky.notebook.gpus import gpus_table

    print(gpus_table(list(rest)))


def _plan(rest: list[str], mgr: Any) -> None:
    from IPython.display import display

    from jupyter_sky.notebook.gpus import plan_text
    from jupyter_sky.notebook.widget import PlacementWidget

    if not rest or rest[0] == "--minimize":  # the pipeline declared by %%sky --task cells
        from jupyter_sky.pipeline import dag as pipeline

        objective = rest[1] if len(rest) == 2 else "cost"
        if rest and (len(rest) != 2 or objective not in ("cost", "time")):
            raise SpecError("Usage: %sky plan --minimize cost|time (for the --task pipeline).")
        display(pipeline.plan(objective))
        return
    display(PlacementWidget(plan_text(shlex.join(rest))))  # the same table a new cluster shows
