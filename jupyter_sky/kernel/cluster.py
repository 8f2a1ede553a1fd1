"""A cluster this notebook is attached to: its infra handle plus a live kernel connection."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from jupyter_sky.infra.base import AnyInfra as Infra
from jupyter_sky.infra.base import Handle
from jupyter_sky.kernel.bridge import Bridge
from jupyter_sky.kernel.replay import Replay
from jupyter_sky.kernel.session import Channels, Handler, Waiter, wait_for_reply

CONNECT_TIMEOUT = 30.0


@dataclass
class LiveCluster:
    """An attached cluster. ``synced`` maps a name to the digest both sides agree on."""

    name: str
    infra: Infra
    handle: Handle
    client_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    synced: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    channels: Channels | None = None
    bridge: Bridge | None = None
    comm_id: str = ""
    lease_seconds: float = 30.0
    replay: Replay | None = None
    _lease_stop: threading.Event = field(default_factory=threading.Event)

    # ---- connecting ----------------------------------------------------------------
    def connect(self, shell: Any = None) -> None:
        """Open the channels, make sure iopub is live, open the transfer comm."""
        self.bridge = Bridge(shell)
        self.replay = Replay(self._ask_replay, self._in_flight)
        self.channels = Channels(
            self.infra.connection_info(self.handle), self.bridge.on_message, self.replay.admit
        )
        self.bridge.channels = self.channels
        self._wait_until_iopub_live()
        self.comm_id = uuid.uuid4().hex
        waiter = Waiter()
        self.channels.send(
            "shell",
            "comm_open",
            {"comm_id": self.comm_id, "target_name": "jupyter_sky", "data": {}},
            handler=waiter,
        )
        hello = self._wait_for(waiter, lambda m: _comm_op(m) == "hello")
        self.channels.unroute(hello["parent_header"]["msg_id"])
        self.info = hello["content"]["data"]["info"]
        self.replay.start(hello)
        self.synced.clear()
        self._start_lease()

    def _wait_until_iopub_live(self) -> None:
        # A SUB socket misses what is published before it is connected (the "slow
        # joiner"): ask for kernel_info until its status messages show up on iopub.
        assert self.channels is not None
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while time.monotonic() < deadline:
            waiter = Waiter()
            self.channels.send("shell", "kernel_info_request", {}, handler=waiter)
            seen_iopub = False
            reply = wait_for_reply(self.channels, waiter, "kernel_info_reply", self.is_alive, 30)
            end = time.monotonic() + 0.2
            while not seen_iopub and time.monotonic() < end:
                got = waiter.get(0.02)
                seen_iopub = got is not None and got[0] == "iopub"
            self.channels.unroute(reply["parent_header"]["msg_id"])
            if seen_iopub or _drained_iopub(waiter):
                return
        raise TimeoutError("the remote kernel's output channel never connected")

    def _wait_for(self, waiter: Waiter, match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while time.monotonic() < deadline:
            got = waiter.get(0.25)
            if got is None:
                if not self.is_alive():
                    raise ConnectionError("the remote kernel is not running")
                continue
            if match(got[1]):
                return got[1]
        raise TimeoutError("the remote kernel did not answer jupyter-sky's handshake")

    # ---- talking -----------------------------------------------------------------------
    def comm_send(
        self, data: dict[str, Any], buffers: list[Any] | None = None, handler: Handler | None = None
    ) -> str:
        assert self.channels is not None
        content = {"comm_id": self.comm_id, "data": data}
        return self.channels.send("shell", "comm_msg", content, buffers=buffers, handler=handler)

    def is_alive(self) -> bool:
        return self.infra.is_alive(self.handle)

    def ack(self) -> int:
        """The number up to which this notebook holds the kernel's output (0: unnumbered)."""
        return self.replay.mark if self.replay is not None and self.replay.active else 0

    def _ask_replay(self, after: int, requests: list[str]) -> None:
        # On control: the kernel's control thread answers even while a cell runs.
        if self.channels is not None and not self.channels.closed:
            content = {"after": after, "replies": requests}
            self.channels.send("control", "jupyter_sky_replay_request", content)

    def _in_flight(self) -> list[str]:
        return self.channels.waiting() if self.channels is not None else []

    def where(self) -> str:
        return self.infra.where(self.handle)

    # ---- the client lease (the remote idle watchdog ends kernels nobody holds) --------
    def _start_lease(self) -> None:
        self._lease_stop.clear()
        threading.Thread(target=self._lease, name="jupyter-sky-lease", daemon=True).start()

    def _lease(self) -> None:
        while not self._lease_stop.wait(self.lease_seconds):
            if self.channels is None or self.channels.closed:
                return
            self.comm_send({"op": "lease", "client": self.client_id})
            upto = self.ack()
            if upto:  # on control, so a kernel busy with a long cell still forgets
                self.channels.send("control", "jupyter_sky_ack", {"upto": upto})

    def detach(self) -> None:
        """Close this notebook's connection; the cluster keeps running."""
        self._lease_stop.set()
        if self.bridge is not None:
            self.bridge.close()
        if self.channels is not None:
            self.channels.close()
            self.channels = None


def _comm_op(msg: dict[str, Any]) -> str:
    if msg["header"]["msg_type"] != "comm_msg":
        return ""
    return str(msg["content"].get("data", {}).get("op", ""))


def _drained_iopub(waiter: Waiter) -> bool:
    while True:
        got = waiter.get(0)
        if got is None:
            return False
        if got[0] == "iopub":
            return True
