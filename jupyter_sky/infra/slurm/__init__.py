"""The ``slurm`` infra: a warm kernel inside a Slurm allocation (``--infra slurm/<cluster>``).

A cluster is one batch job. The cluster name is an SSH alias of the login host (an
``~/.ssh/config`` alias or an entry of the ``ssh:`` section), optionally followed by a
partition: ``slurm/lab/gpu``. Launch submits, over the login host's pooled SSH connection,
a batch script that starts the kernel on the compute node bound to the node's cluster address
(a compute node's loopback is not reachable from the login host; the kernel's HMAC key guards
the ports) and writes its connection file (0600) to ``~/.jupyter_sky/slurm/<job>/`` on the
shared filesystem. The client forwards each port to ``<node>:<port>`` through the login
host's sshd (``direct-tcpip``).

The batch script restarts the kernel when asked (a ``restart`` marker, then the old kernel is
killed), so a restart keeps the allocation and its job id; when the kernel ends for any other
reason (its idle watchdog, a crash) the script ends and Slurm releases the allocation.
Signals reach the node through ``srun --jobid JOB --overlap``.
"""

from __future__ import annotations

import importlib.util
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.base import Launch, Offering
from jupyter_sky.infra.over_ssh import OverSsh, kernel_args, kernel_env
from jupyter_sky.infra.slurm import records as rec
from jupyter_sky.infra.slurm.kernel import (
    NodeKernel,
    batch_script,
    node_kernel,
    sbatch_options,
    wait_running,
)
from jupyter_sky.transport.kernels import KernelCache

if TYPE_CHECKING:
    from jupyter_sky.config import Config
    from jupyter_sky.spec.task import Resources
    from jupyter_sky.transport.hosts import SshSettings
    from jupyter_sky.transport.ssh import SshConnection


LOCAL = "local"  # the cluster (or login) whose login host is this machine
EXIT_REASON_WAIT = 10.0  # seconds to wait for Slurm's final verdict on a job


def _print(line: str) -> None:
    print(line, flush=True)


