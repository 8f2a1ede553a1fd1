"""binder/ works the way repo2docker's Python build pack uses it: in a fresh venv, from the
repository root, ``pip install -r binder/requirements.txt``, then ``binder/postBuild``; the quick
start notebook then runs in that venv (its own kernel, its own jupyter-sky) on the local infra."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_server_wheel import _source_copy


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, f"{cmd}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return re.sub(r"\x1b\[[0-9;]*m", "", res.stdout + res.stderr)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_binder_environment_runs_the_quickstart(tmp_path: Path) -> None:
    repo = _source_copy(tmp_path / "repo")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "VIRTUAL_ENV"))},
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(home),
        "JUPYTER_SKY_HOME": str(home / ".jupyter_sky"),
        # the machine's package caches, not the fresh HOME's empty ones
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", os.path.expanduser("~/.cache/pip")),
        "npm_config_cache": os.path.expanduser("~/.cache/jupyter-sky/npm"),
    }
    _run(["pip", "install", "-q", "-r", "binder/requirements.txt"], repo, env)
    _run(["binder/postBuild"], repo, env)
    assert (home / ".jupyter_sky" / "config.yaml").read_text().startswith("defaults:")
    shown = _run(["python", "scripts/run_notebook.py", "example_notebooks/quickstart.ipynb"], repo, env)
    assert "step 0" in shown and "step 2" in shown
    assert "6 [1, 2, 3, 4]" in shown and "cluster 'demo' is down" in shown
    where = _run(["python", "-c", "import jupyter_sky; print(jupyter_sky.__file__)"], home, env)
    assert where.startswith(str(venv)), where  # the venv's own install, not this checkout
    lab = _run(["jupyter", "labextension", "list"], repo, env)
    assert any("jupyter-sky" in x and "enabled" in x for x in lab.splitlines()), lab
