"""Issue 15 A and B: a shared home refused, a bad interpreter and the CLI's help in one sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_sky.config import load_config
from jupyter_sky.errors import ConfigError, InfraError
from jupyter_sky.infra.base import Launch
from jupyter_sky.infra.local import LocalInfra
from jupyter_sky.spec import Resources, Task
from jupyter_sky.state import Store


def test_home_writable_by_others_is_refused(tmp_path: Path) -> None:
    """Others could swap its connection files: refuse it, say how to fix it."""
    home = tmp_path / "shared"
    home.mkdir()
    os.chmod(home, 0o777)
    with pytest.raises(ConfigError) as err:
        Store(home).list_clusters()
    assert str(err.value) == (
        f"The jupyter-sky home {home} can be written by other users, who could replace its "
        f"connection files; run chmod 700 {home} or set JUPYTER_SKY_HOME to a private directory."
    )


def test_home_that_is_a_file_is_one_sentence(tmp_path: Path) -> None:
    home = tmp_path / "afile"
    home.write_text("")
    with pytest.raises(ConfigError) as err:
        Store(home).list_clusters()
    assert str(err.value) == (
        f"The jupyter-sky home {home} cannot be created (File exists); "
        "set JUPYTER_SKY_HOME to a directory you can write."
    )


def _cli(home: Path, *words: str) -> subprocess.CompletedProcess[str]:
    # A process of its own: the CLI keeps one manager per process, bound to its home.
    env = {**os.environ, "JUPYTER_SKY_HOME": str(home)}
    argv = [sys.executable, "-m", "jupyter_sky.cli", *words]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def test_cli_refuses_a_shared_home(tmp_path: Path) -> None:
    home = tmp_path / "shared"
    home.mkdir()
    os.chmod(home, 0o757)
    done = _cli(home, "status")
    assert done.returncode == 1
    assert done.stderr.startswith(f"jupyter-sky: The jupyter-sky home {home} can be written by")
    assert "Traceback" not in done.stderr


def test_cli_help(tmp_path: Path) -> None:
    done = _cli(tmp_path, "--help")
    assert done.returncode == 0
    assert (
        done.stdout.startswith("usage: jupyter-sky COMMAND") and "down NAME | --all" in done.stdout
    )


def test_local_python_pointing_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """local.python naming no program is a sentence, not a FileNotFoundError."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.yaml").write_text("local:\n  python: /nonexistent/bin/python\n")
    monkeypatch.setenv("JUPYTER_SKY_HOME", str(home))
    request = Launch(cluster="nopy", task=Task(resources=Resources()), config=load_config(None))
    with pytest.raises(InfraError) as err:
        LocalInfra().launch(request)
    assert str(err.value) == (
        "local.python is /nonexistent/bin/python, which cannot be run (No such file or "
        "directory); fix it in your config, or remove it to use the notebook's own Python."
    )
    assert sys.executable  # the notebook's own interpreter is the fallback named above


def test_unusable_state_db_is_one_sentence(tmp_path: Path) -> None:
    """A directory where the database should be (a damaged file is recovered instead: see
    test_fault_state_db.py)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    db = home / "state.db"
    db.mkdir()
    with pytest.raises(ConfigError) as err:
        Store(home).list_clusters()
    assert str(err.value) == (
        f"The state database {db} cannot be used (unable to open database file); move it aside "
        "(an empty one is made in its place) or fix what the reason names."
    )


NO_PARAMIKO = """
import sys
sys.modules["paramiko"] = None  # as if paramiko were not installed
from IPython.testing import globalipapp
ip = globalipapp.get_ipython()
ip.run_line_magic("load_ext", "jupyter_sky")
try:
    ip.run_cell_magic("sky", "--infra ssh/host", "pass")
except Exception as exc:
    print("ERROR", type(exc).__name__, exc)
"""


def test_ssh_without_paramiko_says_how_to_install_it(tmp_path: Path) -> None:
    """Not "ssh reported no offering": the install hint (a process of its own, no paramiko)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = {**os.environ, "JUPYTER_SKY_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", NO_PARAMIKO], env=env, cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert (
        "ERROR InfraError The ssh infra needs paramiko, which is not installed; "
        "run pip install 'jupyter-sky[ssh]'." in done.stdout
    ), done.stdout + done.stderr
