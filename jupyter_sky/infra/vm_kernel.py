"""What the cloud-VM infras (``aws``, ``gcp``, ``azure``) share: a VM per cluster whose kernel
runs over SSH through the ``ssh`` infra, a watcher on the VM that stops it once the kernel's
idle or autostop watchdog ended it, and the wait for the VM's sshd.

Each cloud says only what is its own: how a VM is made, stopped, started and released
(``launch``, ``stop``, ``start``, ``_release``), what its watcher runs (``_watcher``), and
what became of a VM (``status``). The kernel's half lives here once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.base import Handle, Infra, Launch

if TYPE_CHECKING:
    from jupyter_sky.infra.ssh import SshHandle, SshInfra
    from jupyter_sky.transport.ssh import SshConnection


class VmHandle(Handle):
    """The fields every VM handle dataclass declares (each cloud's handle lists them itself)."""

    address: str  # what this machine reaches over SSH
    login: str
    key: str  # the private key file
    known_hosts: str
    spot: bool
    ssh: dict[str, object]  # the ssh infra's handle of the kernel; {} before it starts

    @property
    def ssh_name(self) -> str:
        """The name the ssh infra knows this VM by (unique per VM)."""
        raise NotImplementedError


V = TypeVar("V", bound=VmHandle)
Notify = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


class VmOverSsh(Infra[V]):
    """A cloud VM per cluster, its kernel started, reached and ended through the ssh infra."""

    def __init__(self, notify: Notify | None = None) -> None:
        self.notify: Notify = notify or _print
        self._ssh: dict[tuple[str, str], SshInfra] = {}

    # ---- what each cloud says ----------------------------------------------------------------
    def _watcher(self, handle: V, kernel: SshHandle, request: Launch) -> str:
        """The shell line that starts the VM's self-stop watcher (:func:`selfstop_script`)."""
        raise NotImplementedError

    def _release(self, handle: V) -> None:
        """Delete the VM and whatever was made for it."""
        raise NotImplementedError

    # ---- the kernel --------------------------------------------------------------------------
    def _start_kernel(self, handle: V, request: Launch) -> V:
        ssh = self._ssh_infra(handle, request.notify)
        kernel = ssh.launch_on(handle.ssh_name, request, ssh.settings())
        started = dataclasses.replace(handle, **{"ssh": kernel.to_json()})  # VmHandle is no dataclass
        res = self._conn(started).run(self._watcher(started, kernel, request), timeout=30)
        if res.rc != 0:
            raise InfraError(f"the self-stop watcher did not start on {self.where(started)} ({res.last_line()}).")
        return started

    def restart(self, handle: V, request: Launch) -> V:
        with contextlib.suppress(InfraError):
            self._ssh_infra(handle).down(self._kernel(handle))
        return self._start_kernel(handle, request)

    def down(self, handle: V) -> None:
        if self._vm_running(handle):
            self._end_kernel(handle)
        else:  # reclaimed, deleted or stopped: an SSH to its kernel would only time out
            self._ssh.pop((handle.ssh_name, handle.address), None)
        self._release(handle)

    def _vm_running(self, handle: V) -> bool:
        """The cloud's own word on whether the VM runs (True when it cannot tell)."""
        return True

    def _end_kernel(self, handle: V) -> None:
        if handle.ssh:
            with contextlib.suppress(InfraError, OSError):
                self._ssh_infra(handle).down(self._kernel(handle))
        self._ssh.pop((handle.ssh_name, handle.address), None)

    def _ssh_infra(self, handle: V, notify: Notify | None = None) -> SshInfra:
        from jupyter_sky.infra.ssh import SshInfra
        from jupyter_sky.transport.hosts import SshSettings

        key = (handle.ssh_name, handle.address)
        if key not in self._ssh:
            host = {"hostname": handle.address, "user": handle.login, "identity_file": handle.key, "port": 22}
            settings = SshSettings(hosts={handle.ssh_name: host}, known_hosts=handle.known_hosts)
            self._ssh[key] = SshInfra(settings=settings, notify=notify or self.notify)
        elif notify is not None:
            self._ssh[key].notify = notify
        return self._ssh[key]

    def _kernel(self, handle: V) -> SshHandle:
        from jupyter_sky.infra.ssh import SshHandle

        if not handle.ssh:
            raise InfraError(f"no kernel was started on {self.where(handle)}.")
        return SshHandle.from_json(handle.ssh)

    def _conn(self, handle: V) -> SshConnection:
        from jupyter_sky.transport.hosts import resolve
        from jupyter_sky.transport.ssh import connection

        ssh = self._ssh_infra(handle)
        settings = ssh.settings()
        return connection(resolve(handle.ssh_name, settings), settings, ssh.notify)

    def connection_info(self, handle: V) -> dict[str, Any]:
        return self._ssh_infra(handle).connection_info(self._kernel(handle))

    def is_alive(self, handle: V) -> bool:
        try:
            return self._ssh_infra(handle).is_alive(self._kernel(handle))
        except InfraError:
            return False

    def interrupt(self, handle: V) -> None:
        self._ssh_infra(handle).interrupt(self._kernel(handle))

    def exit_reason(self, handle: V) -> str:
        """What the kernel's watchdog wrote when it ended it ("" when nothing or unreachable)."""
        if not handle.ssh:
            return ""
        try:
            return self._ssh_infra(handle).exit_reason(self._kernel(handle))
        except InfraError:
            return ""


def wait_ssh(address: str, deadline: float, cancelled: Callable[[], bool], gone: str) -> None:
    """Wait until ``address:22`` accepts a connection; InfraError (ending with ``gone``, what
    became of the VM) once ``deadline`` passes; KeyboardInterrupt once ``cancelled()``."""
    while True:
        try:
            with socket.create_connection((address, 22), timeout=2):
                return
        except OSError as exc:
            if cancelled():
                raise KeyboardInterrupt from None
            if time.monotonic() > deadline:
                raise InfraError(f"SSH on {address} never came up ({exc.strerror or exc}); {gone}.") from None
            time.sleep(0.2)


_SELFSTOP = r"""
P={pid}; F={exit_file}
while kill -0 "$P" 2>/dev/null; do sleep {poll}; done
[ -s "$F" ] || exit 0
R=$(head -c 200 "$F" | tr -d '\n')
env {env} {python} -m {module} {args} {reason} >> {log} 2>&1 || {fallback}
"""


def selfstop_script(
    kernel: SshHandle,
    module: str,
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    with_reason: bool = False,
    shutdown: bool = True,
) -> str:
    """A detached shell watcher on the VM: once the kernel ended with a reason in its exit
    file (the idle or autostop watchdog wrote it), it runs ``python -m module args`` (the
    cloud's own stop call; ``--reason`` too when ``with_reason``), else — when ``shutdown`` —
    powers the VM off with ``shutdown`` (instance-initiated behaviour)."""
    q = shlex.quote
    poll = max(0.2, min(5.0, float(os.environ.get("JUPYTER_SKY_WATCHDOG_INTERVAL", "10")) / 2))
    body = _SELFSTOP.format(
        pid=int(kernel.pid), exit_file=q(f"{kernel.cluster_dir}/exit.txt"), poll=f"{poll:g}",
        python=q(kernel.python), env=" ".join(q(f"{k}={v}") for k, v in env.items()), module=module,
        args=" ".join(q(a) for a in args), reason='--reason "$R"' if with_reason else "",
        log=q(f"{kernel.cluster_dir}/selfstop.log"), fallback="sudo -n shutdown -h now" if shutdown else "exit 1",
    )  # fmt: skip
    return f"S=$(command -v setsid || true); nohup $S sh -c {q(body)} > /dev/null 2>&1 < /dev/null &"
