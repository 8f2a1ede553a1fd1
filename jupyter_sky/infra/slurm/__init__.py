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
import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jupyter_sky.errors import InfraError, SpecError
from jupyter_sky.infra.base import Handle, InfraFlag, InfraPath, Launch
from jupyter_sky.infra.over_ssh import OverSsh, kernel_args, kernel_env
from jupyter_sky.infra.slurm import records as rec
from jupyter_sky.infra.slurm.config import SlurmConfig
from jupyter_sky.infra.slurm.handle import SlurmHandle
from jupyter_sky.infra.slurm.kernel import (
    NodeKernel,
    batch_script,
    node_kernel,
    sbatch_options,
    wait_running,
)
from jupyter_sky.offering import Offering
from jupyter_sky.transport.kernels import KernelCache

if TYPE_CHECKING:
    from jupyter_sky.config_sections import Config
    from jupyter_sky.spec.task import Resources, Task
    from jupyter_sky.transport.hosts import SshSettings
    from jupyter_sky.transport.ssh import SshConnection


LOCAL = "local"  # the cluster (or login) whose login host is this machine
EXIT_REASON_WAIT = 10.0  # seconds to wait for Slurm's final verdict on a job


def _print(line: str) -> None:
    print(line, flush=True)


def _slurm_name(value: str, label: str) -> str:
    if not re.fullmatch(r"[\w.-]+", value):
        raise SpecError(
            f"{label} must be a Slurm name such as gpu (letters, digits, _, ., -), not {value!r}."
        )
    return value


