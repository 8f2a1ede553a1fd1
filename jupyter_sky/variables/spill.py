"""Same-host transfers skip the socket.

When the remote kernel runs on this machine as this user (an infra with ``same_host``, such
as ``local``), each big out-of-band buffer of a pushed or pulled value is written to a 0600
file in a 0700 directory of the notebook's own (on tmpfs when it has room), and only the
file's name travels in the message. The receiver maps the file copy-on-write (the array it
rebuilds is writable and shares the pages) and unlinks it at once; the sender removes what
a receiver that died never took. A file that cannot be written (no room) goes through the
socket as before.

A receiver takes only names inside the directory it was given: a kernel can never make the
notebook read or unlink any other file.
"""

from __future__ import annotations

import atexit
import contextlib
import mmap
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

SPILL_MIN = 4 * 1024 * 1024  # smaller buffers are cheaper through the socket
_NAME = re.compile(r"^b-[0-9a-f]{16}$")
_dir: Path | None = None


def directory() -> Path:
    """This process's spill directory (0700), made once and removed when the process exits."""
    global _dir
    if _dir is None or not _dir.is_dir():
        base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        _dir = Path(tempfile.mkdtemp(prefix="jupyter-sky-spill-", dir=base))
        atexit.register(shutil.rmtree, _dir, True)
    return _dir


def out(items: list[dict[str, Any]], frames: list[Any], where: Path) -> list[Path]:
    """Write the big buffers of ``items`` (whose frames follow one another in ``frames``) to
    files in ``where``; each such frame becomes empty and its item lists the file under
    ``"spilled"`` (frame index -> name). Returns the files written."""
    written: list[Path] = []
    offset = 0
    for item in items:
        count = int(item.get("nframes", 0))
        for index in range(count):
            frame = frames[offset + index]
            size = memoryview(frame).nbytes
            if size < SPILL_MIN or not _room(where, size):
                continue
            path = _write(where, frame)
            if path is None:
                continue
            written.append(path)
            item.setdefault("spilled", {})[str(index)] = path.name
            frames[offset + index] = b""
        offset += count
    return written


def back(item: dict[str, Any], frames: list[Any], where: Path | None) -> list[Any]:
    """The frames of one item with its spilled ones mapped from their files (then unlinked).
    Raises ValueError when the item names a file outside ``where`` (or there is no ``where``)."""
    spilled: dict[str, str] = item.get("spilled") or {}
    if not spilled:
        return frames
    frames = list(frames)
    for index, name in spilled.items():
        if where is None or not _NAME.match(name):
            raise ValueError(f"it names a file this notebook did not offer ({name!r})")
        frames[int(index)] = _map(where / name)
    return frames


def clean(paths: list[Path]) -> None:
    """Remove the files a receiver did not take (it died, or the message was never read)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _room(where: Path, size: int) -> bool:
    try:
        stat = os.statvfs(where)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize > 2 * size


def _write(where: Path, frame: Any) -> Path | None:
    path = where / f"b-{os.urandom(8).hex()}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return None
    try:
        view = memoryview(frame).cast("B")
        while view:
            view = view[os.write(fd, view) :]
    except OSError:  # no room after all: the frame goes through the socket
        os.close(fd)
        path.unlink(missing_ok=True)
        return None
    os.close(fd)
    return path


def _map(path: Path) -> memoryview:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return memoryview(mapped)
