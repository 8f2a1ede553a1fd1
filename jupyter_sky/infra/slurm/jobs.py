"""Detached jobs as the notebook side knows them: their table in the state store, their
state on the cluster, and ``%sky jobs``.

The ``detached_jobs`` table lives in the same ``state.db`` as clusters and runs (made by
:mod:`jupyter_sky.state.schema`'s migrations), so every notebook kernel of the user — after a
restart, tomorrow — sees the same jobs. A job's final state (``DONE``, ``ERROR``, or Slurm's ``CANCELLED``, ``TIMEOUT``
...) is stored once known, so listing old jobs asks the cluster nothing.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from jupyter_sky.infra.slurm import records as rec
from jupyter_sky.state import DetachedJob, Store

if TYPE_CHECKING:
    from jupyter_sky.infra.slurm import SlurmInfra

RUNNING = "RUNNING"
FINAL = ("DONE", "ERROR", "DIED", "FAILED", "ENDED")  # plus Slurm's states in END_REASONS


class Job(DetachedJob):
    """A detached Slurm cell as the state store keeps it (``job`` is Slurm's job id)."""

    @property
    def final(self) -> bool:
        return self.state in FINAL or self.state in rec.END_REASONS


def _as_job(found: DetachedJob) -> Job:
    return Job(**vars(found))


def add(store: Store, job: Job) -> None:
    """Record a submitted job."""
    store.put_job(job)


def find(store: Store, ref: str) -> Job | None:
    """The job whose id or Slurm job id is ``ref`` (the newest, if several clusters share it)."""
    found = store.jobs(ref)
    return _as_job(found[-1]) if found else None


def all_jobs(store: Store) -> list[Job]:
    """Every detached job, oldest first."""
    return [_as_job(j) for j in store.jobs()]


def settle(store: Store, job: Job, state: str, elapsed: float | None) -> None:
    """Store a job's final state and run time."""
    job.state, job.elapsed = state, elapsed
    store.settle_job(job.id, state, elapsed)


# ---- state on the cluster -----------------------------------------------------------------
def done_state(done: dict[str, Any]) -> tuple[str, float]:
    """A ``done.json`` as (state, elapsed seconds)."""
    state = {"ok": "DONE", "interrupted": "ERROR"}.get(done.get("status", ""), "")
    state = state or str(done.get("status", "failed")).upper()
    return state, float(done.get("ended", 0)) - float(done.get("started", 0))


def refresh(store: Any, conn: Any, jobs: list[Job]) -> dict[str, float]:
    """Bring the states of ``jobs`` (all on one cluster) up to date in one round trip.

    Returns
    -------
    dict
        Seconds run so far of each job still running, by our id.
    """
    dirs = " ".join(shlex.quote(j.dir) for j in jobs)
    res = conn.run(
        "squeue -h -u \"$(id -un)\" -o '%i|%T|%M' 2>/dev/null; printf '\\036\\n'; "
        f'for d in {dirs}; do cat "$d/done.json" 2>/dev/null; echo; done',
        timeout=30,
    )
    queue, _, dones = res.out.partition("\x1e\n")
    queued = {}
    for line in queue.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3:
            queued[parts[0]] = (parts[1], rec.parse_duration(parts[2]))
    running: dict[str, float] = {}
    for job, done_line in zip(jobs, dones.split("\n"), strict=False):
        if done_line.strip():
            settle(store, job, *done_state(json.loads(done_line)))
        elif job.job in queued:
            job.state = queued[job.job][0]
            running[job.id] = queued[job.job][1] or 0.0
        else:
            state, seconds = ended(conn, job.job)
            settle(store, job, state, seconds)
    return running


def ended(conn: Any, job: str) -> tuple[str, float | None]:
    """Slurm's final state and run time of a job that left the queue without a verdict."""
    res = conn.run(f"scontrol show job -o {shlex.quote(job)} 2>/dev/null", timeout=15)
    fields = rec.parse_scontrol(res.out)
    state = fields.get("JobState", "")
    if state not in rec.END_REASONS:
        state = "ENDED"
    return state, rec.parse_duration(fields.get("RunTime", ""))


def why_ended(conn: Any, job: str) -> str:
    """Why a job ended, as the end of a sentence ("the job was cancelled (scancel)")."""
    res = conn.run(f"scontrol show job -o {shlex.quote(job)} 2>/dev/null", timeout=15)
    fields = rec.parse_scontrol(res.out)
    return (
        rec.END_REASONS.get(fields.get("JobState", ""))
        or rec.END_REASONS.get(fields.get("Reason", ""))
        or "the job ended"
    )


# ---- %sky jobs ------------------------------------------------------------------------------
def jobs_table(infra: SlurmInfra, store: Any) -> str:
    """The ``%sky jobs`` table: id, name, cluster, Slurm job, state, elapsed, first line.

    Only jobs not known to be over are looked up, one round trip per cluster; with none,
    the cluster is not contacted at all.
    """
    from jupyter_sky.textual import duration, table

    jobs = all_jobs(store)
    if not jobs:
        return "No detached jobs. %%sky --detach --infra slurm/<cluster> submits one."
    running: dict[str, float] = {}
    for cluster in sorted({j.cluster for j in jobs if not j.final}):
        live = [j for j in jobs if j.cluster == cluster and not j.final]
        running.update(refresh(store, infra.connection(cluster), live))
    header = ("ID", "NAME", "CLUSTER", "JOB", "STATE", "ELAPSED", "FIRST LINE")
    rows: list[tuple[str, ...]] = [header]
    for j in jobs:
        seconds = running.get(j.id, j.elapsed)
        elapsed = duration(seconds) if seconds is not None and j.state != "PENDING" else "-"
        rows.append((j.id, j.name, j.cluster, j.job, j.state, elapsed, j.first_line[:40]))
    return table(rows)


def cancel(infra: SlurmInfra, store: Any, ref: str) -> str:
    """``scancel`` a detached job; what it recorded stays for ``%sky attach``.

    Parameters
    ----------
    store : Store
        The state store that knows the job.
    ref : str
        Slurm's job id or jupyter-sky's id of the job.

    Returns
    -------
    str
        One line saying what happened.

    Raises
    ------
    SkyError
        For a job the state store does not know, or a refused ``scancel``.
    """
    from jupyter_sky.errors import SkyError

    job = find(store, ref)
    if job is None:
        raise SkyError(f"There is no detached job '{ref}'; %sky jobs lists the detached jobs.")
    if job.final:
        return f"detached job {job.job} had already ended ({job.state.lower()})"
    res = infra.connection(job.cluster).run(f"scancel {shlex.quote(job.job)}", timeout=30)
    if res.rc != 0:
        raise SkyError(
            f"Slurm on '{job.cluster}' refused to cancel job {job.job}: {res.last_line()}."
        )
    return f"cancelled detached job {job.job}; %sky attach {job.job} shows what it recorded"
