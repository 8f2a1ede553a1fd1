"""Local port forwarding: a listening socket on 127.0.0.1 per remote port; each accepted
connection is carried to the remote port over its own ``direct-tcpip`` channel.

One thread per listener and one per connection: a kernel has five ports and ZMQ keeps one
connection per socket, so that is a dozen threads, each simple. The listeners outlive the
SSH transport: after a reconnect, ZMQ's own reconnect lands on the same local port and gets
a channel over the new transport.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

Opener = Callable[[tuple[str, int], tuple[str, int]], Any]  # (dest, src) -> paramiko Channel
CHUNK = 1 << 16
MAX_BACKOFF = 2.0  # seconds a connection to an unreachable port is held before it is closed


class Forward:
    """``127.0.0.1:<local_port>`` here -> ``remote`` as seen from the SSH host."""

    def __init__(self, opener: Opener, remote: tuple[str, int]) -> None:
        self.remote = remote
        self._opener = opener
        self._closed = threading.Event()
        self._failures = 0  # channel opens that failed in a row
        self._pairs: set[tuple[socket.socket, Any]] = set()
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.local_port: int = self._listener.getsockname()[1]
        name = f"jupyter-sky-forward-{self.local_port}"
        threading.Thread(target=self._accept_loop, name=name, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, peer = self._listener.accept()
            except OSError:  # the listener was closed
                return
            threading.Thread(target=self._serve, args=(conn, peer), daemon=True).start()

    def _serve(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            chan = self._opener(self.remote, peer)
        except Exception:  # noqa: BLE001 - host gone: the client sees a closed socket and retries
            # ZMQ reconnects every 100 ms per socket; to a kernel that is gone, each attempt is
            # a failed channel open on the shared SSH connection. Hold the socket a while first.
            self._failures += 1
            self._closed.wait(min(MAX_BACKOFF, 0.05 * 2**self._failures))
            conn.close()
            return
        self._failures = 0
        pair = (conn, chan)
        with self._lock:
            if self._closed.is_set():
                _close(conn, chan)
                return
            self._pairs.add(pair)
        try:
            _pump(conn, chan, self._closed)
        finally:
            with self._lock:
                self._pairs.discard(pair)
            _close(conn, chan)

    @property
    def connections(self) -> int:
        """How many local connections are being carried right now."""
        with self._lock:
            return len(self._pairs)

    def close(self) -> None:
        """Stop listening and cut every forwarded connection. Idempotent."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        self._listener.close()
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for conn, chan in pairs:
            _close(conn, chan)


def _pump(conn: socket.socket, chan: Any, closed: threading.Event) -> None:
    """Copy bytes both ways until either side ends (or the forward is closed)."""
    while not closed.is_set():
        try:
            ready, _, _ = select.select([conn, chan], [], [], 1.0)
        except (OSError, ValueError):  # a side was closed under us
            return
        for side in ready:
            other = chan if side is conn else conn
            try:
                data = side.recv(CHUNK)
                if not data:
                    return
                other.sendall(data)
            except OSError:
                return


def _close(conn: socket.socket, chan: Any) -> None:
    with contextlib.suppress(Exception):
        chan.close()
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        conn.close()


class ForwardSet:
    """The forwards of one remote kernel, by channel name (``shell_port`` ...)."""

    def __init__(self, opener: Opener, remote_ip: str, ports: dict[str, int]) -> None:
        self.forwards: dict[str, Forward] = {}
        try:
            for name, port in ports.items():
                self.forwards[name] = Forward(opener, (remote_ip, port))
        except BaseException:
            self.close()
            raise

    def connections(self) -> dict[str, int]:
        """Carried connections per channel (ZMQ keeps one per socket it connected)."""
        return {name: fwd.connections for name, fwd in self.forwards.items()}

    def local_ports(self) -> dict[str, int]:
        return {name: fwd.local_port for name, fwd in self.forwards.items()}

    def close(self) -> None:
        for fwd in self.forwards.values():
            fwd.close()
