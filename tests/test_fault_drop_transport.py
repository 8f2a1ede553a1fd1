"""Fault: the SSH transport is dropped mid-stream, on the lab's real sshd.

The TCP connection is closed under the forwards (a VPN flap, a laptop's sleep), or the sshd
process carrying them is SIGKILLed while a cell prints: the connection heals, the kernel
re-sends what was published meanwhile (numbered output), and the notebook drops what it
already had — every line arrives once, in order; no output is lost.
"""

from __future__ import annotations

import re
import subprocess
import time
from typing import Any

import pytest
from slurm.conftest import slurm_lab  # noqa: F401 - the lab fixture
from test_contract import _connected, _run, launched  # noqa: F401 - the launched kernel
from test_ssh_infra import _wait_for, infra, lab, no_leftover_kernels, notes  # noqa: F401

from jupyter_sky.infra.base import Infra, Launch

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]


@pytest.mark.timeout(60)
def test_a_dropped_connection_heals(launched: tuple[Infra, dict, Launch]) -> None:  # noqa: F811
    ssh, handle, _ = launched
    live = _connected(ssh, "drop", handle)
    _run(live, "x = 41")
    conn = ssh._conn("lab")
    forwards = ssh._kernel(handle).forwards
    before = forwards.connections()
    assert before["shell_port"] == before["iopub_port"] == 1
    old = conn._transport
    old.close()  # what a VPN flap or laptop sleep does to the TCP connection
    # Wait for ZMQ to reconnect through the forwards, which log in again on their own.
    deadline = time.monotonic() + 20
    while not _healed(conn, old, forwards, before) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _healed(conn, old, forwards, before)
    time.sleep(0.3)  # the re-sent iopub subscription reaches the kernel
    msgs = _run(live, "print(x + 1)")
    assert any(m["content"].get("text") == "42\n" for m in msgs)
    assert ssh.is_alive(handle)
    live.detach()


def _session_pids(conn: Any) -> list[int]:
    """The sshd processes serving this paramiko connection (found by its local port)."""
    port = conn._transport.sock.getsockname()[1]
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( dport = :{port} )"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return sorted({int(pid) for pid in re.findall(r"pid=(\d+)", out)})


@pytest.mark.timeout(90)
def test_killing_the_ssh_session_mid_stream_loses_no_line_and_duplicates_none(
    launched: tuple[Infra, dict, Launch],  # noqa: F811
) -> None:
    """The sshd process carrying the kernel's forwards is SIGKILLed while a cell prints: the
    connection heals, the kernel re-sends what was published meanwhile (numbered output),
    and the notebook drops what it already had — every line arrives once, in order."""
    ssh, handle, _ = launched
    live = _connected(ssh, "kill", handle)
    stream_through_a_killed_session(live, ssh._conn("lab"))
    live.detach()


def stream_through_a_killed_session(live: Any, conn: Any, lines: int = 400) -> None:
    """Run a cell printing ``lines`` numbered lines; SIGKILL ``conn``'s sshd session after
    the first 40 arrived; assert the cell ends ok with every line once, in order."""
    import threading

    from jupyter_sky.kernel.execute import run_cell
    from jupyter_sky.kernel.relay import CellRelay

    texts: list[str] = []

    class Lines(CellRelay):
        def handle(self, msg: dict) -> None:
            texts.append(msg["content"].get("text", ""))

    code = (
        f"import time\nfor i in range({lines}):\n"
        "    print(f'line {i}', flush=True)\n    time.sleep(0.005)"
    )
    box: dict[str, Any] = {}
    cell = threading.Thread(target=lambda: box.update(out=run_cell(live, code, Lines(None))))
    cell.start()
    _wait_for(lambda: "".join(texts).count("\n") >= 40, 20)
    pids = _session_pids(conn)
    assert pids, "no sshd process found for the connection"
    old = conn._transport
    subprocess.run(["kill", "-9", *map(str, pids)], check=True)  # the SSH session dies
    cell.join(60)
    assert not cell.is_alive() and box["out"].status == "ok", box
    assert conn._transport is not old  # it really reconnected
    assert "".join(texts).splitlines() == [f"line {i}" for i in range(lines)]




def _healed(conn: Any, old: Any, forwards: Any, expected: dict[str, int]) -> bool:
    """Is there a new transport, and does every forward carry its connections over it?"""
    new = conn._transport
    if new is None or new is old:
        return False
    for name, fwd in forwards.forwards.items():
        with fwd._lock:
            chans = [chan for _, chan in fwd._pairs]
        if len(chans) != expected[name] or any(c.get_transport() is not new for c in chans):
            return False
    return True


