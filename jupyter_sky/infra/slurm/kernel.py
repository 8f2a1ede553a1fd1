"""The kernel inside a Slurm job: its batch script, waiting for it, and this process's view.

The batch script runs the kernel in the background bound to the node's first cluster
address, records ``<pid> <node> <addr>`` in ``pid``, and starts a new kernel when a
``restart`` marker is present after the old one ended; otherwise it ends (and so does the job).
"""

from __future__ import annotations

import json
import math
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.slurm import records as rec
from jupyter_sky.infra.slurm.handle import SlurmHandle
from jupyter_sky.transport.remote_kernel import RemoteKernel
from jupyter_sky.transport.ssh import SshConnection

if TYPE_CHECKING:
    from jupyter_sky.spec.task import Task

START_TIMEOUT = 60.0  # from RUNNING to a kernel that answers
POLL_SECONDS = 0.05

_BATCH = r"""#!/bin/bash
d={base}/$SLURM_JOB_ID
mkdir -p -m 700 "$d" && cd {cwd} || exit 5
umask 077
{node_addr}
{rendezvous}
export {env} JUPYTER_SKY_EXIT_FILE="$d/exit.txt"
while :; do
    rm -f "$d/kernel.json" "$d/restart"
    {python} -m jupyter_sky.remote.kernel -f "$d/kernel.json" --ip "$addr" {args} \
        >> "$d/kernel.log" 2>&1 < /dev/null &
    pid=$!
    echo "$pid $(hostname -s) $addr" > "$d/pid.tmp" && mv "$d/pid.tmp" "$d/pid"
    wait $pid
    [ -e "$d/restart" ] || break
done
rm -f "$d/kernel.json"
"""


#: torchrun-style rendezvous for ``srun`` across the allocation, exported in the batch step
#: (``$addr``: the first node's cluster address; a cell's ``--env`` is exported after it, wins).
RENDEZVOUS = (
    'export MASTER_ADDR="$addr" MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000)) '
    'WORLD_SIZE="${SLURM_NNODES:-1}" NNODES="${SLURM_NNODES:-1}"'
)
#: The node's first cluster address into ``$addr``.
NODE_ADDR = (
    "addr=$(hostname -I 2>/dev/null | awk '{print $1}'); "
    "[ -n \"$addr\" ] || addr=$(hostname -i | awk '{print $1}')"
)


def batch_script(python: str, base: str, cwd: str, args: list[str], env: dict[str, str]) -> str:
    """The ``sbatch`` script that runs the kernel (see the module docstring).

    Parameters
    ----------
    python : str
        The interpreter on the nodes (the login host's bootstrapped venv; shared filesystem).
    base : str
        Absolute ``~/.jupyter_sky/slurm``; the job's files go to ``<base>/<job>/``.
    cwd : str
        The kernel's working directory.
    args : list of str
        Extra kernel options (``--idle-minutes``, ``--autostop-minutes``).
    env : dict
        Variables for the kernel's environment.

    Returns
    -------
    str
        The script text.
    """
    q = shlex.quote
    return _BATCH.format(
        base=q(base),
        cwd=q(cwd),
        python=q(python),
        args=" ".join(q(a) for a in args),
        env=" ".join(q(f"{k}={v}") for k, v in env.items()) or "JUPYTER_SKY_BATCH=1",
        rendezvous=RENDEZVOUS,
        node_addr=NODE_ADDR,
    )


def _probe(handle: SlurmHandle) -> str:
    d = shlex.quote(handle.dir)
    job = shlex.quote(handle.job)
    return (
        f"squeue -h -j {job} -o {shlex.quote(rec.SQUEUE_FORMAT)} 2>/dev/null; echo ---; "
        f"cat {d}/pid 2>/dev/null; echo ---; grep -c hb_port {d}/kernel.json 2>/dev/null"
    )