class SlurmInfra(OverSsh[SlurmHandle]):
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

    kind: ClassVar[str] = "slurm"
    extra: ClassVar[str] = "slurm"
    handle_type: ClassVar[type[Handle]] = SlurmHandle
    config_section: ClassVar[type | None] = SlurmConfig
    path_shape: ClassVar[str] = "slurm[/<cluster>[/<partition>]]"
    sdk_modules: ClassVar[tuple[str, ...]] = ("paramiko",)
    flags: ClassVar[tuple[InfraFlag, ...]] = (
        InfraFlag("--partition", "partition", "Slurm partition (same as slurm/<cluster>/NAME).",
                  "gpu", _slurm_name),
        InfraFlag("--account", "account", "Slurm account to charge the allocation to.",
                  "myproject", _slurm_name),
        InfraFlag("--qos", "qos", "Slurm quality of service for the allocation.", "normal",
                  _slurm_name),
    )  # fmt: skip

    @classmethod
    def parse_path(cls, rest: str) -> InfraPath:
        if rest and not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", rest):
            raise SpecError(
                f"must be slurm, slurm/<cluster> or slurm/<cluster>/<partition>, not 'slurm/{rest}'."
            )
        cluster, _, partition = rest.partition("/")
        text = f"slurm/{rest}" if rest else "slurm"
        return InfraPath(text, target=cluster or None, detail=partition or None)

    @classmethod
    def fold_options(cls, path: InfraPath, options: dict[str, str]) -> InfraPath:
        """``--partition`` folds into ``slurm/<cluster>/<partition>``."""
        partition = options.get("partition")
        if not partition:
            return path
        if not path.target:
            raise SpecError("--partition needs the cluster too: --infra slurm/<cluster>.")
        if path.detail and path.detail != partition:
            raise SpecError(
                f"--infra names partition '{path.detail}' but --partition says '{partition}'; "
                "keep one of them."
            )
        return cls.parse_path(f"{path.target}/{partition}")

    # ---- detached cells (RunsDetached): see detached.py and jobs.py ----
    def submit_detached(
        self, shell: Any, mgr: Any, task: Task, config: Config, budget: dict[str, object] | None
    ) -> None:
        from jupyter_sky.infra.slurm.detached import submit_cell

        submit_cell(self, shell, mgr, task, config, budget)

    def attach_detached(self, ref: str, mgr: Any, shell: Any = None) -> None:
        from jupyter_sky.infra.slurm.detached import attach

        attach(self, ref, mgr, shell)

    def detached_jobs(self, store: Any) -> str:
        from jupyter_sky.infra.slurm.jobs import jobs_table

        return jobs_table(self, store)

    def cancel_detached(self, store: Any, ref: str) -> str:
        from jupyter_sky.infra.slurm.jobs import cancel

        return cancel(self, store, ref)

    def max_nodes(self) -> int:
        """A cluster may span every node of an allocation (``--num-nodes``)."""
        return 1024

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
            partition = self.entry(cluster).get("partition", "")
        return cluster, partition

    def slurm_config(self, config: Config | None = None) -> SlurmConfig:
        """The ``slurm:`` section (clusters by name, default time)."""
        if config is None:
            from jupyter_sky.config import load_config

            config = load_config(Path.cwd())
        return config.of(SlurmConfig)

    def entry(self, cluster: str, config: Config | None = None) -> dict[str, Any]:
        section = self.slurm_config(config)
        entry: dict[str, Any] = section.cluster_entry(cluster)
        entry.setdefault("time", section.time)
        return entry

    def connection(self, cluster: str, settings: SshSettings | None = None) -> SshConnection:
        from jupyter_sky.transport.hosts import resolve
        from jupyter_sky.transport.ssh import connection

        login = self.login(cluster)
        if login == LOCAL:  # sbatch on this machine's PATH: no SSH at all
            from jupyter_sky.infra.slurm.local_shell import local_shell

            return local_shell()
        settings = settings or self.settings()
        return connection(resolve(login, settings), settings, self.notify)

    def login(self, cluster: str, config: Config | None = None) -> str:
        """The SSH alias of the cluster's login host (``slurm.clusters.<name>.login``), or
        ``local`` when the login host is this machine."""
        return str(self.entry(cluster, config).get("login") or cluster)

    def python_for(self, cluster: str, config: Config) -> str:
        """The interpreter on the nodes: this one for a local cluster (the nodes share its
        filesystem), else the login host's (bootstrapped when it lacks the packages)."""
        if self.login(cluster, config) == LOCAL:
            from jupyter_sky.infra.local import LocalConfig

            return str(config.of(LocalConfig).python or sys.executable)
        from jupyter_sky.transport.bootstrap import ensure_python
        from jupyter_sky.transport.hosts import resolve

        settings = self.settings(config)
        spec = resolve(self.login(cluster, config), settings)
        return ensure_python(self.connection(cluster, settings), spec, self.notify)

    def _sh(self, cluster: str, command: str, timeout: float = 30) -> str:
        res = self.connection(cluster).run(command, timeout=timeout)
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
        return [rec.offering_of(cluster, g) for g in self._partition_groups(cluster, partition)]

    def offerings(self, resources: Resources) -> list[Offering]:
        cluster, partition = self._target(resources)
        if not cluster:
            return []
        groups = self._partition_groups(cluster, partition)
        return [rec.offering_of(cluster, g) for g in groups if not rec.missing(resources, g)]

    def unmet(self, resources: Resources) -> str:
        cluster, partition = self._target(resources)
        if not cluster:
            return ""
        groups = self._partition_groups(cluster, partition)
        reasons = [rec.missing(resources, g) for g in sorted(groups, key=rec.size_key(resources))]
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
    def launch(self, request: Launch) -> SlurmHandle:
        settings = self.settings(request.config)
        cluster, partition, gres = self.checked_target(request.task.resources, request.offering)
        conn = self.connection(cluster, settings)
        python = self.python_for(cluster, request.config)
        base = f"{conn.home()}/.jupyter_sky/slurm"
        opts = [f"--job-name=sky-{request.cluster}", f"--output={base}/%j.out"]
        opts += sbatch_options(request.task, partition, gres, self.entry(cluster, request.config))
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
        job_dir = f"{base}/{job}"
        handle = SlurmHandle(cluster, partition, job, job_dir, f"{job_dir}/kernel.json", python)
        try:
            return wait_running(conn, handle, self.notify)
        except BaseException:
            conn.run(f"scancel {shlex.quote(job)}", timeout=30)
            raise

    def _open_kernel(self, handle: SlurmHandle) -> NodeKernel:
        return node_kernel(self.connection(handle.cluster), handle)

    def connection_info(self, handle: SlurmHandle) -> dict[str, Any]:
        gone = (
            f"The kernel of Slurm job {handle.job} has no connection file any more "
            f"({handle.connection_file}); it has ended."
        )
        return self._kernels.local_info(_key(handle), lambda: self._open_kernel(handle), gone)

    def is_alive(self, handle: SlurmHandle) -> bool:
        return self._kernels.is_alive(_key(handle), lambda: self._open_kernel(handle))

    def _srun(self, handle: SlurmHandle, command: str) -> None:
        job = shlex.quote(handle.job)
        self._sh(handle.cluster, f"srun --jobid {job} --overlap -N1 -n1 {command}")

    def interrupt(self, handle: SlurmHandle) -> None:
        self._srun(handle, f"kill -INT {handle.pid}")

    def restart(self, handle: SlurmHandle, request: Launch) -> SlurmHandle:
        self._kernels.forget(_key(handle))
        conn = self.connection(handle.cluster)
        marker = shlex.quote(f"{handle.dir}/restart")
        self._sh(handle.cluster, f"touch {marker}")
        self._srun(handle, f"kill -TERM {handle.pid}")
        return wait_running(conn, replace(handle), self.notify, not_pid=handle.pid)

    def down(self, handle: SlurmHandle) -> None:
        key = _key(handle)
        self._kernels.forget(key)
        if not self._kernels.ended(key):
            self.connection(handle.cluster).run(f"scancel {shlex.quote(handle.job)}")
            self._kernels.mark_ended(key)

    def where(self, handle: SlurmHandle) -> str:
        text = f"slurm/{handle.cluster} job {handle.job} on {handle.node or '?'} pid {handle.pid}"
        if handle.ends_at:
            text += f" · {rec.time_left(handle.ends_at - time.time())} left"
        return text

    def exit_reason(self, handle: SlurmHandle) -> str:
        """Why the job's kernel ended: Slurm's verdict (time limit, scancel ...) or its own."""
        from jupyter_sky.infra.slurm.ending import exit_reason

        try:
            conn = self.connection(handle.cluster)
        except InfraError:
            return ""
        return exit_reason(conn, handle, EXIT_REASON_WAIT)


def _local_if_sbatch() -> str:
    """``local`` when Slurm's own commands are on this PATH (a notebook on a login node)."""
    return LOCAL if shutil.which("sbatch") else ""


def _key(handle: SlurmHandle) -> str:
    return f"{handle.cluster}:{handle.job}"
