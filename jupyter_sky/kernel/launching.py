"""Which launches are under way: the launching notebook kernel holds a lock on
``sky_home()/launching/<cluster>`` until its cluster is UP (or the launch failed).

The operating system drops the lock when that process dies, so a cluster left ``INIT`` by a
notebook kernel killed mid-launch is told from one still starting: ``%sky status`` shows it
DOWN (its kernel, never leased, ends by its idle watchdog; what a cloud still holds of it is
listed as an orphan).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_DIR = "launching"


@contextlib.contextmanager
def held(home: Path, name: str) -> Iterator[None]:
    """Hold the launch lock of cluster ``name`` (shared: two kernels may launch it at once)."""
    directory = home / LOCK_DIR
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(directory / name, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # a full or read-only home: launching goes on, status may say INIT
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def under_way(home: Path, name: str) -> bool:
    """Does a live process still launch cluster ``name``? False when no one holds its lock."""
    try:
        fd = os.open(home / LOCK_DIR / name, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return True  # cannot tell: leave the record as it is
    finally:
        os.close(fd)
    return False
