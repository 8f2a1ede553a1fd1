"""The infra contract: one suite every infra passes (fsspec's tests/abstract pattern).

``local`` runs it for real now; later infras add their kind to ``INFRAS`` (with the
fixture that brings their daemon up) and must pass the same tests unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sky.config import Config
from jupyter_sky.infra import get_infra
from jupyter_sky.infra.base import Infra, Launch
from jupyter_sky.kernel.cluster import LiveCluster
from jupyter_sky.spec.task import parse_line, task_from_args

INFRAS = ["local"]


@pytest.fixture(params=INFRAS)
def infra(request: pytest.FixtureRequest, session_home: Path) -> Infra:
    return get_infra(request.param)


def _launch(infra: Infra, name: str, tmp_path: Path, flags: str = "") -> Launch:
    task = task_from_args(parse_line(f"--name {name} {flags}"), "pass", tmp_path)
    return Launch(name, task, Config())


@pytest.fixture
def launched(infra: Infra, tmp_path: Path) -> Iterator[tuple[Infra, dict, Launch]]:
    request = _launch(infra, f"contract-{infra.kind}", tmp_path)
    handle = infra.launch(request)
    yield infra, handle, request
    infra.down(handle)


def _connected(infra: Infra, name: str, handle: dict) -> LiveCluster:
    live = LiveCluster(name, infra, handle)
    live.connect()
    return live


def _run(live: LiveCluster, code: str) -> list[dict]:
    from jupyter_sky.kernel.execute import run_cell
    from jupyter_sky.kernel.relay import CellRelay

    seen: list[dict] = []

    class Recorder(CellRelay):
        def handle(self, msg: dict) -> None:
            seen.append(msg)

    outcome = run_cell(live, code, Recorder(None))
    assert outcome.status == "ok", outcome.error
    return seen


def test_check_is_a_sentence_or_empty(infra: Infra) -> None:
    reason = infra.check()
    assert reason == "" or reason.endswith(".")


def test_unmet_names_what_is_missing(infra: Infra, tmp_path: Path) -> None:
    impossible = _launch(infra, "x", tmp_path, "--cpus 100000").task.resources
    reason = infra.unmet(impossible)
    assert "CPUs" in reason and reason.endswith(".")
    assert infra.unmet(_launch(infra, "x", tmp_path).task.resources) == ""


def test_offerings_describe_the_target(infra: Infra, tmp_path: Path) -> None:
    offers = infra.offerings(_launch(infra, "x", tmp_path).task.resources)
    assert offers and all(o.infra == infra.kind and o.vcpus > 0 for o in offers)


def test_launch_connect_run_and_down(launched: tuple[Infra, dict, Launch]) -> None:
    infra, handle, _ = launched
    assert infra.is_alive(handle)
    live = _connected(infra, "contract", handle)
    msgs = _run(live, "print('contract ok')")
    assert any(m["content"].get("text") == "contract ok\n" for m in msgs)
    assert live.info["pid"] and live.info["python"]
    assert infra.where(handle)
    live.detach()
    infra.down(handle)
    assert not infra.is_alive(handle)
    infra.down(handle)  # idempotent


def test_interrupt_keeps_the_kernel(launched: tuple[Infra, dict, Launch]) -> None:
    from jupyter_sky.kernel.execute import run_cell
    from jupyter_sky.kernel.relay import CellRelay

    infra, handle, _ = launched
    live = _connected(infra, "contract", handle)
    pid = live.info["pid"]
    assert live.channels is not None
    live.channels.send(
        "shell", "execute_request", {"code": "import time\ntime.sleep(30)", "silent": False}
    )
    time.sleep(0.5)
    infra.interrupt(handle)
    outcome = run_cell(live, "print('after')", CellRelay(None))
    assert outcome.status == "ok"
    live.detach()
    assert _connected(infra, "contract", handle).info["pid"] == pid


def test_restart_replaces_the_kernel_in_place(launched: tuple[Infra, dict, Launch]) -> None:
    infra, handle, request = launched
    old = _connected(infra, "contract", handle)
    old_pid = old.info["pid"]
    old.detach()
    new_handle = infra.restart(handle, request)
    try:
        fresh = _connected(infra, "contract", new_handle)
        assert fresh.info["pid"] != old_pid
        assert fresh.info["host"] == old.info["host"]
        fresh.detach()
    finally:
        infra.down(new_handle)
