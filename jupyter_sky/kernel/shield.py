"""Work that a Ctrl-C must not cut in half, such as replacing a cluster's kernel.

A third quick Ctrl-C used to land in the middle of the restart a second one started, leaving
a cluster whose connection was closed but still recorded as attached. Inside
:func:`no_interrupts` a Ctrl-C is noted and ignored: the user already asked for the restart.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def no_interrupts() -> Iterator[list[int]]:
    """Hold off SIGINT (main thread only); yields the list of the signals that came."""
    came: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield came
        return

    def note(signum: int, frame: FrameType | None) -> None:
        came.append(signum)

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield came
    finally:
        signal.signal(signal.SIGINT, previous)
