"""Fault: the remote kernel is SIGKILLed mid-cell (a real signal; a local kernel, and one on
the lab's sshd).

The cell ends with one sentence, the next cell starts a fresh kernel, nothing is left
running, and the run's spend record is closed (status 'died', an end time, a cost).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from nbdriver import Notebook
from slurm.conftest import SlurmLab, slurm_lab  # noqa: F401 - the lab fixture
from test_cells import remote_pid
from test_fault_interrupt import _kernel_pids
from test_ssh_infra import lab  # noqa: F401 - the lab's sshd

from jupyter_sky.state import Store


def _wait_for_line(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), "the cell never started"


def test_kernel_killed_from_outside_mid_cell(fresh_nb: Notebook, session_home: Path, tmp_path: Path) -> None:
    """SIGKILL from outside while the cell prints: one sentence, the output printed before the
    kill is shown, the spend record is closed, the next cell runs, and down leaves no kernel."""
    nb = fresh_nb
    pid = remote_pid(nb, "killme")
    started = tmp_path / "started"
    code = (
        "%%sky --name killme\nimport pathlib, time\nprint('before the kill', flush=True)\n"
        f"pathlib.Path({str(started)!r}).touch()\ntime.sleep(60)"
    )
    msg_id = nb.send(code)
    _wait_for_line(started)
    os.kill(pid, signal.SIGKILL)
    res = nb.collect(msg_id, timeout=30)
    assert res.status == "error" and res.error is not None
    assert res.error["ename"] == "RemoteKernelDied"
    assert res.error_text.count("died while running this cell") == 1, res.error_text
    assert "Traceback" not in res.error_text
    assert "before the kill" in res.stdout  # no output lost
    runs = Store(session_home).runs("killme")
    assert [r["status"] for r in runs] == ["ok", "died"]  # every spend record is closed
    assert all(r["ended_at"] is not None for r in runs)
    res = nb.run("%%sky --name killme\nimport os\nprint('PID', os.getpid())")
    assert res.status == "ok" and "PID" in res.stdout, res.error_text
    assert str(pid) not in res.stdout
    assert "is down" in nb.run("%sky down killme").stdout
    marker = str(session_home / "clusters" / "killme") + "/"
    deadline = time.monotonic() + 10
    while _kernel_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _kernel_pids(marker) == []  # no cluster leaked
    assert all(r["ended_at"] is not None for r in Store(session_home).runs("killme"))


def test_remote_death_is_reported_quickly_and_next_cell_starts_fresh(fresh_nb: Notebook) -> None:
    """The kernel kills itself: reported within seconds, and the next cell says state was lost."""
    nb = fresh_nb
    nb.run("%%sky --name die\nvalue = 1")
    res = nb.run(
        "%%sky --name die\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)", timeout=30
    )
    assert res.status == "error" and res.error is not None
    assert res.error["ename"] == "RemoteKernelDied"
    assert "died while running this cell" in res.error_text
    assert res.elapsed < 5
    res = nb.run("%%sky --name die\nprint('alive again')")
    assert res.status == "ok", res.error_text
    assert "remote state was lost" in res.stderr
    assert "alive again" in res.stdout


SSH_SETUP = (
    "from jupyter_sky.infra import _loaded, register\n"
    "from jupyter_sky.infra.ssh import SshInfra\n"
    "register('jupyter_sky.infra.ssh:SshInfra')\n"
    "_loaded['ssh'] = SshInfra({{'config_file': {config!r}, 'hosts': {{'lab': {{}}}}}})\n"
)


def _runs(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slurm
@pytest.mark.timeout(120)
def test_ssh_kernel_killed_mid_cell(
    lab: SlurmLab, fresh_nb: Notebook, session_home: Path  # noqa: F811
) -> None:
    """The same on the lab's sshd: the kernel on the host is SIGKILLed while a cell runs."""
    if not Path(f"/home/{lab.user}").is_dir():
        pytest.skip("the lab's host is not this machine")
    nb = fresh_nb
    assert nb.run(SSH_SETUP.format(config=str(lab.ssh_config))).status == "ok"
    res = nb.run("%%sky --infra ssh/lab --name sshkill\nimport os\nprint('PID', os.getpid())")
    assert res.status == "ok", res.error_text
    pid = int(res.stdout.split("PID")[-1].split()[0])
    started = Path(f"/tmp/sky-fault-{uuid.uuid4().hex}")
    msg_id = nb.send(
        "%%sky --name sshkill\nimport pathlib, time\nprint('before the kill', flush=True)\n"
        f"pathlib.Path({str(started)!r}).touch()\ntime.sleep(60)"
    )
    try:
        _wait_for_line(started)
    finally:
        started.unlink(missing_ok=True)
    os.kill(pid, signal.SIGKILL)  # the lab's host is this machine
    res = nb.collect(msg_id, timeout=30)
    assert res.status == "error" and res.error is not None
    assert res.error["ename"] == "RemoteKernelDied", res.error_text
    assert res.error_text.count("died while running this cell") == 1, res.error_text
    assert "before the kill" in res.stdout
    res = nb.run("%%sky --name sshkill\nprint('where?')")  # the host is not known by name alone
    assert res.error_text.strip().splitlines()[-1] == (
        "InfraError: Cluster 'sshkill' ran on ssh and its kernel is gone or out of reach; give "
        "--infra ssh/… to start a fresh one there, or run %sky down sshkill first."
    ), res.error_text
    res = nb.run("%%sky --infra ssh/lab --name sshkill\nimport os\nprint('PID', os.getpid())")
    assert res.status == "ok", res.error_text
    new_pid = int(res.stdout.split("PID")[-1].split()[0])
    assert new_pid != pid
    assert "is down" in nb.run("%sky down sshkill").stdout
    deadline = time.monotonic() + 10
    while _runs(new_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _runs(pid) and not _runs(new_pid)  # nothing left on the host
    runs = Store(session_home).runs("sshkill")
    assert [r["status"] for r in runs] == ["ok", "died", "ok"]
    assert all(r["ended_at"] is not None for r in runs)  # every spend record closed
