"""The infra contract suite (tests/test_contract.py) on ``k8s``, against the engine
(SIMULATED CONTAINERS: API server, scheduler, events, RBAC and port-forward are real), and a
port-forward stream broken mid-cell that loses no output line.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from jupyter_sky.infra.base import Infra
from jupyter_sky.infra.kubernetes import KubernetesInfra
from jupyter_sky.infra.kubernetes.config import KubernetesConfig

from .conftest import IMAGE_KERNEL, K8sEngine
from .helpers import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_contract import (  # noqa: E402, F401 - the contract suite, run on k8s
    _connected,
    _launch,
    launched,
    test_check_is_a_sentence_or_empty,
    test_interrupt_keeps_the_kernel,
    test_launch_connect_run_and_down,
    test_offerings_describe_the_target,
    test_restart_replaces_the_kernel_in_place,
    test_unmet_names_what_is_missing,
)


@pytest.fixture
def infra(k8s: K8sEngine, session_home: Path, monkeypatch: pytest.MonkeyPatch) -> Infra:
    monkeypatch.setenv("KUBECONFIG", str(k8s.user_kubeconfig))
    return KubernetesInfra(KubernetesConfig(image=IMAGE_KERNEL, pending_timeout=20))


@pytest.mark.timeout(120)
def test_simulated_containers_broken_port_forward_stream_mid_cell_loses_no_line(
    launched: tuple[KubernetesInfra, Any, Any],  # noqa: F811
) -> None:
    """The iopub port-forward stream is cut while a cell prints: ZMQ reconnects through a new
    stream, the kernel re-sends what was published meanwhile (numbered output), and every
    line arrives once, in order."""
    from jupyter_sky.kernel.execute import run_cell
    from jupyter_sky.kernel.relay import CellRelay

    infra, handle, _ = launched
    live = _connected(infra, "cut", handle)
    texts: list[str] = []

    class Lines(CellRelay):
        def handle(self, msg: dict[str, Any]) -> None:
            texts.append(msg["content"].get("text", ""))

    lines = 400
    code = f"import time\nfor i in range({lines}):\n    print(f'line {{i}}', flush=True)\n    time.sleep(0.005)"
    box: dict[str, Any] = {}
    cell = threading.Thread(target=lambda: box.update(out=run_cell(live, code, Lines(None))))
    cell.start()
    wait_for(lambda: "".join(texts).count("\n") >= 40, 20, "the first 40 lines")
    forward = infra._kernel(handle).forwards.forwards["iopub_port"]  # type: ignore[union-attr]
    with forward._lock:
        pairs = list(forward._pairs)
    assert pairs, "no forwarded iopub connection"
    for _, stream in pairs:
        stream._forward.close()  # the websocket of the port-forward dies
    cell.join(60)
    assert not cell.is_alive() and box["out"].status == "ok", box
    assert "".join(texts).splitlines() == [f"line {i}" for i in range(lines)]
    with forward._lock:
        now = list(forward._pairs)
    assert now and not set(now) & set(pairs)  # iopub really runs over a new stream
    live.detach()
