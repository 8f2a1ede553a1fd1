"""A connection to one remote IPython kernel, spoken to with jupyter_client's protocol.

ZMQ sockets are not thread-safe, so one I/O thread owns all of a kernel's sockets.
Other threads hand it messages through a queue and wake it through a pipe; it routes
every incoming message by its parent's ``msg_id`` to whoever registered for that id.
Routing by parent (not "whatever arrives next") is what keeps output a remote thread
prints after its cell ended out of the next cell.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import zmq
from jupyter_client.session import Session

Handler = Callable[[str, dict[str, Any]], None]
# Sees every message first; returns the ones to route now (none for a duplicate).
Gate = Callable[[str, dict[str, Any]], list[dict[str, Any]]]
CHANNELS = ("shell", "iopub", "control", "stdin")
_SOCKET_TYPES = {"shell": zmq.DEALER, "iopub": zmq.SUB, "control": zmq.DEALER, "stdin": zmq.DEALER}


class Channels:
    """The I/O thread that owns a kernel's shell, iopub, control and stdin sockets."""

    def __init__(
        self, info: dict[str, Any], on_stray: Handler | None = None, gate: Gate | None = None
    ) -> None:
        key = info["key"].encode() if isinstance(info["key"], str) else info["key"]
        scheme = info.get("signature_scheme", "hmac-sha256")
        self.session = Session(key=key, signature_scheme=scheme, username="jupyter-sky")
        self._info = info
        self._routes: dict[str, Handler] = {}
        self._on_stray = on_stray
        self._gate = gate
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        self._closed = False
        self._context = zmq.Context()
        self._sockets: dict[str, zmq.Socket] = {}
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jupyter-sky-io", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    # ---- used from any thread -------------------------------------------------------
    def send(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        buffers: list[Any] | None = None,
        handler: Handler | None = None,
        metadata: dict[str, Any] | None = None,
        parent: dict[str, Any] | None = None,
    ) -> str:
        """Queue a message for ``channel``; replies and iopub children go to ``handler``."""
        msg = self.session.msg(msg_type, content, parent=parent, metadata=metadata)
        msg_id = msg["header"]["msg_id"]
        if handler is not None:
            self._routes[msg_id] = handler
        self._outbox.put((channel, msg, buffers))
        os.write(self._wake_w, b"x")
        return str(msg_id)

    def route(self, msg_id: str, handler: Handler) -> None:
        """(Re)register the handler for messages whose parent is ``msg_id``."""
        self._routes[msg_id] = handler

    def unroute(self, msg_id: str) -> None:
        self._routes.pop(msg_id, None)

    def waiting(self) -> list[str]:
        """The msg_ids whose replies are still routed somewhere (requests in flight)."""
        return list(self._routes)

    def close(self) -> None:
        """Stop the I/O thread and close the sockets (the kernel keeps running)."""
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"q")
        self._thread.join(5)
        os.close(self._wake_r)
        os.close(self._wake_w)

    @property
    def closed(self) -> bool:
        return self._closed

    # ---- the I/O thread ---------------------------------------------------------------
    def _open_sockets(self) -> zmq.Poller:
        poller = zmq.Poller()
        ident = uuid.uuid4().hex.encode()
        for name in CHANNELS:
            sock = self._context.socket(_SOCKET_TYPES[name])
            sock.linger = 0
            if name == "iopub":
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            else:
                sock.setsockopt(zmq.IDENTITY, ident)
            sock.connect(self._address(name))
            poller.register(sock, zmq.POLLIN)
            self._sockets[name] = sock
        poller.register(self._wake_r, zmq.POLLIN)
        return poller

    def _address(self, channel: str) -> str:
        info = self._info
        transport = info.get("transport", "tcp")
        port = info[f"{channel}_port"]
        if transport == "ipc":
            return f"ipc://{info['ip']}-{port}"
        return f"tcp://{info['ip']}:{port}"

    def _run(self) -> None:
        poller = self._open_sockets()
        self._ready.set()
        names = {sock: name for name, sock in self._sockets.items()}
        try:
            while not self._closed:
                for item, _ in poller.poll(1000):
                    if item == self._wake_r:
                        os.read(self._wake_r, 4096)
                        self._flush_outbox()
                    else:
                        self._receive(names[item], item)
        finally:
            for sock in self._sockets.values():
                sock.close(linger=0)
            self._context.term()

    def _flush_outbox(self) -> None:
        while True:
            try:
                channel, msg, buffers = self._outbox.get_nowait()
            except queue.Empty:
                return
            self.session.send(self._sockets[channel], msg, buffers=buffers)

    def _receive(self, channel: str, sock: zmq.Socket) -> None:
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            _, parts = self.session.feed_identities(frames, copy=False)
            try:
                msg = self.session.deserialize(parts, content=True, copy=False)
            except Exception:  # a bad signature or a message from a stranger: drop it
                continue
            for each in self._gate(channel, msg) if self._gate is not None else (msg,):
                parent = each.get("parent_header", {}).get("msg_id", "")
                handler = self._routes.get(parent) or self._on_stray
                if handler is not None:
                    handler(channel, each)


class Waiter:
    """Collects the messages of one request in a queue the requesting thread reads."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue = queue.SimpleQueue()

    def __call__(self, channel: str, msg: dict[str, Any]) -> None:
        self.queue.put((channel, msg))

    def get(self, timeout: float) -> tuple[str, dict[str, Any]] | None:
        try:
            return self.queue.get(timeout=timeout)  # type: ignore[no-any-return]
        except queue.Empty:
            return None


def wait_for_reply(
    channels: Channels,
    waiter: Waiter,
    msg_type: str,
    is_alive: Callable[[], bool],
    timeout: float,
) -> dict[str, Any]:
    """Wait for the reply of type ``msg_type``; fail fast if the kernel dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = waiter.get(0.25)
        if got is None:
            if not is_alive():
                raise ConnectionError("the remote kernel is not running")
            continue
        if got[1]["header"]["msg_type"] == msg_type:
            return got[1]
    raise TimeoutError(f"no {msg_type} from the remote kernel within {timeout:.0f} s")
