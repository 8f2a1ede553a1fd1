"""The notebook's side of numbered output (see :mod:`jupyter_sky.remote.numbering`).

:class:`Replay` sits in front of the I/O thread's routing. It drops iopub messages whose
number it has seen, keeps ``mark`` — every number up to it has arrived — and asks the remote
kernel for what it missed when it notices a loss: a second ``iopub_welcome`` (ipykernel's
XPUB greets every new subscription, so this is the iopub connection coming back after a
drop), or a gap in the numbers. The answer ends with a ``replayed`` message naming the last
number sent; if ``mark`` is still short of it (what was re-sent before the subscription was
live is lost again), it asks again.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

SEQ = "jupyter_sky_seq"
ASK_INTERVAL = 0.5  # seconds between two requests for the same loss
MAX_ASKS = 20


class Replay:
    """Duplicate filter and loss detector for one kernel connection.

    Parameters
    ----------
    ask : callable
        ``ask(after, requests)`` sends the replay request (on the jupyter-sky comm): resend
        every message numbered above ``after`` and the replies of ``requests``.
    in_flight : callable
        The msg_ids of this notebook's requests still waiting for replies.
    note : callable
        Receives one sentence when messages were lost for good.
    """

    def __init__(
        self,
        ask: Callable[[int, list[str]], Any],
        in_flight: Callable[[], list[str]],
        note: Callable[[str], Any] = print,
    ) -> None:
        self.ask = ask
        self.in_flight = in_flight
        self.note = note
        self.active = False  # the remote kernel numbers its messages
        self.off = False  # it does not: every message passes untouched
        self.mark = 0
        self._held: dict[int, dict[str, Any]] = {}  # after a gap, until it is filled
        self._early: set[int] = set()  # numbers routed before start()
        self._welcomes = 0
        self._asked_at = 0.0
        self._asks = 0
        self._replies: collections.deque[str] = collections.deque(maxlen=256)
        self._lock = threading.Lock()

    def start(self, hello: dict[str, Any]) -> None:
        """Begin after the agent's hello: numbers up to its own are not this notebook's."""
        seq = (hello.get("metadata") or {}).get(SEQ)
        with self._lock:
            self.active = seq is not None
            self.off = seq is None
            self.mark = int(seq or 0)
            self._held.clear()
            # Routed while the hello was on its way here: received, so not to be asked for.
            while self.mark + 1 in self._early:
                self.mark += 1
            self._early.clear()

    def admit(self, channel: str, msg: dict[str, Any]) -> list[dict[str, Any]]:
        """The messages to route now: none for a duplicate or replay bookkeeping, several
        when this one fills a gap (the ones held behind it follow, in order)."""
        if self.off:  # the kernel does not number its output (the local infra)
            return [msg]
        msg_type = msg["header"]["msg_type"]
        if channel in ("shell", "control"):  # replies sent again come on control
            return [msg] if not self.active or self._first_reply(msg) else []
        if channel != "iopub":
            return [msg]
        if msg_type == "iopub_welcome":
            with self._lock:
                self._welcomes += 1
                again = self._welcomes > 1 and self.active
            if again:  # the iopub connection came back: something may have been lost
                self._ask(force=True)
            return []
        seq = (msg.get("metadata") or {}).get(SEQ)
        if seq is None:
            return [msg]
        if not self.active:
            with self._lock:
                if len(self._early) < 1024:
                    self._early.add(seq)
            return [msg]
        replayed = _is_replayed(msg)
        if replayed:
            self._say_lost(msg["content"]["data"])
        with self._lock:
            if seq <= self.mark or seq in self._held:
                return []
            self._held[seq] = msg
            if replayed:  # numbers up to `evicted` are gone for good: stop waiting for them
                self._forget_until(int(msg["content"]["data"].get("evicted", 0)))
            ready = self._release()
            gap = bool(self._held)
        if gap:
            self._ask(force=replayed)  # a replay that left a gap was itself partly lost
        elif replayed:
            self._asks = 0
        return [m for m in ready if not _is_replayed(m)]

    def _forget_until(self, evicted: int) -> None:
        if evicted > self.mark:
            self.mark = evicted
            self._held = {n: m for n, m in self._held.items() if n > evicted}

    def _release(self) -> list[dict[str, Any]]:
        """Pop the held messages that now follow ``mark`` without a gap (lock held)."""
        ready = []
        while self.mark + 1 in self._held:
            self.mark += 1
            ready.append(self._held.pop(self.mark))
        return ready

    def _first_reply(self, msg: dict[str, Any]) -> bool:
        msg_id = msg["header"].get("msg_id", "")
        with self._lock:
            if msg_id in self._replies:
                return False
            self._replies.append(msg_id)
        return True

    def _say_lost(self, data: dict[str, Any]) -> None:
        if data.get("lost"):
            self.note(
                f"jupyter-sky: {data['lost']} output messages were lost while the connection "
                "was down (more than the remote kernel keeps)."
            )

    def _ask(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if self._asks >= MAX_ASKS or (not force and now - self._asked_at < ASK_INTERVAL):
                return
            self._asked_at, self._asks = now, self._asks + 1
            after = self.mark
        self.ask(after, self.in_flight())


def _is_replayed(msg: dict[str, Any]) -> bool:
    if msg["header"]["msg_type"] != "comm_msg":
        return False
    return bool(msg["content"].get("data", {}).get("op") == "replayed")
