"""Work that a Ctrl-C must not cut in half, such as replacing a cluster's kernel.

A third quick Ctrl-C used to land in the middle of the restart a second one started, leaving
a cluster whose connection was closed but still recorded as attached. Inside
:func:`no_interrupts` a Ctrl-C is noted and ignored: the user already asked for the restart.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_sky.infra.base import AnyInfra as Infra
    from jupyter_sky.infra.base import Handle


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


def stop_quietly(infra: Infra, handle: Handle | None) -> None:
    """Stop a kernel a failed or interrupted launch started; a failure to stop is logged."""
    if handle is None:
        return
    try:
        infra.down(handle)
    except Exception as exc:  # noqa: BLE001 - the launch's own error is the one to show
        print(f"jupyter-sky: could not stop the half-started kernel ({exc})", file=sys.stderr)
