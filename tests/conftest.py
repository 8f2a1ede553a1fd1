"""Shared fixtures: an isolated JUPYTER_SKY_HOME and real notebook kernels."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from nbdriver import Notebook  # noqa: E402


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One JUPYTER_SKY_HOME for the session; every kernel left under it is killed at the end."""
    home = tmp_path_factory.mktemp("sky-home")
    old = os.environ.get("JUPYTER_SKY_HOME")
    os.environ["JUPYTER_SKY_HOME"] = str(home)
    # Remote kernels check idleness often, so watchdog and autostop tests end quickly.
    os.environ.setdefault("JUPYTER_SKY_WATCHDOG_INTERVAL", "0.5")
    yield home
    kill_kernels_under(home)
    if old is None:
        os.environ.pop("JUPYTER_SKY_HOME", None)
    else:
        os.environ["JUPYTER_SKY_HOME"] = old


def kill_kernels_under(home: Path) -> None:
    """Kill every remote kernel whose connection file lives under ``home`` (leak guard)."""
    marker = str(home).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"jupyter_sky.remote.kernel" in cmdline and marker in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)


@pytest.fixture(scope="module")
def nb(session_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notebook]:
    """A notebook kernel with ``%load_ext jupyter_sky`` done, shared by one test module."""
    cwd = tmp_path_factory.mktemp("nb")
    env = {**os.environ, "JUPYTER_SKY_HOME": str(session_home)}
    notebook = Notebook(env, str(cwd))
    res = notebook.run("%load_ext jupyter_sky")
    assert res.status == "ok", res.error_text
    yield notebook
    notebook.shutdown()


@pytest.fixture
def fresh_nb(session_home: Path, tmp_path: Path) -> Iterator[Notebook]:
    """A notebook kernel of the test's own (for tests that kill or restart kernels)."""
    env = {**os.environ, "JUPYTER_SKY_HOME": str(session_home)}
    notebook = Notebook(env, str(tmp_path))
    res = notebook.run("%load_ext jupyter_sky")
    assert res.status == "ok", res.error_text
    yield notebook
    notebook.shutdown()
