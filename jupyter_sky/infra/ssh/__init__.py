"""The ``ssh`` infra: a warm kernel on a machine reached over SSH (``--infra ssh/<host>``).

The host is an ``~/.ssh/config`` alias, an entry of the ``ssh:`` config section, a pool of
them, or ``[user@]host[:port]``. The kernel binds to the host's 127.0.0.1; its five ports are
reached through local forwards over one reused SSH connection (see
:mod:`jupyter_sky.transport`), so the client connects to 127.0.0.1 here as for ``local``.

After a dropped connection the forwards log in again on their own, and output published
meanwhile is sent again: the kernel numbers its messages (``JUPYTER_SKY_REPLAY=1``, see
:mod:`jupyter_sky.remote.numbering` and :mod:`jupyter_sky.kernel.replay`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jupyter_sky.errors import InfraError, SpecError
from jupyter_sky.infra.base import Handle, InfraPath, Launch, gpu_name
from jupyter_sky.infra.over_ssh import OverSsh, SshConfig, kernel_args, kernel_env
from jupyter_sky.offering import Offering, fits
from jupyter_sky.transport.kernels import KernelCache

if TYPE_CHECKING:
    from jupyter_sky.spec.task import Resources
    from jupyter_sky.transport.hosts import HostSpec, SshSettings
    from jupyter_sky.transport.remote_kernel import RemoteKernel
    from jupyter_sky.transport.ssh import SshConnection

# Probe of a host for offerings: CPUs, memory (kB), hostname, GPU names (if nvidia-smi).
_FACTS = (
    "nproc; awk '/^MemTotal:/ {print $2}' /proc/meminfo; hostname; "
    "nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || true"
)


def _print(line: str) -> None:
    print(line, flush=True)


@dataclass
class SshHandle(Handle):
    """A kernel on an SSH host."""

    host: str
    pid: int
    connection_file: str
    cluster_dir: str
    workdir: str  # where --workdir trees are synced to
    python: str


class SshInfra(OverSsh[SshHandle]):
    """Kernels on SSH hosts, one per cluster name.

    Parameters
    ----------
    settings : SshSettings or mapping, optional
        The ``ssh:`` section to use instead of the config files (tests, other infras).
    default_host : str, optional
        The host for cells whose ``--infra`` is just ``ssh``.
    notify : callable, optional
        Receives one-line reports (host key pinned, bootstrap progress); default print.
    """

    kind: ClassVar[str] = "ssh"
    extra: ClassVar[str] = "ssh"
    handle_type: ClassVar[type[Handle]] = SshHandle
    config_section: ClassVar[type | None] = SshConfig
    path_shape: ClassVar[str] = "ssh/<host-or-pool>"
    sdk_modules: ClassVar[tuple[str, ...]] = ("paramiko",)

    @classmethod
    def parse_path(cls, rest: str) -> InfraPath:
        if not re.fullmatch(r"[\w.@:-]+", rest):
            raise SpecError(f"must be ssh/<host>, not 'ssh{'/' + rest if rest else ''}'.")
        return InfraPath(f"ssh/{rest}", target=rest)

    def __init__(
        self,
        settings: SshSettings | dict[str, Any] | None = None,
        default_host: str | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self.default_host = default_host
        self.notify = notify or _print
        self._kernels = KernelCache()
        self._facts: dict[str, Offering] = {}

    # ---- where ----------------------------------------------------------------------
    def _target(self, resources: Resources | None, offering: Offering | None = None) -> str:
        """The host or pool a request names ("" when it names none)."""
        from jupyter_sky.infra import split_infra

        kind, rest = split_infra((resources.infra if resources else None) or "")
        if kind == "ssh" and rest:
            return rest
        if offering is not None and offering.infra == "ssh":
            return offering.region  # the planner's pick among the hosts
        return self.default_host or ""

    def _spec(self, host: str, settings: SshSettings) -> HostSpec:
        from jupyter_sky.transport.hosts import resolve

        return resolve(host, settings)

    def _conn(self, host: str, settings: SshSettings | None = None) -> SshConnection:
        from jupyter_sky.transport.ssh import connection

        settings = settings or self.settings()
        return connection(self._spec(host, settings), settings, self.notify)

    # ---- what it can run ------------------------------------------------------------
    def check(self) -> str:
        if importlib.util.find_spec("paramiko") is None:
            return "The ssh infra needs paramiko, which is not installed; run pip install 'jupyter-sky[ssh]'."
        return ""

    def live(self) -> list[Offering]:
        """The hosts of the ``ssh:`` section (probed in parallel, unreachable ones left out)
        and any other host this process has already looked at."""
        from concurrent.futures import ThreadPoolExecutor

        settings = self.settings()
        named = {h for members in settings.pools.values() for h in members} | set(settings.hosts)
        todo = sorted(named - set(self._facts))
        if todo:
            with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
                list(pool.map(lambda h: self._try_offering(h, settings), todo))
        return list(self._facts.values())

    def _try_offering(self, host: str, settings: SshSettings) -> None:
        # An unreachable host is not an offering; launching there says why.
        with contextlib.suppress(InfraError):
            self._offering(host, settings)

    def offerings(self, resources: Resources) -> list[Offering]:
        return [o for o in self._host_offerings(resources) if not fits(o, resources)]

    def unmet(self, resources: Resources) -> str:
        offers = self._host_offerings(resources)
        reasons = [fits(o, resources) for o in offers]
        if not offers or "" in reasons:
            return ""  # no host named (a warm cluster's own, or the plan picks): nothing to judge
        host = offers[0].region
        return f"This cell asks for {resources.describe()}, but SSH host {host} {reasons[0]}."

    def _host_offerings(self, resources: Resources) -> list[Offering]:
        from jupyter_sky.transport.hosts import pool_members

        target = self._target(resources)
        if not target:
            return self.live()
        settings = self.settings()
        return [self._offering(h, settings) for h in pool_members(target, settings)]

    def _offering(self, host: str, settings: SshSettings) -> Offering:
        if host not in self._facts:
            res = self._conn(host, settings).run(_FACTS, timeout=30)
            lines = res.out.splitlines()
            gpus = [gpu_name(line) for line in lines[3:] if line.strip()]
            self._facts[host] = Offering(
                infra="ssh",
                region=host,
                instance_type=lines[2].strip() if len(lines) > 2 else host,
                vcpus=float(lines[0]) if lines and lines[0].strip().isdigit() else 1.0,
                memory_gb=round(int(lines[1]) / 1024 / 1024, 1) if len(lines) > 1 else 0.0,
                accelerator=gpus[0] if gpus else None,
                accelerator_count=len(gpus),
            )
        return self._facts[host]

    # ---- lifecycle -------------------------------------------------------------------
    def launch(self, request: Launch) -> SshHandle:
        from jupyter_sky.transport.hosts import pool_members

        settings = self.settings(request.config)
        target = self._target(request.task.resources, request.offering)
        if not target:
            raise InfraError(
                "Name the SSH host as --infra ssh/<host>: an alias from ~/.ssh/config, "
                "a host or pool of the ssh: config section, or user@host:port."
            )
        hosts = pool_members(target, settings)
        if len(hosts) == 1:
            return self.launch_on(hosts[0], request, settings)
        fitting = [h for h in hosts if self._fits(h, request.task.resources, settings)]
        if not fitting:
            raise InfraError(f"No reachable host of SSH pool '{target}' fits this cell.")
        for host in fitting[:-1]:
            try:
                return self.launch_on(host, request, settings)
            except InfraError as exc:
                self.notify(f"ssh/{host}: {exc} Trying the next host of the pool.")
        return self.launch_on(fitting[-1], request, settings)

    def _fits(self, host: str, resources: Resources, settings: SshSettings) -> bool:
        try:
            return not fits(self._offering(host, settings), resources)
        except InfraError as exc:
            self.notify(f"ssh/{host}: {exc}")
            return False

    def launch_on(self, host: str, request: Launch, settings: SshSettings) -> SshHandle:
        """Start the kernel on ``host`` (a name ``settings`` resolves): the ssh infra's own
        launch, and how a cloud infra starts the kernel on the VM it created."""
        from jupyter_sky.transport.bootstrap import ensure_python
        from jupyter_sky.transport.remote_kernel import RemoteKernel, start_kernel

        spec = self._spec(host, settings)
        conn = self._conn(host, settings)
        python = ensure_python(conn, spec, self.notify)
        name = f"{request.cluster}-{_client_tag()}"
        cluster_dir = f"{conn.home()}/.jupyter_sky/clusters/{name}"
        workdir = f"{conn.home()}/.jupyter_sky/workdirs/{name}"
        cwd = conn.home()
        if request.task.workdir:
            cwd = workdir
            self._sync(conn, Path(request.task.workdir), workdir)
        pid, info = start_kernel(
            conn, python, cluster_dir, cwd, kernel_args(request), _env(request, cluster_dir)
        )
        handle = SshHandle(host, pid, f"{cluster_dir}/kernel.json", cluster_dir, workdir, python)
        self._kernels.put(_key(handle), RemoteKernel(conn, pid, handle.connection_file, info))
        return handle

    def _sync(self, conn: SshConnection, local: Path, remote: str) -> None:
        from jupyter_sky.transport.sync import sync_dir

        stats = sync_dir(conn, local, remote)
        if stats.sent:
            mb = stats.bytes_sent / 1e6
            self.notify(
                f"ssh/{conn.spec.name}: workdir: sent {stats.sent} changed files ({mb:.1f} MB)"
            )

    def sync_workdir(self, handle: SshHandle, local_dir: str) -> str:
        """Send what changed in ``local_dir`` to the host (before a ``--workdir`` cell).

        Parameters
        ----------
        handle : SshHandle
            The cluster's handle.
        local_dir : str
            The notebook-side ``--workdir``.

        Returns
        -------
        str
            The directory on the host that mirrors it: the cell's working directory there.
        """
        kernel = self._kernel(handle)
        self._sync(kernel.conn, Path(local_dir), handle.workdir)
        return handle.workdir

    def _kernel(self, handle: SshHandle) -> RemoteKernel:
        """This process's view of the handle's kernel (another kernel may have started it)."""
        return self._kernels.get(_key(handle), lambda: self._open_kernel(handle))

    def _open_kernel(self, handle: SshHandle) -> RemoteKernel:
        from jupyter_sky.transport.remote_kernel import RemoteKernel, kernel_running

        conn = self._conn(handle.host)
        with conn.lock, conn.sftp().open(handle.connection_file) as fh:
            info = json.loads(fh.read())
        kernel = RemoteKernel(conn, handle.pid, handle.connection_file, info)
        kernel.alive = kernel_running(conn, kernel.pid, kernel.conn_file)
        return kernel

    def connection_info(self, handle: SshHandle) -> dict[str, Any]:
        gone = (
            f"The kernel of SSH host '{handle.host}' has no connection file any more "
            f"({handle.connection_file}); it has ended."
        )
        return self._kernels.local_info(_key(handle), lambda: self._open_kernel(handle), gone)

    def is_alive(self, handle: SshHandle) -> bool:
        return self._kernels.is_alive(_key(handle), lambda: self._open_kernel(handle))

    def interrupt(self, handle: SshHandle) -> None:
        from jupyter_sky.transport.remote_kernel import signal_kernel

        signal_kernel(self._kernel(handle).conn, handle.pid, "INT")

    def restart(self, handle: SshHandle, request: Launch) -> SshHandle:
        self.down(handle)
        return self.launch_on(handle.host, request, self.settings(request.config))

    def down(self, handle: SshHandle) -> None:
        from jupyter_sky.transport.remote_kernel import stop_kernel

        key = _key(handle)
        kernel = self._kernels.forget(key)
        if not self._kernels.ended(key):
            conn = kernel.conn if kernel is not None else self._conn(handle.host)
            stop_kernel(conn, handle.pid, handle.connection_file)
            self._kernels.mark_ended(key)

    def where(self, handle: SshHandle) -> str:
        return f"ssh/{handle.host} pid {handle.pid}"

    def exit_reason(self, handle: SshHandle) -> str:
        try:
            conn = self._conn(handle.host)
            res = conn.run(f"cat {handle.cluster_dir}/exit.txt 2>/dev/null", timeout=15)
        except InfraError:
            return ""
        return res.out.strip()


def _key(handle: SshHandle) -> str:
    return f"{handle.host}:{handle.pid}:{handle.connection_file}"


def _client_tag() -> str:
    # Kernels of different notebook machines (or homes) on one host account never collide.
    from jupyter_sky.config import sky_home

    return hashlib.sha256(f"{socket.gethostname()}:{sky_home()}".encode()).hexdigest()[:8]


def _env(request: Launch, cluster_dir: str) -> dict[str, str]:
    return kernel_env(request, "ssh", JUPYTER_SKY_EXIT_FILE=f"{cluster_dir}/exit.txt")