class SlurmInfra(OverSsh):
    """Kernels in Slurm allocations, one batch job per cluster name.

    Parameters
    ----------
    settings : SshSettings or mapping, optional
        The ``ssh:`` section used to reach login hosts (default: the config files').
    default_cluster : str, optional
        The cluster (login alias[/partition]) for cells whose ``--infra`` is just ``slurm``.
    notify : callable, optional
        Receives one-line reports (queue state, bootstrap progress); default print.
    """

    kind = "slurm"

    def __init__(
        self,
        settings: SshSettings | dict[str, Any] | None = None,
        default_cluster: str | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self.default_cluster = default_cluster
        self.notify = notify or _print
        self._groups: dict[str, list[rec.NodeGroup]] = {}
        self._kernels = KernelCache()

    # ---- where ----------------------------------------------------------------------
    def _target(
        self, resources: Resources | None, offering: Offering | None = None
    ) -> tuple[str, str]:
        """(cluster, partition) a request names; ("", "") when it names none."""
        from jupyter_sky.infra import split_infra

        kind, rest = split_infra((resources.infra if resources else None) or "")
        if not (kind == "slurm" and rest):
            if offering is not None and offering.infra == "slurm":
                return offering.region, offering.instance_type
            rest = self.default_cluster or self.slurm_config().cluster or ""
            if not rest and kind == "slurm":  # a bare --infra slurm on a login node
                rest = _local_if_sbatch()
        cluster, _, partition = rest.partition("/")
        if cluster and not partition:
            partition = self._entry(cluster).get("partition", "")
        return cluster, partition

    def slurm_config(self, config: Config | None = None) -> Any:
        """The ``slurm:`` section (clusters by name, default time)."""
        if config is None:
            from jupyter_sky.config import load_config

            config = load_config(Path.cwd())
        return config.slurm

    def _entry(self, cluster: str, config: Config | None = None) -> dict[str, Any]:
        section = self.slurm_config(config)
        entry: dict[str, Any] = section.cluster_entry(cluster)
        entry.setdefault("time", section.time)
        return entry

    def _conn(self, cluster: str, settings: SshSettings | None = None) -> SshConnection:
        from jupyter_sky.transport.hosts import resolve
        from jupyter_sky.transport.ssh import connection

        login = self.login(cluster)
        if login == LOCAL:  # sbatch on this machine's PATH: no SSH at all
            from jupyter_sky.transport.local_shell import local_shell

            return local_shell()
        settings = settings or self.settings()
        return connection(resolve(login, settings), settings, self.notify)

    def login(self, cluster: str, config: Config | None = None) -> str:
        """The SSH alias of the cluster's login host (``slurm.clusters.<name>.login``), or
        ``local`` when the login host is this machine."""
        return str(self._entry(cluster, config).get("login") or cluster)

    def python_for(self, cluster: str, config: Config) -> str:
        """The interpreter on the nodes: this one for a local cluster (the nodes share its
        filesystem), else the login host's (bootstrapped when it lacks the packages)."""
        if self.login(cluster, config) == LOCAL:
            return str(config.local.python or sys.executable)
        from jupyter_sky.transport.bootstrap import ensure_python
        from jupyter_sky.transport.hosts import resolve

        settings = self.settings(config)
        spec = resolve(self.login(cluster, config), settings)
        return ensure_python(self._conn(cluster, settings), spec, self.notify)

    def _sh(self, cluster: str, command: str, timeout: float = 30) -> str:
        res = self._conn(cluster).run(command, timeout=timeout)
        if res.rc != 0:
            raise InfraError(
                f"Slurm on '{cluster}' refused `{command.split()[0]}`: {res.last_line()}."
            )
        return res.out

    # ---- what it can run ------------------------------------------------------------
    def check(self) -> str:
        if importlib.util.find_spec("paramiko") is None:
            return (
                "The slurm infra reaches login hosts over SSH and needs paramiko, which is "
                "not installed; run pip install 'jupyter-sky[ssh]'."
            )
        return ""

    def groups(self, cluster: str) -> list[rec.NodeGroup]:
        """The cluster's node groups from ``sinfo`` (cached per process)."""
        if cluster not in self._groups:
            out = self._sh(cluster, f"sinfo -h -o {shlex.quote(rec.SINFO_FORMAT)}")
            self._groups[cluster] = rec.parse_sinfo(out)
        return self._groups[cluster]

    def _partition_groups(self, cluster: str, partition: str) -> list[rec.NodeGroup]:
        groups = self.groups(cluster)
        if not partition:
            return groups
        chosen = [g for g in groups if g.partition == partition]
        if not chosen:
            names = ", ".join(sorted({g.partition for g in groups}))
            raise InfraError(
                f"Slurm cluster '{cluster}' has no partition '{partition}'; "
                f"its partitions are {names}."
            )
        return chosen

    def live(self) -> list[Offering]:
        """The default cluster's partitions (nothing when no cluster is configured: a local
        ``sbatch`` is used when a cell says ``--infra slurm``, never offered unasked)."""
        cluster, partition = self._target(None)
        if not cluster:
            return []
        return [_offering(cluster, g) for g in self._partition_groups(cluster, partition)]

    def offerings(self, resources: Resources) -> list[Offering]:
        cluster, partition = self._target(resources)
        if not cluster:
            return []
        groups = self._partition_groups(cluster, partition)
        return [_offering(cluster, g) for g in groups if not rec.missing(resources, g)]

    def unmet(self, resources: Resources) -> str:
        cluster, partition = self._target(resources)
        if not cluster:
            return ""
        groups = self._partition_groups(cluster, partition)
        reasons = [rec.missing(resources, g) for g in sorted(groups, key=_size(resources))]
        if not groups or "" in reasons:
            return ""  # the largest node group is judged: its shortfall is the real one
        where = f"partition '{partition}' of " if partition else ""
        return (
            f"This cell asks for {resources.describe()}, but {where}Slurm cluster "
            f"'{cluster}' {reasons[0]}."
        )

    def checked_target(
        self, resources: Resources, offering: Offering | None = None
    ) -> tuple[str, str, str]:
        """(cluster, partition, ``--gres`` value) for a request, or one sentence saying what
        is wrong with it (no cluster named, a partition or GPU type it lacks, a request no
        node can hold) — before anything is queued."""
        cluster, partition = self._target(resources, offering)
        if not cluster:
            raise InfraError(
                "Name the Slurm cluster as --infra slurm/<cluster>[/<partition>], where the "
                "cluster is the SSH alias of its login host."
            )
        groups = self._partition_groups(cluster, partition)
        gres = rec.gres_flag(resources, groups, cluster)  # a type it lacks: before anything
        reason = self.unmet(resources)
        if reason:
            raise InfraError(reason)
        return cluster, partition, gres

    # ---- lifecycle -------------------------------------------------------------------
    def launch(self, request: Launch) -> dict[str, Any]:
        settings = self.settings(request.config)
        cluster, partition, gres = self.checked_target(request.task.resources, request.offering)
        conn = self._conn(cluster, settings)
        python = self.python_for(cluster, request.config)
        base = f"{conn.home()}/.jupyter_sky/slurm"
        opts = [f"--job-name=sky-{request.cluster}", f"--output={base}/%j.out"]
        opts += sbatch_options(request.task, partition, gres, self._entry(cluster, request.config))
        script = batch_script(
            python, base, conn.home(), kernel_args(request), kernel_env(request, "slurm")
        )
        cmd = f"mkdir -p -m 700 {shlex.quote(base)} && sbatch --parsable " + " ".join(
            shlex.quote(o) for o in opts
        )
        res = conn.run(cmd, timeout=60, stdin=script.encode())
        if res.rc != 0:
            raise InfraError(
                f"Slurm cluster '{cluster}' refused the job: {res.last_line().rstrip('.')}."
            )
        job = res.out.strip().split(";")[0]
        handle: dict[str, Any] = {
            "cluster": cluster,
            "partition": partition,
            "job": job,
            "dir": f"{base}/{job}",
            "connection_file": f"{base}/{job}/kernel.json",
            "python": python,
        }
        try:
            node_pid = wait_running(conn, handle, self.notify)
        except BaseException:
            conn.run(f"scancel {shlex.quote(job)}", timeout=30)
            raise
        handle.update(node_pid)
        return handle

    def _open_kernel(self, handle: dict[str, Any]) -> NodeKernel:
        return node_kernel(self._conn(handle["cluster"]), handle)

    def connection_info(self, handle: dict[str, Any]) -> dict[str, Any]:
        gone = (
            f"The kernel of Slurm job {handle['job']} has no connection file any more "
            f"({handle['connection_file']}); it has ended."
        )
        return self._kernels.local_info(_key(handle), lambda: self._open_kernel(handle), gone)

    def is_alive(self, handle: dict[str, Any]) -> bool:
        return self._kernels.is_alive(_key(handle), lambda: self._open_kernel(handle))

    def _srun(self, handle: dict[str, Any], command: str) -> None:
        job = shlex.quote(str(handle["job"]))
        self._sh(handle["cluster"], f"srun --jobid {job} --overlap -N1 -n1 {command}")

    def interrupt(self, handle: dict[str, Any]) -> None:
        self._srun(handle, f"kill -INT {int(handle['pid'])}")

    def restart(self, handle: dict[str, Any], request: Launch) -> dict[str, Any]:
        self._kernels.forget(_key(handle))
        conn = self._conn(handle["cluster"])
        marker = shlex.quote(f"{handle['dir']}/restart")
        self._sh(handle["cluster"], f"touch {marker}")
        self._srun(handle, f"kill -TERM {int(handle['pid'])}")
        new = dict(handle)
        new.update(wait_running(conn, handle, self.notify, not_pid=int(handle["pid"])))
        return new

    def down(self, handle: dict[str, Any]) -> None:
        if not handle:
            return
        key = _key(handle)
        self._kernels.forget(key)
        if not self._kernels.ended(key):
            self._conn(handle["cluster"]).run(f"scancel {shlex.quote(str(handle['job']))}")
            self._kernels.mark_ended(key)

    def where(self, handle: dict[str, Any]) -> str:
        text = (
            f"slurm/{handle.get('cluster', '?')} job {handle.get('job', '?')} on "
            f"{handle.get('node', '?')} pid {handle.get('pid', '?')}"
        )
        if handle.get("ends_at"):
            text += f" · {_left(float(handle['ends_at']) - time.time())} left"
        return text

    def exit_reason(self, handle: dict[str, Any]) -> str:
        """Why the job's kernel ended: Slurm's verdict (time limit, scancel ...) or its own.

        A kernel killed by Slurm dies while the job is still RUNNING or COMPLETING; the final
        state follows within seconds, so it is polled for a little while.
        """
        deadline = time.monotonic() + EXIT_REASON_WAIT
        while True:
            try:
                own, fields = self._job_end(handle)
            except (InfraError, KeyError):
                return ""
            state = fields.get("JobState", "")
            verdict = rec.END_REASONS.get(state) or rec.END_REASONS.get(fields.get("Reason", ""))
            if verdict or own or state not in rec.STILL_GOING or time.monotonic() > deadline:
                return verdict or own
            time.sleep(0.25)

    def _job_end(self, handle: dict[str, Any]) -> tuple[str, dict[str, str]]:
        job = shlex.quote(str(handle["job"]))
        res = self._conn(handle["cluster"]).run(
            f"cat {shlex.quote(handle['dir'])}/exit.txt 2>/dev/null; echo; "
            f"scontrol show job -o {job} 2>/dev/null",
            timeout=15,
        )
        own, _, job_line = res.out.partition("\n")
        return own.strip(), rec.parse_scontrol(job_line)


def _local_if_sbatch() -> str:
    """``local`` when Slurm's own commands are on this PATH (a notebook on a login node)."""
    return LOCAL if shutil.which("sbatch") else ""


def _left(seconds: float) -> str:
    """The allocation's remaining time: ``1 h 05 min``, ``12 min``, ``40 s``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _key(handle: dict[str, Any]) -> str:
    return f"{handle['cluster']}:{handle['job']}"


def _size(resources: Resources) -> Callable[[rec.NodeGroup], tuple[int, int, int]]:
    wanted = (resources.accelerator or "").lower()

    def size(g: rec.NodeGroup) -> tuple[int, int, int]:
        gpus = g.gpus.get(wanted, 0) if wanted else g.gpu_count
        return (-gpus, -g.cpus, -g.memory_mb)

    return size


def _offering(cluster: str, group: rec.NodeGroup) -> Offering:
    typed = {t: n for t, n in group.gpus.items() if t}
    top = max(typed, key=lambda t: typed[t]) if typed else None
    return Offering(
        infra="slurm",
        region=cluster,
        instance_type=group.partition,
        vcpus=float(group.cpus),
        memory_gb=round(group.memory_mb / 1024, 1),
        accelerator=top.upper() if top else None,
        accelerator_count=typed[top] if top else group.gpu_count,
        price_per_hour=0.0,
        priced=False,
        note=group.describe_nodes(),
    )
