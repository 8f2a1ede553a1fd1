"""``--workdir`` over SFTP: only files whose size or mtime changed are sent.

The remote listing is one ``find`` (one round trip, not a stat per file); sent files get the
local mtime, so an unchanged tree costs that round trip and a local walk. SFTP keeps whole
seconds only, so this process also remembers the exact (nanosecond) mtime of what it sent: a
file rewritten with the same size within the same second is sent again. Files deleted locally
are left on the host (a cell may have written results there).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_sky.errors import InfraError
from jupyter_sky.transport.ssh import SshConnection

if TYPE_CHECKING:
    from paramiko import SFTPClient

SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".mypy_cache", ".ruff_cache", ".venv"}
#: (host, remote dir) -> relative path -> the exact mtime (ns) of the version this process sent.
_SENT: dict[tuple[str, str], dict[str, int]] = {}


@dataclass
class SyncStats:
    """What one sync did."""

    sent: int = 0
    unchanged: int = 0
    bytes_sent: int = 0


def local_files(root: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (size, mtime ns)}`` under ``root``, skipping caches and VCS."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for name in filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            if stat.S_ISREG(st.st_mode):
                found[path.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return found


def remote_files(conn: SshConnection, remote: str) -> dict[str, tuple[int, int]]:
    """The same listing on the host (GNU find; an empty dict when ``remote`` is new)."""
    q = shlex.quote(remote)
    res = conn.run(f"mkdir -p {q} && cd {q} && find . -type f -printf '%P\\t%s\\t%T@\\n'")
    found = {}
    for line in res.out.splitlines():
        parts = line.rsplit("\t", 2)
        if len(parts) == 3:
            found[parts[0]] = (int(parts[1]), int(float(parts[2])))
    return found


def sync_dir(conn: SshConnection, local: Path, remote: str) -> SyncStats:
    """Make ``remote`` hold every file of ``local`` (changed ones sent, mtimes kept).

    Parameters
    ----------
    conn : SshConnection
        The host's connection.
    local : Path
        The notebook-side directory.
    remote : str
        An absolute directory on the host; created if missing.

    Returns
    -------
    SyncStats
        How many files were sent and how many were already there.
    """
    exact = local_files(local)
    theirs = remote_files(conn, remote)
    sent = _SENT.setdefault((conn.spec.name, remote), {})
    todo = [rel for rel, (size, ns) in sorted(exact.items())
            if theirs.get(rel) != (size, ns // 1_000_000_000) or sent.get(rel, ns) != ns]  # fmt: skip
    stats = SyncStats(unchanged=len(exact) - len(todo))
    with conn.lock:
        sftp = conn.sftp()
        made: set[str] = set()
        for rel in todo:
            _make_parents(sftp, remote, rel, made)
            size, ns = exact[rel]
            _send(conn, sftp, local / rel, f"{remote}/{rel}", ns // 1_000_000_000)
            sent[rel] = ns
            stats.sent += 1
            stats.bytes_sent += size
    return stats


def _send(conn: SshConnection, sftp: SFTPClient, source: Path, target: str, mtime: int) -> None:
    """Send one file under a temporary name and rename it into place, so a send that fails
    (the host's disk is full) leaves the host's old version whole; one sentence then."""
    part = f"{target}.jupyter-sky-part"
    try:
        sftp.put(str(source), part, confirm=True)  # a full disk can truncate it silently
        sftp.chmod(part, source.stat().st_mode & 0o777)
        sftp.utime(part, (mtime, mtime))
        sftp.posix_rename(part, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            sftp.remove(part)
        raise InfraError(
            f"--workdir: could not send {source.name} to {target} on SSH host "
            f"'{conn.spec.name}' ({_why(conn, target, exc)}); the cell did not run, and the "
            "host's files are as they were."
        ) from None


def _why(conn: SshConnection, target: str, exc: OSError) -> str:
    """``its disk is full`` when ``df`` on the host says so, else what SFTP said."""
    res = conn.run(f"df -Pk {shlex.quote(posixpath.dirname(target))} | tail -n 1", timeout=15)
    fields = res.out.split()
    if len(fields) >= 4 and fields[3].isdigit() and int(fields[3]) < 1024:
        return f"its disk is full: {fields[5] if len(fields) > 5 else 'the target'} has no room left"
    return str(exc) or type(exc).__name__


def _make_parents(sftp: object, remote: str, rel: str, made: set[str]) -> None:
    parts = rel.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        path = f"{remote}/{'/'.join(parts[:i])}"
        if path in made:
            continue
        with contextlib.suppress(OSError):  # exists already
            sftp.mkdir(path)  # type: ignore[attr-defined]
        made.add(path)
