"""The target side of a budget on the lab's real SSH host (sshd on 127.0.0.1:2222) and real
Slurm nodes: the notebook is killed mid-cell (a laptop closed), the remote kernel interrupts the
cell itself at the limit it got with the cell, and stays idle with its variables (neither infra
can stop and keep a cluster), so another notebook adopts it and reads how far it got."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from slurm.conftest import SlurmLab, slurm_lab  # noqa: F401 - the lab fixture

from tests.nbdriver import Notebook

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]

# $1 a second for 1 vCPU
PRICED = "prices:\n  ssh:\n    cpu: 3600\n    memory: 0\n  slurm:\n    cpu: 3600\n    memory: 0\n"
INFRAS = {
    "ssh": "SshInfra({{'config_file': {cfg!r}, 'hosts': {{'lab': {{}}}}}})",
    "slurm": "SlurmInfra({{'config_file': {cfg!r}}}, 'lab')",
}


@pytest.fixture(scope="module")
def lab(slurm_lab: SlurmLab) -> SlurmLab:  # noqa: F811
    pytest.importorskip("paramiko")
    return slurm_lab


def _notebook(lab: SlurmLab, home: Path, cwd: Path, kind: str) -> Notebook:
    nb = Notebook({**os.environ, "JUPYTER_SKY_HOME": str(home)}, str(cwd))
    cls = {"ssh": "SshInfra", "slurm": "SlurmInfra"}[kind]
    setup = (
        "%load_ext jupyter_sky\n"
        "from jupyter_sky.infra import _loaded, register\n"
        f"from jupyter_sky.infra.{kind} import {cls}\n"
        f"register('jupyter_sky.infra.{kind}:{cls}')\n"
        f"_loaded[{kind!r}] = " + INFRAS[kind].format(cfg=str(lab.ssh_config)) + "\n"
    )
    res = nb.run(setup)
    assert res.status == "ok", res.error_text
    return nb


@pytest.mark.parametrize("kind", ["ssh", "slurm"])
def test_target_interrupts_the_cell_at_the_limit_with_the_notebook_gone(
    lab: SlurmLab, tmp_path: Path, kind: str
) -> None:
    home, cwd = tmp_path / "home", tmp_path / "nb"
    home.mkdir()
    cwd.mkdir()
    (cwd / "jupyter_sky.yaml").write_text(PRICED)
    first = _notebook(lab, home, cwd, kind)
    second: Notebook | None = None
    try:
        warm = first.run(f"%%sky --infra {kind}/lab --cpus 1+ --name far\nsteps = 0", timeout=180)
        assert warm.status == "ok", warm.error_text
        first.send(
            "%%sky --name far --max-cost 2\nimport time\n"
            "for _ in range(300):\n    time.sleep(0.1)\n    steps += 1"
        )
        time.sleep(1.0)  # the cell is running on the host
        first.kc.stop_channels()
        first.km.shutdown_kernel(now=True)  # the laptop closes
        time.sleep(6)  # 30 s of cell unless the host stops it at ~$2 (~2 s)
        second = _notebook(lab, home, cwd, kind)
        got = second.run("%%sky --name far\nprint('steps', steps)")
        assert got.status == "ok", got.error_text
        assert "adopted cluster 'far'" in got.stderr
        steps = int(got.stdout.split()[-1])
        time.sleep(2)
        assert second.run("%%sky --name far\nprint('steps', steps)").stdout.split()[-1] == str(steps)
        assert 5 <= steps < 50, steps  # interrupted on the host, not finished (300)
    finally:
        if second is None:
            second = _notebook(lab, home, cwd, kind)
        second.run("%sky down far")
        second.shutdown()
