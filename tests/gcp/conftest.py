"""Fixtures the simulated-GCP tests share: a lab per test module (the fake Compute Engine
that the real google-cloud-compute SDK talks to over HTTP, and network-namespace VMs with a
real sshd), a fresh JUPYTER_SKY_HOME per test that must leave nothing on the lab, and a
notebook kernel in it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.gcp_lab import GcpLab, running_lab  # noqa: E402
from nbdriver import Notebook  # noqa: E402


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcpLab]:
    yield from running_lab(tmp_path_factory.mktemp("gcp-lab"))


@pytest.fixture
def home(lab: GcpLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh JUPYTER_SKY_HOME whose own config is the lab's ``gcp:`` section; the test must
    leave nothing on the simulated GCP."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.yaml").write_text(lab.config())
    for name, value in {"JUPYTER_SKY_HOME": str(home), "GOOGLE_APPLICATION_CREDENTIALS": str(lab.adc),
                        "JUPYTER_SKY_WATCHDOG_INTERVAL": "0.5", "NO_GCE_CHECK": "true"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    lab.fake.faults.clear()
    yield home
    lab.fake.faults.clear()
    assert lab.leftovers() == [], "a test left resources on the simulated GCP"


@pytest.fixture
def notebook(home: Path, tmp_path: Path) -> Iterator[Notebook]:
    nb = Notebook(dict(os.environ), str(tmp_path))
    assert nb.run("%load_ext jupyter_sky").status == "ok"
    yield nb
    nb.shutdown()
