"""Numbered output, kept until the notebook has it, sent again after a transport drop.

ZMQ's PUB socket drops what it publishes while no subscriber is connected, and a ROUTER
drops a reply to a peer that is gone — which is what a dropped SSH connection (laptop sleep,
VPN flap, a killed ``sshd``) does to the kernel's iopub and shell traffic. So every iopub
message gets a sequence number in its metadata (``jupyter_sky_seq``) and is kept until the
notebook acknowledges it (the ``ack`` of its next cell or lease); replies are kept by request
for a while. After a reconnect the notebook asks, on the jupyter-sky comm, for everything
after the last number it holds and for the replies of its requests still in flight; its
relay drops numbers it has already seen, so every line arrives exactly once. (A message sent
again is byte-identical, so jupyter_client's duplicate-signature check also drops copies.)

Installed by the agent when ``JUPYTER_SKY_REPLAY=1`` (the ssh and slurm infras set it); the
local infra has no transport to drop and skips the bookkeeping.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Any

SEQ = "jupyter_sky_seq"
MAX_KEPT = 20_000  # messages kept unacknowledged, at most ...
MAX_KEPT_BYTES = 64 * 1024 * 1024  # ... and about this many bytes of them
MAX_REPLIES = 64


@dataclass
class _Kept:
    seq: int
    stream: Any
    msg: dict[str, Any]
    ident: Any
    buffers: Any
    nbytes: int


class Numbering:
    """Wraps the kernel session's ``send``: numbers and keeps iopub messages and replies."""

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self._send = kernel.session.send  # the bound original
        self._lock = threading.RLock()
        self.seq = 0
        self.kept: collections.deque[_Kept] = collections.deque()
        self.kept_bytes = 0
        self.evicted = 0  # highest number dropped before it was acknowledged
        self.replies: collections.OrderedDict[str, _Kept] = collections.OrderedDict()

    def install(self) -> None:
        self.kernel.session.send = self.send

    def _is_iopub(self, stream: Any) -> bool:
        kernel = self.kernel
        return stream is not None and (
            stream is kernel.iopub_socket or stream is getattr(kernel, "iopub_thread", None)
        )

    def send(
        self,
        stream: Any,
        msg_or_type: Any,
        content: Any = None,
        parent: Any = None,
        ident: Any = None,
        buffers: Any = None,
        track: bool = False,
        header: Any = None,
        metadata: Any = None,
    ) -> Any:
        """``Session.send``, numbering iopub messages and keeping replies."""
        if not self._is_iopub(stream):
            msg = self._send(
                stream, msg_or_type, content, parent, ident, buffers, track, header, metadata
            )
            if isinstance(msg_or_type, str) and msg_or_type.endswith("_reply") and msg:
                self._keep_reply(stream, msg, ident, buffers)
            return msg
        with self._lock:  # numbers leave in the order they were given
            self.seq += 1
            if isinstance(msg_or_type, dict):
                msg_or_type.setdefault("metadata", {})[SEQ] = self.seq
            else:
                metadata = {**(metadata or {}), SEQ: self.seq}
            msg = self._send(
                stream, msg_or_type, content, parent, ident, buffers, track, header, metadata
            )
            if msg is not None:
                self._keep(_Kept(self.seq, stream, msg, ident, buffers, _size(msg, buffers)))
            return msg

    def _keep(self, item: _Kept) -> None:
        self.kept.append(item)
        self.kept_bytes += item.nbytes
        while len(self.kept) > MAX_KEPT or self.kept_bytes > MAX_KEPT_BYTES:
            old = self.kept.popleft()
            self.kept_bytes -= old.nbytes
            self.evicted = old.seq

    def _keep_reply(self, stream: Any, msg: dict[str, Any], ident: Any, buffers: Any) -> None:
        request = (msg.get("parent_header") or {}).get("msg_id")
        if not request:
            return
        with self._lock:
            self.replies[request] = _Kept(0, stream, msg, ident, buffers, 0)
            while len(self.replies) > MAX_REPLIES:
                self.replies.popitem(last=False)

    def ack(self, upto: int) -> None:
        """The notebook holds every message numbered ``upto`` or less: forget them."""
        with self._lock:
            while self.kept and self.kept[0].seq <= upto:
                self.kept_bytes -= self.kept.popleft().nbytes

    def replay(self, after: int, requests: list[str], stream: Any = None) -> dict[str, Any]:
        """Send again every kept message numbered above ``after`` and the replies of
        ``requests`` (on ``stream``, the control channel, when given: the shell stream belongs
        to the thread running the cell; the notebook's sockets share one identity); returns the last number sent (``upto``), how many of those asked for
        are gone (``lost``) and the highest number gone (``evicted``)."""
        with self._lock:
            lost = max(0, min(self.evicted, self.seq) - after)
            for item in [k for k in self.kept if k.seq > after]:
                self._send(item.stream, item.msg, ident=item.ident, buffers=item.buffers)
            for request in requests:
                reply = self.replies.get(request)
                if reply is not None:
                    out = stream if stream is not None else reply.stream
                    self._send(out, reply.msg, ident=reply.ident, buffers=reply.buffers)
            return {"upto": self.seq, "lost": lost, "evicted": self.evicted}


def _size(msg: dict[str, Any], buffers: Any) -> int:
    """A cheap estimate of a message's size: its text and data values plus its buffers."""
    content = msg.get("content") or {}
    size = 256 + len(content.get("text") or "")
    data = content.get("data")
    if isinstance(data, dict):
        size += sum(len(v) for v in data.values() if isinstance(v, str))
    for buf in buffers or msg.get("buffers") or ():
        size += memoryview(buf).nbytes
    return size
