"""The target side of a budget: the remote kernel enforces a cell's spending limit itself, so
a closed laptop cannot overspend.

The notebook sends, with the cell, the $/h of the cluster, the dollars left of the tightest
limit, which limit that is, and whether to end the kernel at the limit (on infras that stop and
keep a cluster, the VM's own watcher stops it once the kernel is gone). A thread checks once a
second while the cell runs; at the limit it says so on the cell's stderr and interrupts the
cell (SIGINT, as the notebook's Ctrl-C would).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable

POLL_S = 0.5
# The notebook, while attached, interrupts at the limit itself; the target waits this much
# longer so the two SIGINTs do not both land (the second could cut the pull after the cell).
GRACE_S = 1.5


class BudgetWatch:
    """Watches one cell: ``running()`` says whether it still runs."""

    def __init__(self, budget: dict[str, object], running: Callable[[], bool]) -> None:
        self.price = float(budget["price"])  # type: ignore[arg-type]
        self.left = float(budget["left"])  # type: ignore[arg-type]
        self.limit = str(budget.get("limit", "the budget"))
        self.stop = bool(budget.get("stop"))
        self.running = running
        self.start = time.monotonic()
        self.reason: str | None = None  # set when the limit was reached

    def begin(self) -> None:
        threading.Thread(target=self._watch, name="jupyter-sky-budget", daemon=True).start()

    def spent(self) -> float:
        return self.price * (time.monotonic() - self.start) / 3600

    def _watch(self) -> None:
        grace = self.price * GRACE_S / 3600
        while self.running():
            if self.spent() >= self.left + grace:
                self._trip()
                return
            time.sleep(POLL_S)

    def _trip(self) -> None:
        spent = self.spent()
        then = "the kernel ends so the cluster stops" if self.stop else "the kernel stays idle"
        self.reason = (
            f"budget reached on the target: the cell spent ${spent:.2f} at ${self.price:.2f}/h, "
            f"reaching {self.limit}; it was interrupted and {then}"
        )
        print(f"[sky] {self.reason}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGINT)

    def after_cell(self, end: Callable[[str], None]) -> None:
        """Once the cell ended: end the kernel (via ``end``) if it tripped and must stop."""
        if self.reason is not None and self.stop:
            reason = self.reason
            # Let the execute reply and pulled values leave first.
            threading.Timer(1.0, end, args=(reason,)).start()
