"""Loading the extension: cheap, no cloud SDK imported, help available."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

SDKS = ["boto3", "botocore", "google.cloud.compute", "azure.identity", "kubernetes", "paramiko"]
CHECK = """
import sys
from IPython.testing import globalipapp
ip = globalipapp.get_ipython()
ip.run_line_magic("load_ext", "jupyter_sky")
assert "sky" in ip.magics_manager.magics["cell"], "%%sky not registered"
assert "sky" in ip.magics_manager.magics["line"], "%sky not registered"
import threading
for thread in threading.enumerate():  # the background warm-up must not load them either
    if thread.name == "jupyter-sky-warm-up":
        thread.join(30)
heavy = {"boto3", "botocore", "google", "azure", "kubernetes", "paramiko", "pandas"}
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & heavy)))
"""


def test_all_extra_is_installed_so_the_lazy_import_test_means_something() -> None:
    missing = [name for name in SDKS if importlib.util.find_spec(name.split(".")[0]) is None]
    if missing and os.environ.get("CI"):
        pytest.fail(f"jupyter-sky[all] is not fully installed: {missing}")
    if missing:
        pytest.skip(f"not installed here: {missing}")


def test_load_ext_imports_no_cloud_sdk() -> None:
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_cell_magic_help_lists_flags() -> None:
    from IPython.testing import globalipapp

    ip = globalipapp.get_ipython()
    ip.run_line_magic("load_ext", "jupyter_sky")
    doc = ip.magics_manager.magics["cell"]["sky"].__doc__
    for flag in (
        "--gpus",
        "--infra",
        "--name",
        "--push",
        "--pull",
        "--no-pull",
        "--autostop",
        "--detach",
    ):
        assert flag in doc, flag


def test_cli_runs_subcommands_and_reports_bad_ones_in_one_sentence(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "JUPYTER_SKY_HOME": str(tmp_path)}
    ok = subprocess.run(
        [sys.executable, "-m", "jupyter_sky.cli", "gpus", "T4:1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ok.returncode == 0 and ok.stdout.startswith("INFRA")
    bad = subprocess.run(
        [sys.executable, "-m", "jupyter_sky.cli", "bogus"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 1
    assert (
        bad.stderr.strip()
        == "jupyter-sky: Unknown %sky subcommand 'bogus'; choose one of status, stop, down, check, gpus, plan, jobs, attach, cost."
    )
