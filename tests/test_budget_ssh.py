"""The target side of a budget on a real SSH host (the lab's sshd, 127.0.0.1:2222): the
notebook is killed mid-cell (a laptop closed), the remote kernel on the host interrupts the
cell itself at the limit it got with the cell, and stays idle with its variables (the ssh infra
cannot stop and keep a cluster), so another notebook adopts it and reads how far it got."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from slurm.conftest import SlurmLab, slurm_lab  # noqa: F401 - the lab fixture

from tests.nbdriver import Notebook

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]

PRICED = "prices:\n  ssh:\n    cpu: 3600\n    memory: 0\n"  # $1 a second for 1 vCPU


@pytest.fixture(scope="module")
def lab(slurm_lab: SlurmLab) -> SlurmLab:  # noqa: F811
    pytest.importorskip("paramiko")
    return slurm_lab


def _notebook(lab: SlurmLab, home: Path, cwd: Path) -> Notebook:
    nb = Notebook({**os.environ, "JUPYTER_SKY_HOME": str(home)}, str(cwd))
    setup = (
        "%load_ext jupyter_sky\n"
        "from jupyter_sky.infra import _loaded, register\n"
        "from jupyter_sky.infra.ssh import SshInfra\n"
        "register('jupyter_sky.infra.ssh:SshInfra')\n"
        f"_loaded['ssh'] = SshInfra({{'config_file': {str(lab.ssh_config)!r}, "
        "'hosts': {'lab': {}}})\n"
    )
    res = nb.run(setup)
    assert res.status == "ok", res.error_text
    return nb


def test_ssh_target_interrupts_the_cell_at_the_limit_with_the_notebook_gone(
    lab: SlurmLab, tmp_path: Path
) -> None:
    home, cwd = tmp_path / "home", tmp_path / "nb"
    home.mkdir()
    cwd.mkdir()
    (cwd / "jupyter_sky.yaml").write_text(PRICED)
    first = _notebook(lab, home, cwd)
    second: Notebook | None = None
    try:
        warm = first.run("%%sky --infra ssh/lab --cpus 1+ --name far\nsteps = 0")
        assert warm.status == "ok", warm.error_text
        first.send(
            "%%sky --name far --max-cost 2\nimport time\n"
            "for _ in range(300):\n    time.sleep(0.1)\n    steps += 1"
        )
        time.sleep(1.0)  # the cell is running on the host
        first.kc.stop_channels()
        first.km.shutdown_kernel(now=True)  # the laptop closes
        time.sleep(6)  # 30 s of cell unless the host stops it at ~$2 (~2 s)
        second = _notebook(lab, home, cwd)
        got = second.run("%%sky --name far\nprint('steps', steps)")
        assert got.status == "ok", got.error_text
        assert "adopted cluster 'far'" in got.stderr
        steps = int(got.stdout.split()[-1])
        time.sleep(2)
        assert second.run("%%sky --name far\nprint('steps', steps)").stdout.split()[-1] == str(steps)
        assert 5 <= steps < 50, steps  # interrupted on the host, not finished (300)
    finally:
        if second is None:
            second = _notebook(lab, home, cwd)
        second.run("%sky down far")
        second.shutdown()
