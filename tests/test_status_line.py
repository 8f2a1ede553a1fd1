"""The cell's status line follows ``where`` while the cell runs (a Slurm allocation's time
left): updated by its display id once it changes, and not re-sent while it does not."""

from __future__ import annotations

from typing import Any

from jupyter_sky.kernel.bridge import StatusLine
from jupyter_sky.pipeline.status import status_ticker as _status_ticker


class Local:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def parent(self) -> dict:
        return {"header": {"msg_id": "cell"}}

    def publish(self, msg_type: str, content: dict, parent: Any, *rest: Any) -> None:
        self.sent.append((msg_type, content))


class Live:
    name = "gpu"

    def __init__(self) -> None:
        self.left = "1 h 30 min left"

    def where(self) -> str:
        return f"slurm/lab job 7 on n1 pid 9 · {self.left}"


def test_the_status_line_follows_the_time_left() -> None:
    local, live = Local(), Live()
    status = StatusLine(local, "sky-1", "▸ sky · cluster gpu · " + live.where(), {})  # type: ignore[arg-type]
    tick = _status_ticker(live, status)
    tick()
    assert local.sent == []  # unchanged: nothing sent
    live.left = "1 h 29 min left"
    tick()
    tick()
    assert len(local.sent) == 1
    msg_type, content = local.sent[0]
    assert msg_type == "update_display_data"
    assert content["transient"] == {"display_id": "sky-1"}
    assert content["data"]["text/plain"].endswith("· 1 h 29 min left")
    assert _status_ticker(live, None) is None  # no status line (terminal IPython): no ticks
