"""Fault: a full disk — under the state database, and under a cluster's directory.

Cells on a running cluster go on (one warning), the spend records of the cells run meanwhile
are held and written once there is room again, and a launch that cannot write its files is
one sentence naming the full disk, with the notebook's variables untouched. The disk is a
real 4 MB tmpfs mounted as JUPYTER_SKY_HOME (needs root), filled with a file; on the lab's SSH
host, a 1 MB tmpfs as the cluster's workdir there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbdriver import Notebook
from slurm.conftest import SlurmLab, slurm_lab  # noqa: F401 - the lab fixture
from test_fault_interrupt import _kernel_pids
from test_ssh_infra import lab  # noqa: F401 - the lab's sshd

from jupyter_sky.state import Store


def test_full_state_db_warns_once_and_cells_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite's own "database or disk is full" (a page limit): a warning once, no exception;
    the runs are written once the limit is lifted, none lost."""
    store = Store(tmp_path / "home")
    store.list_clusters()
    db = store._db()
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    for k in range(3):
        run_id = store.start_run("c1", "x" * 4000 + str(k), "local", {"where": "y" * 4000})
        store.end_run(run_id, "ok", 0.5)
    err = capsys.readouterr().err
    assert err.count("could not write the state database") == 1, err
    assert "database or disk is full" in err
    assert store.runs("c1") == []
    db.execute(f"PRAGMA max_page_count = {pages * 100}")  # room again
    store.end_run(store.start_run("c1", "after", "local", {}), "ok", 0.5)
    runs = store.runs("c1")
    assert len(runs) == 4 and {r["status"] for r in runs} == {"ok"}
    assert sum(r["cost"] for r in runs) == 2.0  # no cost record lost


@pytest.fixture
def small_home(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs as JUPYTER_SKY_HOME."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    mount = ["mount", "-t", "tmpfs", "-o", "size=4m,mode=700", "tmpfs", str(home)]
    if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield home
    subprocess.run(["umount", "-l", str(home)], check=False)


def _fill(home: Path) -> None:
    subprocess.run(["dd", "if=/dev/zero", f"of={home / 'filler'}", "bs=64k"], capture_output=True)


def test_cells_and_launches_on_a_full_disk(small_home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "JUPYTER_SKY_HOME": str(small_home)}
    nb = Notebook(env, str(tmp_path))
    try:
        assert nb.run("%load_ext jupyter_sky").status == "ok"
        assert nb.run("mine = 5").status == "ok"
        res = nb.run("%%sky --name full\nx = 1\nprint('first')")
        assert res.status == "ok", res.error_text
        _fill(small_home)
        res = nb.run("%%sky --name full\nx += 1\nprint('second', x)")
        assert res.status == "ok" and "second 2" in res.stdout, res.error_text
        assert res.stderr.count("could not write the state database") == 1, res.stderr
        res = nb.run("%%sky --name other\nmine = 'clobbered'")
        assert res.status == "error"
        assert res.error_text.strip().endswith(
            f"The local kernel exited while starting: the disk of {small_home}/clusters/other "
            "is full."
        ), res.error_text
        assert nb.value("mine") == "5"  # nothing clobbered
        assert _kernel_pids(str(small_home / "clusters" / "other") + "/") == []
        (small_home / "filler").unlink()
        res = nb.run("%%sky --name full\nprint('third', x)")
        assert res.status == "ok" and "third 2" in res.stdout, res.error_text
        runs = Store(small_home).runs("full")
        assert [r["status"] for r in runs] == ["ok", "ok", "ok"]  # the held run was written
        assert "is down" in nb.run("%sky down full").stdout
    finally:
        nb.shutdown()
    marker = str(small_home / "clusters") + "/"
    deadline = time.monotonic() + 10
    while _kernel_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _kernel_pids(marker) == []


SSH_SETUP = (
    "from jupyter_sky.infra import _loaded, register\n"
    "from jupyter_sky.infra.ssh import SshInfra\n"
    "register('jupyter_sky.infra.ssh:SshInfra')\n"
    "_loaded['ssh'] = SshInfra({{'config_file': {config!r}, 'hosts': {{'lab': {{}}}}}})\n"
    "mine = 5\n"
)


@pytest.mark.slurm
@pytest.mark.timeout(120)
def test_workdir_sent_to_a_full_ssh_host_disk(
    lab: SlurmLab, fresh_nb: Notebook, tmp_path: Path  # noqa: F811
) -> None:
    """The host's workdir is a full 1 MB tmpfs: the cell is one sentence naming the full disk,
    the host keeps its old copy of the file, the notebook's variables are untouched, and the
    cell runs once the file fits again."""
    from jupyter_sky.infra.ssh import _client_tag

    remote = Path(f"/home/{lab.user}/.jupyter_sky/workdirs/sshfull-{_client_tag()}")
    remote.mkdir(parents=True, exist_ok=True)
    shutil.chown(remote, lab.user, lab.user)
    uid = remote.stat().st_uid
    mount = ["mount", "-t", "tmpfs", "-o", f"size=1m,uid={uid},gid={uid}", "tmpfs", str(remote)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        work = tmp_path / "work"
        work.mkdir()
        (work / "data.txt").write_text("v1")
        assert fresh_nb.run(SSH_SETUP.format(config=str(lab.ssh_config))).status == "ok"
        cell = f"%%sky --infra ssh/lab --name sshfull --workdir {work}\nprint(open('data.txt').read())"
        res = fresh_nb.run(cell)
        assert res.status == "ok" and "v1" in res.stdout, res.error_text
        (work / "data.txt").write_bytes(b"x" * 2_000_000)
        res = fresh_nb.run(cell + "\nmine = 'clobbered'")
        assert res.status == "error"
        assert res.error_text.strip().splitlines()[-1].endswith(
            "(its disk is full: " + str(remote) + " has no room left); the cell did not run, "
            "and the host's files are as they were."
        ), res.error_text
        assert "Traceback" not in res.error_text and res.error_text.count("could not send") == 1
        assert (remote / "data.txt").read_text() == "v1"
        assert fresh_nb.value("mine") == "5"
        (work / "data.txt").write_text("v2, a new size")  # same size and second as v1 would look unchanged
        res = fresh_nb.run(cell)
        assert res.status == "ok" and "v2, a new size" in res.stdout, res.error_text
        assert "is down" in fresh_nb.run("%sky down sshfull").stdout
    finally:
        subprocess.run(["umount", "-l", str(remote)], check=False)
