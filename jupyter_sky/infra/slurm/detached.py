"""Detached cells: ``%%sky --detach`` submits the cell as a Slurm batch job that records its
output; ``%sky attach JOB`` brings it back into the current cell (in any kernel, any day).

Submitting is one SSH round trip after the checks: the cell, the prepare message a normal
cell carries and the pushed values (the same bytes a normal cell sends) go as one file on
the command's stdin into ``~/.jupyter_sky/detached/<id>/`` (0700; files 0600), and the same
command ``sbatch``-es ``python -m jupyter_sky.infra.slurm.runner <dir>`` (see that module for
what the job records). Attaching replays ``output.jsonl`` through the relay a normal cell
uses, follows it while the job runs (one round trip per poll: verdict, new lines, queue
state), then applies the pulled variables with :mod:`jupyter_sky.variables.pull`.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import InfraError, RemoteKernelDied, SkyError
from jupyter_sky.infra.slurm import jobs as detach_jobs
from jupyter_sky.infra.slurm.jobs import Job

if TYPE_CHECKING:
    from jupyter_sky.infra.slurm import SlurmInfra

POLL_SECONDS = 0.2
RUNNER = "jupyter_sky.infra.slurm.runner"


# ---- submit -----------------------------------------------------------------------------
def submit_cell(
    infra: SlurmInfra,
    shell: Any,
    mgr: Any,
    task: Any,
    config: Any,
    budget: dict[str, object] | None = None,
) -> None:
    """Submit the cell as a detached batch job and print how to attach to it.

    Parameters
    ----------
    shell : InteractiveShell
        The notebook's shell (the values the cell reads come from its namespace).
    mgr : Manager
        The cluster manager (its state store records the job).
    task : spec.Task
        The parsed cell (``task.run`` is the cell; ``--infra slurm/<cluster>[/<partition>]``).
    config : Config
        The merged configuration.
    budget : dict, optional
        The limit the job's kernel enforces (:func:`jupyter_sky.budget.target_limit`).

    Raises
    ------
    InfraError
        For a cluster, partition or GPU request the cluster cannot meet (nothing is queued).
    """
    from jupyter_sky.variables import transfer

    cluster, partition, gres = _checked_target(infra, task)
    cell = task.run
    names = transfer.analyse(cell)
    hidden = set(getattr(shell, "user_ns_hidden", ()))
    plan = transfer.plan_push(
        names, shell.user_ns, {}, push=task.push, exclude=task.exclude, hidden=hidden
    )
    ident = uuid.uuid4().hex[:8]
    name = task.cluster or f"detached-{ident[:4]}"
    payload = _payload(task, cell, names, plan, {"JUPYTER_SKY_CLUSTER": name}, budget)
    conn = infra.connection(cluster, infra.settings(config))
    python = infra.python_for(cluster, config)
    directory = f"{conn.home()}/.jupyter_sky/detached/{ident}"
    entry = infra.entry(cluster, config)
    opts = _options(task, partition, gres, entry, name)
    submitted = time.time()
    job = _sbatch(conn, cluster, directory, python, opts, payload)
    first = next((ln.strip() for ln in cell.splitlines() if ln.strip()), "")
    record = Job(ident, job, cluster, directory, name, list(names.rebinds), submitted, first)
    detach_jobs.add(mgr.store, record)
    print(
        f"submitted detached job {job} on slurm/{cluster} (sky-{name}); "
        f"%sky attach {job} brings it back"
    )


def _checked_target(infra: SlurmInfra, task: Any) -> tuple[str, str, str]:
    """(cluster, partition, gres), with the slurm infra's own sentences for what is wrong."""
    reason = infra.check()
    if reason:
        raise InfraError(reason)
    return infra.checked_target(task.resources)


