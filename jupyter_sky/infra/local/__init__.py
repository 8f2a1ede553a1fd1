"""The ``local`` infra: a kernel process on this machine. No credentials, no network —
the embedded default, and the reference every other infra must match."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jupyter_sky.config_sections import optional_text
from jupyter_sky.errors import InfraError
from jupyter_sky.infra.base import Handle, Infra, Launch, checked, gpu_name
from jupyter_sky.kernel.private import ipc_args, private_dir, remove_sockets
from jupyter_sky.offering import Offering, fits

if TYPE_CHECKING:
    from jupyter_sky.spec.task import Resources

START_TIMEOUT = 60.0


@functools.lru_cache(maxsize=1)
def machine() -> Offering:
    """This machine's CPUs, memory and GPUs (``nvidia-smi`` when it is on PATH)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpus = _nvidia_gpus()
    name = gpus[0] if gpus else None
    return Offering(
        infra="local",
        region=socket.gethostname(),
        instance_type="this machine",
        vcpus=float(cpus or 1),
        memory_gb=_memory_gb(),
        accelerator=name,
        accelerator_count=len(gpus),
    )


def _memory_gb() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def _nvidia_gpus() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [gpu_name(line) for line in out.splitlines() if line.strip()]


@dataclass(frozen=True)
class LocalConfig:
    """``local:`` — settings of the ``local`` infra."""

    # Interpreter that runs local remote kernels; null means the notebook's own interpreter.
    python: str = field(default_factory=lambda: sys.executable, metadata=checked(optional_text))


@dataclass
class LocalHandle(Handle):
    """A kernel process on this machine."""

    pid: int
    connection_file: str
    cluster_dir: str
    host: str
    ip: str = "127.0.0.1"


class LocalInfra(Infra[LocalHandle]):
    """Kernels as detached processes on this machine, one per cluster name."""

    kind: ClassVar[str] = "local"
    handle_type: ClassVar[type[Handle]] = LocalHandle
    config_section: ClassVar[type | None] = LocalConfig
    path_shape: ClassVar[str] = "local"
    opens_ports: ClassVar[bool] = True  # a port on this machine is already open to it
    same_host: ClassVar[bool] = True

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def check(self) -> str:
        return ""

    def live(self) -> list[Offering]:
        return [machine()]

    def offerings(self, resources: Resources) -> list[Offering]:
        return [] if self.unmet(resources) else [machine()]

    def unmet(self, resources: Resources) -> str:
        here = machine()
        missing = fits(here, resources)
        if not missing:
            return ""
        return f"This cell asks for {resources.describe()}, but the local machine {missing}."

    # ---- lifecycle -------------------------------------------------------------------
    def launch(self, request: Launch) -> LocalHandle:
        from jupyter_sky.config import sky_home

        cluster_dir = private_dir(sky_home() / "clusters" / request.cluster)
        conn = cluster_dir / "kernel.json"
        for stale in (conn, cluster_dir / "exit.txt"):
            stale.unlink(missing_ok=True)
        proc = self._spawn(request, cluster_dir, conn)
        try:
            info = _wait_for_connection_file(conn, proc, cluster_dir / "kernel.log")
        except BaseException:  # Ctrl-C while it starts: no kernel is left behind
            proc.kill()
            raise
        return LocalHandle(proc.pid, str(conn), str(cluster_dir), socket.gethostname(), info["ip"])

    def _spawn(self, request: Launch, cluster_dir: Path, conn: Path) -> subprocess.Popen[bytes]:
        task, config = request.task, request.config
        python = config.of(LocalConfig).python or sys.executable
        argv = [python, "-m", "jupyter_sky.remote.kernel", "-f", str(conn)]
        argv += ipc_args(cluster_dir)  # channels other users cannot open (kernel/private.py)
        argv += ["--idle-minutes", str(config.defaults.idle_minutes)]
        autostop = task.autostop_minutes or config.defaults.autostop_minutes
        if autostop:
            argv += ["--autostop-minutes", str(autostop)]
        env = {
            **os.environ,
            **task.envs,
            "JUPYTER_SKY_EXIT_FILE": str(cluster_dir / "exit.txt"),
            # Where am I? Readable from inside the cell, e.g. to log it with results.
            "JUPYTER_SKY_INFRA": self.kind,
            "JUPYTER_SKY_CLUSTER": request.cluster,
        }
        env.pop("JPY_PARENT_PID", None)
        cwd = task.workdir or os.getcwd()
        with open(cluster_dir / "kernel.log", "ab") as log:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:  # local.python names nothing runnable
                raise InfraError(
                    f"local.python is {python}, which cannot be run ({exc.strerror}); fix it "
                    "in your config, or remove it to use the notebook's own Python."
                ) from None
        self._children[proc.pid] = proc
        return proc

    def connection_info(self, handle: LocalHandle) -> dict[str, Any]:
        with open(handle.connection_file) as fh:
            return json.load(fh)  # type: ignore[no-any-return]

    def is_alive(self, handle: LocalHandle) -> bool:
        child = self._children.get(handle.pid)
        if child is not None:
            return child.poll() is None
        return _pid_runs(handle.pid, handle.connection_file)

    def interrupt(self, handle: LocalHandle) -> None:
        _signal(handle.pid, signal.SIGINT)

    def restart(self, handle: LocalHandle, request: Launch) -> LocalHandle:
        self.down(handle)
        return self.launch(request)

    def down(self, handle: LocalHandle) -> None:
        pid = handle.pid
        if self.is_alive(handle):
            _say_taken_down(Path(handle.cluster_dir) / "exit.txt")
            _signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + 3
            while self.is_alive(handle) and time.monotonic() < deadline:
                time.sleep(0.02)
            if self.is_alive(handle):
                _signal(pid, signal.SIGKILL)
        child = self._children.pop(pid, None)
        if child is not None:
            child.wait(5)
        Path(handle.connection_file).unlink(missing_ok=True)
        remove_sockets(handle.ip)

    def where(self, handle: LocalHandle) -> str:
        return f"{self.kind} pid {handle.pid} on {handle.host}"

    def exit_reason(self, handle: LocalHandle) -> str:
        path = Path(handle.cluster_dir) / "exit.txt"
        try:
            return path.read_text().strip()
        except OSError:
            return ""


def _wait_for_connection_file(conn: Path, proc: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            info = json.loads(conn.read_text())
            if info.get("shell_port"):
                return info  # type: ignore[no-any-return]
        except (OSError, ValueError):
            pass
        if proc.poll() is not None:
            raise InfraError(f"The local kernel exited while starting: {_last_line(log)}.")
        time.sleep(0.005)
    proc.kill()
    raise InfraError(f"The local kernel did not start within {START_TIMEOUT:g} s; see {log}.")


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    if not lines and _free_bytes(log.parent) < 1 << 20:  # not even the log could be written
        return f"the disk of {log.parent} is full"
    return lines[-1].strip() if lines else "no output"


def _free_bytes(directory: Path) -> int:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return 1 << 30  # cannot tell: not said to be full


def _pid_runs(pid: int, marker: str) -> bool:
    # The pid alone could have been reused; the kernel's command line names its file.
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return marker.encode() in cmdline and state != "Z"


def _say_taken_down(exit_file: Path) -> None:
    """Leave the reason a cell still running on the kernel (another notebook's) is told."""
    from jupyter_sky.transport.remote_kernel import TAKEN_DOWN

    if not exit_file.exists():
        with contextlib.suppress(OSError):
            exit_file.write_text(TAKEN_DOWN + "\n")


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
