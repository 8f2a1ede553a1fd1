"""What a running cell shows about itself: the status line above its output, the placement
widget's spend meter, and ``[sky]`` notes on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_sky.kernel.bridge import StatusLine
    from jupyter_sky.kernel.cluster import LiveCluster
    from jupyter_sky.pipeline.plan import PlanView


def say(notes: list[str]) -> None:
    """Print each note as one ``[sky]`` line on stderr."""
    for note in notes:
        print(f"[sky] {note}", file=sys.stderr)
    if notes:
        sys.stderr.flush()


def show_status_line(live: LiveCluster) -> StatusLine | None:
    """Show where this cell runs, above its output; late output of the cell goes here too."""
    import uuid

    from jupyter_sky.kernel.bridge import StatusLine

    bridge = live.bridge
    if bridge is None or not bridge.local.available:
        return None  # terminal IPython: no display ids, and no late output to place
    text = status_text(live)
    status = StatusLine(bridge.local, f"sky-{uuid.uuid4().hex}", text, bridge.local.parent())
    # Straight onto iopub: publish_display_data would first flush both streams through the
    # I/O thread (two cross-thread waits), and nothing was printed in this cell yet.
    content = {
        "data": status.bundle(),
        "metadata": {"jupyter_sky": "status"},
        "transient": {"display_id": status.display_id},
    }
    bridge.local.publish("display_data", content, status.parent)
    return status


def status_text(live: LiveCluster) -> str:
    return f"▸ sky · cluster {live.name} · {live.where()}"


def status_ticker(live: LiveCluster, status: StatusLine | None) -> Callable[[], None] | None:
    """Once a second while the cell runs: the status line follows ``where`` (a Slurm
    allocation's time left); ``None`` without a status line."""
    if status is None:
        return None
    return lambda: status.set_text(status_text(live))


class SpendMeter:
    """Keeps the placement widget's status line current: where, how long, what it cost."""

    def __init__(self, widget: PlanView, live: LiveCluster, price_per_hour: float) -> None:
        self.widget, self.live, self.price = widget, live, price_per_hour
        self.start = time.monotonic()
        self()

    def text(self, verb: str) -> str:
        elapsed = time.monotonic() - self.start
        cost = self.price * elapsed / 3600
        return f"{verb} on {self.live.where()} · {elapsed:.0f} s · ${cost:.2f} so far"

    def __call__(self) -> None:
        self.widget.status = self.text("running")

    def done(self, status: str) -> None:
        self.widget.status = self.text("ran" if status == "ok" else f"{status}")
