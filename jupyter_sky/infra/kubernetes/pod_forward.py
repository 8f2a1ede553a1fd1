"""A pod's ports reached through the Kubernetes API server's port-forward, as kubectl does.

:class:`~jupyter_sky.transport.forward.ForwardSet` listens on 127.0.0.1 here, one
listener per kernel port; :func:`pod_opener` gives each connection it accepts its own
port-forward websocket (one stream per ZMQ connection), so a broken stream costs only
that connection, which ZMQ re-opens on the same local port.

The ``kubernetes`` client is imported when a stream is opened, never at import.
"""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Protocol

from jupyter_sky.transport.forward import Opener

if TYPE_CHECKING:
    from kubernetes.client import Configuration


class _Closable(Protocol):
    def close(self) -> None: ...


class PodStream:
    """One forwarded connection: the client's socket end and the websocket carrying it."""

    def __init__(self, forward: _Closable, sock: socket.socket) -> None:
        self._forward = forward
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv(self, size: int) -> bytes:
        return self._sock.recv(size)

    def settimeout(self, seconds: float | None) -> None:
        self._sock.settimeout(seconds)

    def sendall(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(Exception):
            self._forward.close()


def pod_opener(configuration: Configuration, pod: str, namespace: str) -> Opener:
    """An opener for :class:`~jupyter_sky.transport.forward.Forward`: ``dest`` is
    ``(anything, port in the pod)``; each call opens a new port-forward to that port.

    Each stream gets an ``ApiClient`` of its own: the client's ``stream`` helper swaps the
    ``ApiClient``'s transport while it connects, which would break any other call made on
    that client from another thread meanwhile.
    """

    def open_stream(dest: tuple[str, int], src: tuple[str, int]) -> PodStream:
        from kubernetes.client import ApiClient, CoreV1Api
        from kubernetes.stream import portforward

        port = dest[1]
        api = ApiClient(configuration)
        try:
            forward = portforward(
                CoreV1Api(api).connect_get_namespaced_pod_portforward,
                pod,
                namespace,
                ports=str(port),
            )
        finally:
            api.close()  # type: ignore[no-untyped-call]  # the websocket does not use its pool
        return PodStream(forward, forward.socket(port))

    return open_stream
