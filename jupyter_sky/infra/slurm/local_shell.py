"""The login host is this machine: a Slurm cluster whose ``sbatch`` is on this PATH.

:class:`LocalShell` has the members of :class:`~jupyter_sky.transport.ssh.SshConnection` the
slurm infra uses — ``run``, ``open_channel``, ``sftp``, ``lock``, ``home`` — done locally:
commands through ``sh -c``, files through the filesystem (the nodes share it), and a kernel's
ports reached with plain TCP connections to the compute node's cluster address.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_sky.errors import InfraError
from jupyter_sky.transport.hosts import HostSpec
from jupyter_sky.transport.ssh import Result, SshConnection

NAME = "local"  # slurm/local, or `login: local` in a slurm.clusters entry


class LocalShell(SshConnection):
    """This machine as a cluster's login host (an SshConnection in name only: no SSH)."""

    def __init__(self) -> None:  # noqa: D107 - nothing of SshConnection's state is needed
        self.spec = HostSpec(name=NAME, hostname="localhost")
        self.notify = print
        self._lock = threading.RLock()
        self._files = LocalFiles()

    def run(self, command: str, timeout: float = 60.0, stdin: bytes | None = None) -> Result:
        """Run ``command`` with ``sh -c`` here; stdout is read to its end."""
        try:
            done = subprocess.run(
                ["sh", "-c", command], input=stdin or b"", capture_output=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise InfraError(
                f"A command on this machine did not finish within {timeout:g} s."
            ) from None
        out, err = (b.decode(errors="replace") for b in (done.stdout, done.stderr))
        return Result(done.returncode, out, err)

    def open_channel(self, dest: tuple[str, int], src: Any = None) -> Any:
        """A TCP connection to ``dest`` (a compute node's address and a kernel port)."""
        sock = socket.create_connection(dest, timeout=15)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def sftp(self) -> Any:
        return self._files

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def connected(self) -> bool:
        return True

    def home(self) -> str:
        return str(Path.home())

    def close(self) -> None:
        """Nothing to close."""


class LocalFiles:
    """The few SFTP calls the infras make, on the local filesystem."""

    def open(self, path: str, mode: str = "r") -> _File:
        return _File(open(path, mode.replace("b", "") + "b"))  # noqa: SIM115 - closed by _File

    def normalize(self, path: str) -> str:
        return str(Path(path).expanduser().resolve())

    def put(self, local: str, remote: str, confirm: bool = True) -> None:
        shutil.copyfile(local, remote)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def utime(self, path: str, times: tuple[float, float]) -> None:
        os.utime(path, times)

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        os.mkdir(path, mode)

    def listdir_attr(self, path: str) -> list[Any]:
        return [_Attr(e.name, e.stat().st_size) for e in os.scandir(path)]

    def posix_rename(self, old: str, new: str) -> None:
        os.replace(old, new)


@dataclass(frozen=True)
class _Attr:  # what listdir_attr's entries are asked for
    filename: str
    st_size: int


class _File:
    """A local binary file that also takes SFTP's ``prefetch()`` (a no-op here)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def prefetch(self, *args: Any) -> None:
        """Nothing to pipeline on a local disk."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _File:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._fh.close()


_shell: LocalShell | None = None


def local_shell() -> LocalShell:
    """The one LocalShell of this process."""
    global _shell
    if _shell is None:
        _shell = LocalShell()
    return _shell