def _payload(
    task: Any,
    cell: str,
    names: Any,
    plan: Any,
    where: dict[str, str],
    budget: dict[str, object] | None = None,
) -> bytes:
    """``push.bin``: the cell, its prepare message (with the budget) and the pushed frames."""
    from jupyter_sky.infra.slurm.runner import pack_frames
    from jupyter_sky.variables.prepare import prepare_message

    # The runner's own client id replaces this empty one; nothing was relayed yet (ack 0).
    prepare = prepare_message("", 0, task, names, plan, task.workdir)
    if prepare is None and budget is not None:
        prepare = {
            "op": "prepare", "ack": 0, "client": "", "push": [], "check": [], "writes": [],
            "force": [], "no_pull": True, "env": {}, "cwd": None,
        }  # fmt: skip
    if prepare is not None:  # the cell can tell where it runs, as in a normal slurm cell
        prepare["env"] = {"JUPYTER_SKY_INFRA": "slurm", **where, **prepare["env"]}
        if budget is not None:
            prepare["budget"] = budget
    header = {"cell": cell, "prepare": prepare, "setup": task.setup, "cwd": task.workdir}
    return pack_frames(header, plan.frames)


def _options(task: Any, partition: str, gres: str, entry: dict[str, Any], name: str) -> list[str]:
    from jupyter_sky.infra.slurm.kernel import sbatch_options

    return [f"--job-name=sky-{name}", *sbatch_options(task, partition, gres, entry)]


def _sbatch(
    conn: Any, cluster: str, directory: str, python: str, opts: list[str], payload: bytes
) -> str:
    """Write ``push.bin`` from stdin and submit the runner, in one command; the job id."""
    q = shlex.quote
    from jupyter_sky.infra.slurm.kernel import NODE_ADDR, RENDEZVOUS

    wrap = f"{NODE_ADDR}; {RENDEZVOUS}; exec {q(python)} -m {RUNNER} {q(directory)}"
    home = directory.rsplit("/", 3)[0]
    opts = [*opts, f"--output={directory}/slurm.out", f"--chdir={home}"]
    cmd = (
        f"umask 077 && mkdir -p {q(directory)} && cat > {q(directory)}/push.bin && "
        f"sbatch --parsable {' '.join(q(o) for o in opts)} --wrap {q(wrap)}"
    )
    res = conn.run(cmd, timeout=60, stdin=payload)
    if res.rc != 0:
        raise InfraError(
            f"Slurm cluster '{cluster}' refused the job: {res.last_line().rstrip('.')}."
        )
    return str(res.out.strip().split(";")[0])


# ---- attach -------------------------------------------------------------------------------
def attach(infra: SlurmInfra, ref: str, mgr: Any, shell: Any = None) -> None:
    """Replay a detached job's output into this cell, follow it, bring its variables home.

    Parameters
    ----------
    ref : str
        Slurm's job id or jupyter-sky's id of the job (``%sky jobs`` lists both).
    mgr : Manager
        The cluster manager (its state store knows the jobs).
    shell : InteractiveShell, optional
        Where the variables go (default: the running IPython).

    Raises
    ------
    SkyError
        For an unknown job, or a job that ended without finishing its cell.
    RemoteError
        The cell's own exception, as a normal ``%%sky`` cell raises it.
    """
    from IPython import get_ipython

    from jupyter_sky.kernel.relay import CellRelay

    job = detach_jobs.find(mgr.store, ref)
    if job is None:
        raise SkyError(f"There is no detached job '{ref}'; %sky jobs lists the detached jobs.")
    shell = shell or get_ipython()
    conn = infra.connection(job.cluster)
    follower = _Follower(conn, job, CellRelay(shell))
    try:
        done = follower.follow()
    except KeyboardInterrupt:
        print(
            f"[sky] stopped following detached job {job.job}; it keeps running — "
            f"%sky attach {job.job} brings it back.",
            file=sys.stderr,
        )
        return
    if done is None:
        state, seconds = detach_jobs.ended(conn, job.job)
        detach_jobs.settle(mgr.store, job, state, seconds)
        raise SkyError(
            f"Detached job {job.job} ended before its cell finished "
            f"({detach_jobs.why_ended(conn, job.job)}); the recorded output above is all there is."
        )
    detach_jobs.settle(mgr.store, job, *detach_jobs.done_state(done))
    _finish(conn, job, done, follower.relay, shell)


