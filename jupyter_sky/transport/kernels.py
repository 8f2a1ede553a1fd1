"""The remote kernels one infra object talks to: cached views, liveness, and the ended ones.

Shared by the infras that reach their kernel over SSH (``ssh``, ``slurm``), which differ only
in how a kernel is opened (the ``open_kernel`` callables) and in how its end is described.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from jupyter_sky.errors import InfraError
from jupyter_sky.transport.remote_kernel import RemoteKernel

Opener = Callable[[], RemoteKernel]


class KernelCache:
    """Kernel views by handle key; a kernel is opened (and watched) on first use."""

    def __init__(self) -> None:
        self._kernels: dict[str, RemoteKernel] = {}
        self._ended: set[str] = set()
        self._lock = threading.Lock()

    def get(self, key: str, open_kernel: Opener) -> RemoteKernel:
        """The cached view, or a new one (another notebook kernel may have started it)."""
        with self._lock:
            kernel = self._kernels.get(key)
        if kernel is not None:
            return kernel
        kernel = open_kernel()
        kernel.watch()
        with self._lock:
            return self._kernels.setdefault(key, kernel)

    def put(self, key: str, kernel: RemoteKernel) -> None:
        """Remember a kernel this process just started."""
        kernel.watch()
        with self._lock:
            self._kernels[key] = kernel

    def forget(self, key: str) -> RemoteKernel | None:
        """Drop the view (stop watching, cut forwards); the kernel itself is not touched."""
        with self._lock:
            kernel = self._kernels.pop(key, None)
        if kernel is not None:
            kernel.close()
        return kernel

    def ended(self, key: str) -> bool:
        return key in self._ended

    def mark_ended(self, key: str) -> None:
        self._ended.add(key)

    def is_alive(self, key: str, open_kernel: Opener) -> bool:
        """Cheap: the cached liveness, kept current by the view's background check."""
        if key in self._ended:
            return False
        try:
            return self.get(key, open_kernel).alive
        except (InfraError, OSError):
            return False

    def local_info(self, key: str, open_kernel: Opener, gone: str) -> dict[str, Any]:
        """Connection info through local forwards; ``gone`` is the sentence if it has ended."""
        try:
            return self.get(key, open_kernel).local_info()
        except OSError:
            raise InfraError(gone) from None
