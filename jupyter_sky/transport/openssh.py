"""Reuse a live OpenSSH ControlMaster instead of logging in again (MFA hosts).

When a host has a ``ControlPath`` (in the ssh config, or ``control_path:`` in its ``ssh:``
entry) and ``ssh -O check`` finds a master on it, :class:`MuxConnection` does everything
through that master with the system ``ssh`` binary: commands with ``ssh -S <path> <host> --
<cmd>``, channels with ``ssh -W``, SFTP with ``ssh -s ... sftp``. No new login happens, so no
MFA prompt; private keys are neither read nor copied. OpenSSH itself expands the path's
``%`` tokens (``ssh -G``), so the path is exactly the one the user's ``ssh`` uses.

Every client runs with ``ProxyCommand=false``: if the master is gone, ``ssh`` cannot quietly
fall back to a login of its own. The next operation then raises one sentence saying so;
there is no fallback to a paramiko login, because a host reached through a master usually
cannot be logged into without the user (that is why the master exists). Once the user logs in
again (same path), the same connection works again.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import subprocess
import time
from typing import Any, NoReturn

from jupyter_sky.errors import InfraError
from jupyter_sky.transport.hosts import HostSpec, SshSettings
from jupyter_sky.transport.ssh import CONNECT_TIMEOUT, Notify, Result, SshConnection

CHECK_SECONDS = 5.0  # a master seen alive this recently is not asked again by check()
# Options of every client of the master: never become a master, never ask anything, and
# never log in on its own when the master is gone.
CLIENT_OPTIONS = (
    "-o", "ControlMaster=no",
    "-o", "BatchMode=yes",
    "-o", "ProxyCommand=false",
    "-o", "LogLevel=ERROR",
    "-T",
)  # fmt: skip


def parse_ssh_g(text: str) -> dict[str, str]:
    """``ssh -G`` output as ``{option: value}`` (lower-case names, first value kept).

    Parameters
    ----------
    text : str
        What ``ssh -G <host>`` printed: one ``name value`` pair per line.

    Returns
    -------
    dict
        E.g. ``{"hostname": "10.0.0.5", "controlpath": "/home/me/.ssh/cm-...", ...}``.
    """
    found: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.strip().partition(" ")
        if name:
            found.setdefault(name.lower(), value.strip())
    return found


def control_path(spec: HostSpec, settings: SshSettings) -> str:
    """The ControlPath OpenSSH uses for ``spec``, with its tokens expanded by ``ssh -G``.

    Parameters
    ----------
    spec : HostSpec
        The resolved host; nothing is asked when it has no ``control_path``.
    settings : SshSettings
        Which ssh config file to read, and the host's ``ssh:`` entry.

    Returns
    -------
    str
        The socket's path, or "" (no ControlPath, ``none``, no ``ssh`` binary, ``ssh -G``
        failed).
    """
    ssh = shutil.which("ssh")
    if not spec.control_path or ssh is None:
        return ""
    config = settings.ssh_config_path()
    alias = spec.name.rpartition("@")[2].partition(":")[0]
    argv = [ssh, "-G", "-F", str(config) if config else os.devnull]
    argv += ["-o", f"HostName={spec.hostname}", "-p", str(spec.port), "-l", spec.user]
    entry = settings.hosts.get(alias, {}).get("control_path")
    if entry:
        argv += ["-o", f"ControlPath={entry}"]
    try:
        proc = subprocess.run(argv + [alias], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    path = parse_ssh_g(proc.stdout).get("controlpath", "") if proc.returncode == 0 else ""
    return "" if path.lower() == "none" else path


def master_alive(path: str) -> bool:
    """Does ``ssh -O check`` find a running master on the socket ``path``?"""
    ssh = shutil.which("ssh")
    if ssh is None or not os.path.exists(path):
        return False
    argv = [ssh, "-F", os.devnull, "-S", path, "-O", "check", "jupyter-sky"]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def live_master(spec: HostSpec, settings: SshSettings) -> str:
    """The path of a live OpenSSH master for ``spec``, or "" when there is none."""
    path = control_path(spec, settings)
    return path if path and master_alive(path) else ""


class SshPipe:
    """An ``ssh`` process seen as a socket: its stdin and stdout are the other end of a
    ``socketpair``. Enough of a socket for ``select()``, the forward pump, paramiko's
    ``SFTPClient`` and a paramiko ``Transport`` (a ProxyJump through a master)."""

    def __init__(self, argv: list[str]) -> None:
        mine, theirs = socket.socketpair()
        try:
            # Its own session: a Ctrl-C sent to the notebook's process group spares it.
            self.proc = subprocess.Popen(
                argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        self.sock = mine

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self, size: int) -> bytes:
        return self.sock.recv(size)

    def send(self, data: bytes) -> int:
        return self.sock.send(data)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_ready(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self.sock.gettimeout()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def get_name(self) -> str:
        return f"ssh pid {self.proc.pid}"

    @property
    def _closed(self) -> bool:  # paramiko's Transport looks at it (ProxyJump through a master)
        return self.sock.fileno() == -1

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class MuxConnection(SshConnection):
    """A host reached through the user's OpenSSH master at ``path``: same interface as
    :class:`~jupyter_sky.transport.ssh.SshConnection`, no login of its own."""

    def __init__(self, spec: HostSpec, settings: SshSettings, notify: Notify, path: str) -> None:
        super().__init__(spec, settings, notify)
        self.control_path = path
        self._ssh = shutil.which("ssh") or "ssh"
        self._sftp_pipe: SshPipe | None = None
        self._seen_alive = 0.0

    def _argv(self, *args: str) -> list[str]:
        return [self._ssh, "-F", os.devnull, "-S", self.control_path, *CLIENT_OPTIONS, *args]

    def gone(self) -> InfraError:
        """The one-sentence error for a master that went away."""
        name = self.spec.name
        return InfraError(
            f"The OpenSSH master connection for '{name}' ({self.control_path}) is gone; "
            f"log in again with `ssh -fNM {name}` or remove its ControlPath."
        )

    def check(self) -> None:
        """Raise :meth:`gone` unless the master answers (a recent answer is trusted)."""
        if time.monotonic() - self._seen_alive < CHECK_SECONDS:
            return
        if not master_alive(self.control_path):
            self._seen_alive = 0.0
            raise self.gone()
        self._seen_alive = time.monotonic()
        self._ever_connected = True

    def transport(self) -> NoReturn:
        raise InfraError(
            f"SSH host '{self.spec.name}' is reached through the OpenSSH master at "
            f"{self.control_path}, which has no paramiko transport."
        )

    @property
    def connected(self) -> bool:
        return master_alive(self.control_path)

    def run(self, command: str, timeout: float = 60.0, stdin: bytes | None = None) -> Result:
        """Run ``command`` through the master (the login shell's ``-c``, as with paramiko)."""
        feed: dict[str, Any] = (
            {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
        )
        try:
            proc = subprocess.run(
                self._argv(self.spec.hostname, "--", command),
                capture_output=True, timeout=timeout, start_new_session=True, **feed,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise InfraError(
                f"A command on SSH host '{self.spec.name}' did not finish within {timeout:g} s."
            ) from None
        if proc.returncode == 255 and not master_alive(self.control_path):
            raise self.gone()
        return Result(proc.returncode, proc.stdout.decode(errors="replace"),
                      proc.stderr.decode(errors="replace"))  # fmt: skip

    def open_channel(self, dest: tuple[str, int], src: tuple[str, int] = ("127.0.0.1", 0)) -> Any:
        """A socket-like channel to ``dest`` as seen from the host (``ssh -W``)."""
        if not os.path.exists(self.control_path):
            raise self.gone()
        host, port = dest
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return SshPipe(self._argv("-W", where, self.spec.hostname))

    def sftp(self) -> Any:
        """An SFTP client over ``ssh -s ... sftp`` (one per connection; callers hold
        :attr:`lock`), restarted when its ``ssh`` process ended."""
        import paramiko

        with self._lock:
            if self._sftp is not None and self._sftp_pipe is not None and self._sftp_pipe.running:
                return self._sftp
            self._close_sftp()
            self._seen_alive = 0.0
            self.check()
            pipe = SshPipe(self._argv("-s", self.spec.hostname, "sftp"))
            pipe.settimeout(CONNECT_TIMEOUT)
            try:
                client = paramiko.SFTPClient(pipe)
            except (paramiko.SSHException, EOFError, OSError):
                pipe.close()
                if not master_alive(self.control_path):
                    raise self.gone() from None
                raise InfraError(
                    f"SSH host '{self.spec.name}' did not start its sftp subsystem through "
                    f"the OpenSSH master at {self.control_path}."
                ) from None
            pipe.settimeout(None)
            self._sftp, self._sftp_pipe = client, pipe
            return client

    def _close_sftp(self) -> None:
        if self._sftp_pipe is not None:
            self._sftp_pipe.close()
        self._sftp = self._sftp_pipe = None

    def close(self) -> None:
        """Stop this connection's own ``ssh`` processes; the user's master is left alone."""
        with self._lock:
            self._close_sftp()
            self._ever_connected = False
            self._seen_alive = 0.0
