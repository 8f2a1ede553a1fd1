"""Cross-cloud failover, SIMULATED on both sides: the cheapest placement is GCP (the fake
Compute Engine of tests/fakes/gcp_lab.py, driven by the real google-cloud-compute SDK and
google-auth ADC), GCP says no to every zone of the region, and the cell lands on AWS (moto's
EC2 server behind the lab's fault layer, tests/aws/conftest.py). On both, each running VM is a
network-namespace host with a real sshd; provisioning, SSH, bootstrap, kernel and cell are real.

The real ``pipeline.failover.launch`` walks the rows cheapest first and the zones
``GcpInfra.zones`` gives; nothing may be left on GCP (instance or firewall rule).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aws import conftest as aws_fixtures
from aws.conftest import AwsLab
from aws.infra_helpers import lab_config, nothing_left, run
from fakes.base import FaultRule
from fakes.gcp_lab import GcpLab, running_lab

from jupyter_sky.config import Config, load_config
from jupyter_sky.infra import get_infra
from jupyter_sky.infra.aws import AwsHandle, AwsInfra
from jupyter_sky.infra.base import AnyInfra, Handle, Launch
from jupyter_sky.infra.gcp import GcpInfra
from jupyter_sky.infra.gcp.config import GcpConfig
from jupyter_sky.offering import Offering
from jupyter_sky.pipeline import failover
from jupyter_sky.spec.task import parse_line, task_from_args

aws_lab_simulated_hypervisor = aws_fixtures.aws_lab_simulated_hypervisor  # the AWS lab's fixtures
aws_lab = aws_fixtures.aws_lab

pytestmark = [pytest.mark.slow, pytest.mark.aws, pytest.mark.timeout(600)]

GCP_ROW = Offering("gcp", "us-central1", "n1-standard-2", 2, 7.5, price=0.095)
AWS_ROW = Offering("aws", "us-east-1", "t3.micro", 2, 1, price=0.104)


@pytest.fixture(scope="module")
def gcp_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcpLab]:
    yield from running_lab(tmp_path_factory.mktemp("gcp-lab"))


@pytest.fixture
def home(gcp_lab: GcpLab, aws_lab: AwsLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh JUPYTER_SKY_HOME whose config names both labs; ADC is the GCP lab's file."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.yaml").write_text(gcp_lab.config() + f"aws:\n  vpc_name: {aws_lab.vpc_name}\n")
    for name, value in {"JUPYTER_SKY_HOME": str(home), "GOOGLE_APPLICATION_CREDENTIALS": str(gcp_lab.adc),
                        "JUPYTER_SKY_WATCHDOG_INTERVAL": "0.5", "NO_GCE_CHECK": "true"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    gcp_lab.fake.faults.clear()
    yield home
    gcp_lab.fake.faults.clear()


class Walk:
    """Failover's callbacks over GCP and AWS, recording what it showed."""

    def __init__(self, aws: AwsLab, tmp_path: Path, cluster: str) -> None:
        self.aws = AwsInfra(notify=lambda line: None)
        self.gcp = GcpInfra()
        self.lines: list[str] = []
        self.task = task_from_args(parse_line(f"--name {cluster}"), "pass", tmp_path)
        gcp = load_config(tmp_path).of(GcpConfig)
        self.config = Config(infras={**lab_config(aws).infras, "gcp": gcp})
        self.cluster = cluster

    def infra_for(self, kind: str) -> AnyInfra:
        return {"aws": self.aws, "gcp": self.gcp}.get(kind) or get_infra(kind)

    def start(self, infra: AnyInfra, offering: Offering, index: int) -> Handle:
        request = Launch(self.cluster, self.task, self.config, offering=offering, notify=self.lines.append)
        return infra.launch(request)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("code", "tried", "said"),
    [("ZONE_RESOURCE_POOL_EXHAUSTED", 4, "no capacity at gcp"),  # every zone of the region is tried
     ("GPUS_ALL_REGIONS", 1, "GPU quota for all regions is used up")],  # the whole cloud is skipped
)  # fmt: skip
def test_gcp_full_everywhere_in_the_region_the_cell_lands_on_aws_and_nothing_is_left_on_gcp(
    gcp_lab: GcpLab, aws_lab: AwsLab, home: Path, tmp_path: Path, code: str, tried: int, said: str
) -> None:
    """SIMULATED GCP and AWS: GCP is the cheapest row but refuses every zone; AWS runs the cell."""
    gcp_lab.fake.faults.add(FaultRule(action="instances.insert", code=code))
    before = len(gcp_lab.fake.server.requests)
    rows = sorted([AWS_ROW, GCP_ROW], key=lambda row: row.price or 0.0)
    assert rows[0].infra == "gcp"  # the cheapest placement is GCP
    walk = Walk(aws_lab, tmp_path, f"xc-{tried}")
    got = failover.launch(rows, walk.infra_for, walk.start, walk.lines.append, max_attempts=10)
    try:
        gcp_tries = [a for a in got.attempts if a.where.startswith("gcp ")]
        zones = [a.where.rsplit(" ", 1)[-1] for a in gcp_tries]
        assert len(gcp_tries) == len(got.attempts) == tried, got.attempts
        assert len(set(zones)) == tried and all(z.startswith("us-central1-") for z in zones), zones
        assert all(said in a.reason for a in gcp_tries), got.attempts
        assert got.offering.infra == "aws" and got.index == 1
        assert any(line.startswith(f"attempt {tried}: gcp n1-standard-2 in ") for line in walk.lines), walk.lines
        assert gcp_lab.leftovers() == [], "a refused GCP attempt left resources"
        seen = gcp_lab.fake.server.requests[before:]
        inserts = [path for method, path in seen if method == "POST" and path.endswith("/instances")]
        assert len(inserts) == tried, inserts
        assert run(walk.aws, got.handle, "print(6 * 7)").strip() == "42"  # type: ignore[arg-type]
    finally:
        walk.aws.down(got.handle)  # type: ignore[arg-type]
    nothing_left(aws_lab, walk.cluster)
    assert gcp_lab.leftovers() == []
    assert isinstance(got.handle, AwsHandle)
