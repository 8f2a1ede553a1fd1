"""A budget on a priced lab infra that can stop (AWS lab, SIMULATED HYPERVISOR: the EC2
instance is a network-namespace host with a real sshd; the EC2 API is moto, the kernel and the
cell are real): at ``--max-cost`` the running cell is interrupted, what it assigned comes home,
the cluster is **stopped** (instance stopped, disk kept, state STOPPED) and the cell says what
was spent and why; the spend record keeps the reason."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sky.infra.aws import provision
from jupyter_sky.infra.aws.identity import user_name
from jupyter_sky.state import Store

from .conftest import AwsLab
from .infra_helpers import nothing_left

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbdriver import Notebook  # noqa: E402

pytestmark = [pytest.mark.aws, pytest.mark.slow]

# c6i.large at $0.085/h: $0.0002 is about 8.5 s of cell.
LONG_CELL = "import time\nsteps = 0\nfor _ in range(600):\n    time.sleep(0.1)\n    steps += 1"


@pytest.fixture
def notebook(aws_lab: AwsLab, infra_home: Path, tmp_path: Path) -> Iterator[Notebook]:
    """A notebook kernel whose user config is the lab's ``aws:`` section (as test_aws_notebook)."""
    gateway, vm_endpoint = aws_lab.info["gateway"], aws_lab.vm_endpoint
    (infra_home / "config.yaml").write_text(
        "aws:\n"
        f"  ssh_cidr: {gateway}/32\n  use_internal_ips: true\n  vpc_name: {aws_lab.vpc_name}\n"
        "  ssh_timeout: 60\n  autostop_shutdown: false\n"
        "  autostop_env: {AWS_ACCESS_KEY_ID: testing, AWS_SECRET_ACCESS_KEY: testing, "
        f"AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL_EC2: '{vm_endpoint}'}}\n"
    )
    nb = Notebook(dict(os.environ), str(tmp_path))
    assert nb.run("%load_ext jupyter_sky").status == "ok"
    yield nb
    nb.shutdown()


def test_simulated_aws_cell_is_interrupted_and_cluster_stopped_at_max_cost(
    aws_lab: AwsLab, infra_home: Path, notebook: Notebook
) -> None:
    res = notebook.run(
        f"%%sky --infra aws/us-east-1 --cpus 2 --name capped --max-cost 0.0002\n{LONG_CELL}",
        timeout=300,
    )
    assert res.status == "error", res.stdout
    text = res.error_text
    assert "Budget reached: this cell spent $0.0002 at $0.09/h, reaching --max-cost $0.0002 ($0.00 spent" in text, text
    assert "cluster 'capped' was stopped (its disk is kept; the next cell on it starts it again)" in text
    steps = int(notebook.value("steps"))
    assert 30 <= steps < 600, steps  # interrupted, and what it counted came home
    [inst] = provision.cluster_instances(provision.client("us-east-1"), user_name(), "capped")
    assert inst["State"]["Name"] in ("stopping", "stopped"), inst["State"]
    status = notebook.run("%sky status", timeout=120).stdout
    assert any(line.split()[:3] == ["capped", "aws", "STOPPED"] for line in status.splitlines()), status
    run = Store(infra_home).runs("capped")[-1]
    assert run["status"] == "interrupted" and run["reason"].startswith("Budget reached")
    assert run["price"] == pytest.approx(0.085) and 0.0002 <= run["cost"] < 0.001
    assert notebook.run("%sky down capped", timeout=180).status == "ok"
    nothing_left(aws_lab, "capped")
