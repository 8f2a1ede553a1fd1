"""Run one cell on an attached cluster: send, relay, interrupt, notice death.

A cell costs one round trip: the execute request carries what the cell needs (values to
load as binary buffers, names to check afterwards) in its metadata, and the remote kernel
returns changed values in a comm message before it goes idle.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jupyter_sky.kernel.cluster import LiveCluster
from jupyter_sky.kernel.relay import CellRelay
from jupyter_sky.kernel.session import Waiter

DOUBLE_INTERRUPT_WINDOW = 5.0
LIVENESS_POLL = 0.25
TICK = 1.0


class DoubleInterrupt(Exception):
    """Ctrl-C twice within the window: the caller restarts the remote kernel."""


class KernelDied(Exception):
    """The remote kernel stopped while the cell ran."""


@dataclass
class Outcome:
    """How a remote cell ended."""

    status: str = "ok"  # 'ok' | 'error' | 'interrupted'
    error: dict[str, Any] | None = None
    pulled: list[dict[str, Any]] = field(default_factory=list)
    reply: dict[str, Any] = field(default_factory=dict)


def run_cell(
    cluster: LiveCluster,
    code: str,
    relay: CellRelay,
    prepare: dict[str, Any] | None = None,
    frames: list[Any] | None = None,
    on_tick: Callable[[], None] | None = None,
) -> Outcome:
    """Execute ``code`` remotely, relaying its output into the current cell as it arrives."""
    channels = cluster.channels
    assert channels is not None
    waiter = Waiter()
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": True,
        "stop_on_error": True,
    }
    metadata = {"jupyter_sky": prepare} if prepare is not None else None
    msg_id = channels.send(
        "shell",
        "execute_request",
        content,
        buffers=frames or None,
        handler=waiter,
        metadata=metadata,
    )
    bridge = cluster.bridge
    if bridge is not None and relay.parent:
        # Whatever this request publishes after the cell ended still belongs to this cell.
        bridge.remember(msg_id, relay.parent)
        if relay.status is not None:
            bridge.status_lines[msg_id] = relay.status
    try:
        return _wait(cluster, waiter, relay, on_tick)
    finally:
        channels.unroute(msg_id)


def _wait(
    cluster: LiveCluster, waiter: Waiter, relay: CellRelay, on_tick: Callable[[], None] | None
) -> Outcome:
    outcome = Outcome()
    got_reply = got_idle = False
    first_interrupt = 0.0
    next_tick = time.monotonic() + TICK
    while not (got_reply and got_idle):
        if on_tick is not None and time.monotonic() >= next_tick:
            on_tick()  # the spend meter: running time and cost so far
            next_tick = time.monotonic() + TICK
        try:
            got = waiter.get(LIVENESS_POLL)
        except KeyboardInterrupt:
            now = time.monotonic()
            if first_interrupt and now - first_interrupt < DOUBLE_INTERRUPT_WINDOW:
                raise DoubleInterrupt() from None
            first_interrupt = now
            outcome.status = "interrupted"
            cluster.infra.interrupt(cluster.handle)
            continue
        if got is None:
            if not cluster.is_alive():
                raise KernelDied(cluster.infra.exit_reason(cluster.handle))
            continue
        channel, msg = got
        if msg["header"]["msg_type"] == "execute_reply":  # shell, or control when re-sent
            got_reply = True
            outcome.reply = msg["content"]
        elif channel == "stdin":
            _answer_input(cluster, msg)
        elif channel == "iopub":
            got_idle = got_idle or _handle_iopub(cluster, msg, relay, outcome)
    if outcome.reply.get("status") == "error" and outcome.status == "ok":
        outcome.status = "error"
    outcome.error = relay.error
    return outcome


def _handle_iopub(
    cluster: LiveCluster, msg: dict[str, Any], relay: CellRelay, outcome: Outcome
) -> bool:
    msg_type = msg["header"]["msg_type"]
    if msg_type == "status":
        return bool(msg["content"].get("execution_state") == "idle")
    if msg_type == "comm_msg" and msg["content"].get("comm_id") == cluster.comm_id:
        data = msg["content"].get("data", {})
        if data.get("op") == "pulled":
            outcome.pulled.append(msg)
        return False
    relay.handle(msg)
    return False


def _answer_input(cluster: LiveCluster, msg: dict[str, Any]) -> None:
    content = msg["content"]
    ask = getpass.getpass if content.get("password") else input
    try:
        value = ask(content.get("prompt", ""))
    except (EOFError, KeyboardInterrupt):
        value = ""
    assert cluster.channels is not None
    cluster.channels.send("stdin", "input_reply", {"value": value}, parent=msg["header"])
