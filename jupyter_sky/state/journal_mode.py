"""Which journal the state database uses: WAL on a local disk, the rollback journal on a
network filesystem (WAL needs shared memory that NFS and its kin do not give)."""

from __future__ import annotations

import os
import re
from pathlib import Path

MOUNTS_FILE = Path("/proc/mounts")
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "smbfs", "fuse.sshfs", "beegfs", "ceph",
        "fuse.ceph", "cephfs", "glusterfs", "fuse.glusterfs", "9p", "afs", "panfs", "wekafs",
        "orangefs", "pvfs2", "fuse.s3fs", "fuse.gcsfuse", "fuse.juicefs", "fuse.rclone", "davfs",
    }
)  # fmt: skip


def filesystem_type(path: Path, mounts_text: str) -> str | None:
    """Return the filesystem type of ``path`` from ``/proc/mounts``-style text.

    Parameters
    ----------
    path : Path
        A file or directory; symlinks are resolved.
    mounts_text : str
        Lines of ``device mount_point fstype options ...``.

    Returns
    -------
    str or None
        The type of the longest mount point containing ``path`` (the last such line wins, as a
        later mount hides an earlier one), or None if no line matches.
    """
    target = os.path.realpath(path)
    best, best_type = "", None
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[1])
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, best_type = mount, parts[2]
    return best_type


def journal_mode_for(directory: Path, mounts_file: Path = MOUNTS_FILE) -> str:
    """Pick ``WAL`` for a local directory and ``DELETE`` for one on a network filesystem.

    Parameters
    ----------
    directory : Path
        Where the database lives.
    mounts_file : Path
        The mount table to read; tests pass a fake one.

    Returns
    -------
    str
        ``"WAL"`` or ``"DELETE"``; ``"WAL"`` when the mount table cannot be read.
    """
    try:
        text = mounts_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "WAL"
    fstype = filesystem_type(directory, text)
    return "DELETE" if fstype in NETWORK_FILESYSTEMS else "WAL"
