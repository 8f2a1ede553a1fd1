"""Kernel channels only their owner can open: Unix sockets in a directory of mode 0700.

A kernel bound to loopback TCP ports can be subscribed to by any user of the machine: the
HMAC key signs messages, it does not hide them. Unix sockets are files, and a directory that
only its owner may enter keeps every other user (root aside) from connecting to them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from jupyter_sky.errors import InfraError

# sun_path holds 108 bytes; ipykernel appends "-<n>" to the prefix.
MAX_SOCKET_PATH = 100
TEMP_PREFIX = "jupyter-sky-"


def private_dir(path: Path) -> Path:
    """Create ``path`` if needed and make it ours alone (mode 0700).

    Parameters
    ----------
    path : Path
        A directory that will hold connection files or sockets.

    Returns
    -------
    Path
        ``path``, now of mode 0700.

    Raises
    ------
    InfraError
        If ``path`` belongs to another user, so its mode cannot be trusted.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.lstat().st_uid != os.getuid():
        raise InfraError(
            f"{path} belongs to another user, so its kernel channels would not be private; "
            "choose another JUPYTER_SKY_HOME."
        )
    os.chmod(path, 0o700)
    return path


def socket_prefix(cluster_dir: Path) -> Path:
    """Where a kernel's Unix sockets go: ``<prefix>-<n>`` for each channel.

    ``<cluster_dir>/k`` when that is short enough for a socket address, else a new
    directory of mode 0700 in the temporary directory (``mkdtemp`` creates it so).
    """
    prefix = private_dir(cluster_dir) / "k"
    if len(os.fsencode(prefix)) + 8 <= MAX_SOCKET_PATH:
        return prefix
    return Path(tempfile.mkdtemp(prefix=TEMP_PREFIX)) / "k"


def ipc_args(cluster_dir: Path) -> list[str]:
    """The kernel options that bind its channels to private Unix sockets."""
    return ["--transport", "ipc", "--ip", str(socket_prefix(cluster_dir))]


def remove_sockets(prefix: str) -> None:
    """Remove what a stopped kernel left of its sockets (and their temporary directory)."""
    if not prefix or not os.path.isabs(prefix):
        return  # a tcp kernel: "ip" is an address
    path = Path(prefix)
    for sock in path.parent.glob(f"{path.name}-*"):
        sock.unlink(missing_ok=True)
    if path.parent.name.startswith(TEMP_PREFIX):
        with contextlib.suppress(OSError):
            path.parent.rmdir()
