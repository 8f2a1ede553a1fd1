"""The wheel ships the Sky panel prebuilt: built from a copy of this source tree (hatch-jupyter-
builder runs npm and the JupyterLab extension build), installed into a fresh venv whose PATH has
no ``node``, ``jupyter labextension list`` shows the panel enabled and ``jupyter server extension
list`` shows the server side enabled and loadable."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LABEXT = "share/jupyter/labextensions/jupyter-sky"
SERVER_CONFIG = "etc/jupyter/jupyter_server_config.d/jupyter_sky.json"


def _source_copy(dest: Path) -> Path:
    """The files git would commit (tracked and new, not ignored); node_modules hard-linked."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    modules = REPO / "labextension" / "node_modules"
    if modules.is_dir():  # saves the npm install; the TypeScript and bundle build still run
        subprocess.run(["cp", "-al", str(modules), str(dest / "labextension")], check=True)
    assert not (dest / "jupyter_sky" / "labextension").exists()
    return dest


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert res.returncode == 0, f"{cmd} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return re.sub(r"\x1b\[[0-9;]*m", "", res.stdout + res.stderr)  # no colour codes


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_wheel_ships_the_panel_and_needs_no_node(tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(src)])
    (wheel,) = dist.glob("jupyter_sky-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = [n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n]
    assert f"{LABEXT}/package.json" in data and SERVER_CONFIG in data, data
    assert any(n.startswith(f"{LABEXT}/static/remoteEntry.") for n in data), data
    assert not any(n.startswith("jupyter_sky/labextension/") for n in names)  # shipped once

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel), "jupyterlab>=4.1,<5"])
    env = {
        "PATH": str(venv / "bin"),  # no node here
        "HOME": str(tmp_path / "home"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_PLATFORM_DIRS": "0",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    assert shutil.which("node", path=env["PATH"]) is None
    labext = _run([str(venv / "bin" / "jupyter"), "labextension", "list"], env)
    line = next((x for x in labext.splitlines() if "jupyter-sky" in x), "")
    assert "v0.1.0" in line and "enabled" in line and "OK" in line, labext
    server = _run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], env)
    lines = [x.strip() for x in server.splitlines() if "jupyter_sky.server" in x]
    assert any("enabled" in x for x in lines) and any(x.endswith("OK") for x in lines), server
