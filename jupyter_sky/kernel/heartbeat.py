"""Is the remote kernel still answering? Its heartbeat channel, pinged once a second.

A kernel that was stopped (SIGSTOP, a frozen VM, a suspended job) still "runs" as far as its
pid is concerned, so a cell would wait for it forever. ipykernel echoes heartbeat pings from a
thread of its own that needs no GIL, so a busy cell keeps answering; only a kernel that
cannot run at all falls silent. :func:`silent_for` says for how long it has.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any

import zmq

from jupyter_sky.errors import SkyError
from jupyter_sky.kernel.session import Channels

PERIOD = 1.0
#: A cell gives up on a kernel silent this long (seconds); JUPYTER_SKY_HEARTBEAT_SECONDS.
SILENT_LIMIT = float(os.environ.get("JUPYTER_SKY_HEARTBEAT_SECONDS", "10"))

_beats: weakref.WeakKeyDictionary[Channels, Heartbeat] = weakref.WeakKeyDictionary()


class KernelHung(SkyError):
    """The remote kernel runs but answers nothing, not even its heartbeat."""


def check_answering(channels: Channels, cluster: str, where: str) -> None:
    """Raise :class:`KernelHung` when the kernel has been silent past :data:`SILENT_LIMIT`."""
    silent = silent_for(channels)
    if silent > SILENT_LIMIT:
        raise KernelHung(
            f"The remote kernel of cluster '{cluster}' has not answered for {silent:.0f} s "
            f"(stopped or frozen: {where}); run the cell again once it answers, or end the "
            f"cluster with %sky down {cluster}."
        )


def silent_for(channels: Channels) -> float:
    """Seconds since the kernel behind ``channels`` last echoed a ping (0 when unknown)."""
    beat = _beats.get(channels)
    if beat is None:
        address = channels.address("hb")
        if not address:
            return 0.0
        beat = _beats[channels] = Heartbeat(address, channels)
    return beat.silent_for()


class Heartbeat:
    """A thread that pings one kernel's heartbeat until its channels close."""

    def __init__(self, address: str, channels: Channels) -> None:
        self.address = address
        self.last = time.monotonic()
        self._channels = weakref.ref(channels)
        name = "jupyter-sky-heartbeat"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def silent_for(self) -> float:
        return time.monotonic() - self.last

    def _open(self) -> bool:
        channels = self._channels()
        return channels is not None and not channels.closed

    def _run(self) -> None:
        context = zmq.Context()
        try:
            while self._open():
                self._ping_until_silent(context)
        finally:
            context.term()

    def _ping_until_silent(self, context: Any) -> None:
        # A REQ socket whose reply never came cannot send again: a fresh one per silence.
        sock = context.socket(zmq.REQ)
        sock.linger = 0
        sock.connect(self.address)
        try:
            while self._open():
                sock.send(b"ping")
                if not sock.poll(int(PERIOD * 1000)):
                    return
                sock.recv()
                self.last = time.monotonic()
                time.sleep(PERIOD)
        finally:
            sock.close(linger=0)