def _finish(conn: Any, job: Job, done: dict[str, Any], relay: Any, shell: Any) -> None:
    """Apply the pulled variables, then end as the cell ended."""
    from jupyter_sky.infra.slurm.runner import PULLED_FILE, read_pulled
    from jupyter_sky.kernel.relay import remote_error
    from jupyter_sky.variables import pull

    where = f"slurm/{job.cluster} detached job {job.job}"
    if done.get("pulled") and shell is not None:
        with conn.lock, conn.sftp().open(f"{job.dir}/{PULLED_FILE}") as fh:
            fh.prefetch()  # pipelined reads: a large value is not one round trip per 32 KB
            messages = read_pulled(fh.read())
        notes = pull.apply(messages, shell.user_ns, {}, set(job.pulls))
        for note in notes:
            print(f"[sky] {note}", file=sys.stderr)
    status = done.get("status")
    if status == "died":
        why = f" ({done['reason']})" if done.get("reason") else ""
        raise RemoteKernelDied(
            f"The kernel of detached job {job.job} died while running its cell{why}; "
            "the recorded output above is all there is."
        )
    if status == "failed":
        raise SkyError(
            f"Detached job {job.job} could not run its cell ({done.get('reason', '')}); "
            f"see {job.dir}/slurm.out on the cluster."
        )
    if relay.error is not None:
        raise remote_error(relay.error, where)


class _Follower:
    """Reads a job's recorded output from where it left off, one round trip per poll."""

    def __init__(self, conn: Any, job: Job, relay: Any) -> None:
        self.conn, self.job, self.relay = conn, job, relay
        self.offset = 0  # bytes of output.jsonl already shown
        self.said = ""

    def follow(self) -> dict[str, Any] | None:
        """Until the job is done: its ``done.json``; None when it ended without one."""
        gone = 0
        while True:
            done, state = self.poll()
            if done is not None:
                return done
            if state and not _ended(state):
                gone = 0
                self.say(state)
            else:
                gone += 1  # twice, so a verdict written between two reads is not missed
                if gone >= 2:
                    return None
            time.sleep(POLL_SECONDS)

    def poll(self) -> tuple[dict[str, Any] | None, str]:
        """Show the new lines; returns (``done.json`` or None, squeue state or "")."""
        from jupyter_sky.infra.slurm.runner import DONE_FILE, OUTPUT_FILE, read_line

        d = shlex.quote(self.job.dir)
        # The verdict is read first: once it exists, the output is complete.
        res = self.conn.run(
            f"cat {d}/{DONE_FILE} 2>/dev/null; printf '\\036'; "
            f"tail -c +{self.offset + 1} {d}/{OUTPUT_FILE} 2>/dev/null; printf '\\036'; "
            f"squeue -h -j {shlex.quote(self.job.job)} -o '%T|%r' 2>/dev/null",
            timeout=30,
        )
        done_text, _, rest = res.out.partition("\x1e")
        output, _, queue = rest.partition("\x1e")
        complete = output[: output.rfind("\n") + 1]  # a line still being written waits
        self.offset += len(complete.encode())
        for line in complete.splitlines():
            if line.strip():
                self.relay.handle(read_line(line))
        done = json.loads(done_text) if done_text.strip() else None
        return done, queue.strip()

    def say(self, state: str) -> None:
        kind, _, reason = state.partition("|")
        if kind == "RUNNING" or state == self.said:
            return
        self.said = state
        why = f" ({reason})" if reason and reason != "None" else ""
        print(f"[sky] detached job {self.job.job} {kind}{why}", file=sys.stderr, flush=True)


def _ended(state: str) -> bool:
    from jupyter_sky.infra.slurm.records import END_REASONS

    kind = state.partition("|")[0]
    return kind in END_REASONS or kind == "COMPLETED"