def wait_running(
    conn: SshConnection,
    handle: SlurmHandle,
    notify: Callable[[str], None],
    not_pid: int | None = None,
) -> SlurmHandle:
    """Poll until the job runs and its kernel wrote its connection file.

    Parameters
    ----------
    conn : SshConnection
        The login host's connection.
    handle : SlurmHandle
        The cluster's handle (``job``, ``dir``).
    notify : callable
        Receives the queue state and pending reason whenever they change.
    not_pid : int, optional
        After a restart: wait for a kernel other than this one.

    Returns
    -------
    SlurmHandle
        The handle with the kernel's ``node``, ``addr``, ``pid`` and the job's end time.

    Raises
    ------
    InfraError
        When the job leaves the queue or the kernel does not start in time.
    """
    said = ""
    started: float | None = None
    while True:
        res = conn.run(_probe(handle), timeout=30)
        queue, _, rest = res.out.partition("---\n")
        pid_line, _, ready = rest.partition("---\n")
        state = rec.parse_squeue(queue)
        if not state.state:
            raise InfraError(
                f"Slurm job {handle.job} ended before its kernel started{_tail(conn, handle)}."
            )
        if not state.running:
            text = f"slurm/{handle.cluster}: job {handle.job} {state.state}"
            text += f" ({state.reason})" if state.reason else ""
            if text != said:
                notify(text)
                said = text
            time.sleep(POLL_SECONDS)
            continue
        started = started or time.monotonic()
        fields = pid_line.split()
        if len(fields) == 3 and ready.strip() not in ("", "0") and int(fields[0]) != not_pid:
            ends_at = handle.ends_at
            if state.seconds_left is not None:  # wall clock: the handle outlives this process
                ends_at = time.time() + state.seconds_left
            pid, node, addr = int(fields[0]), fields[1], fields[2]
            return replace(handle, pid=pid, node=node, addr=addr, ends_at=ends_at)
        if time.monotonic() - started > START_TIMEOUT:
            raise InfraError(
                f"The kernel of Slurm job {handle.job} did not start within "
                f"{START_TIMEOUT:g} s; see {handle.dir}/kernel.log on the cluster."
            )
        time.sleep(POLL_SECONDS)


def _tail(conn: SshConnection, handle: SlurmHandle) -> str:
    d = handle.dir
    res = conn.run(f"tail -n 3 {shlex.quote(d)}.out {shlex.quote(d)}/kernel.log 2>/dev/null")
    lines = [ln.strip() for ln in res.out.splitlines() if ln.strip() and "==>" not in ln]
    return f" ({lines[-1].rstrip('.')})" if lines else ""


def read_kernel(conn: SshConnection, handle: SlurmHandle) -> dict[str, Any]:
    """The kernel's connection info, read over SFTP."""
    with conn.lock, conn.sftp().open(handle.connection_file) as fh:
        return json.loads(fh.read())  # type: ignore[no-any-return]


@dataclass
class NodeKernel(RemoteKernel):
    """A kernel on a compute node, reached through the login host; alive while its job runs."""

    handle: SlurmHandle | None = None

    def check(self) -> bool:
        """One round trip: is the job running this kernel (same pid, file present)?"""
        assert self.handle is not None
        res = self.conn.run(_probe(self.handle), timeout=15)
        queue, _, rest = res.out.partition("---\n")
        pid_line, _, ready = rest.partition("---\n")
        fields = pid_line.split()
        return (
            rec.parse_squeue(queue).running
            and bool(fields)
            and fields[0] == str(self.handle.pid)
            and ready.strip() not in ("", "0")
        )


def node_kernel(conn: SshConnection, handle: SlurmHandle) -> NodeKernel:
    """This process's view of the handle's kernel: forwards to ``<node>:<port>``."""
    info = read_kernel(conn, handle)
    address = str(info.get("ip") or handle.addr)
    return NodeKernel(conn, handle.pid, handle.connection_file, info, address=address, handle=handle)


def sbatch_options(
    task: Task, partition: str, gres: str, entry: dict[str, Any] | None = None
) -> list[str]:
    """``sbatch`` options for a task's allocation.

    Parameters
    ----------
    task : spec.Task
        Its resources, ``--time`` (hours), ``--num-nodes``, ``--account`` and ``--qos``.
    partition : str
        The partition, or "" for the cluster's default.
    gres : str
        The ``--gres`` value (see :func:`slurm_records.gres_flag`), or "".
    entry : dict, optional
        The cluster's ``slurm.clusters`` entry; its ``time`` (minutes, with the section's
        ``time`` folded in), ``account`` and ``qos`` apply when the cell gives none.

    Returns
    -------
    list of str
        Options such as ``--partition=gpu``, ``--time=90``.
    """
    entry = entry or {}
    resources = task.resources
    opts = [f"--partition={partition}"] if partition else []
    if gres:
        opts.append(f"--gres={gres}")
    if resources.cpus:
        opts.append(f"--cpus-per-task={math.ceil(resources.cpus)}")
    if resources.memory_gb:
        opts.append(f"--mem={int(resources.memory_gb * 1024)}M")
    if task.num_nodes > 1:
        opts.append(f"--nodes={task.num_nodes}")
    minutes = task.hours * 60 if task.hours else entry.get("time")
    if minutes:
        opts.append(f"--time={math.ceil(minutes)}")  # Slurm keeps whole minutes
    for key in ("account", "qos"):
        value = task.infra_options.get(key) or entry.get(key)
        if value:
            opts.append(f"--{key}={value}")
    return opts
