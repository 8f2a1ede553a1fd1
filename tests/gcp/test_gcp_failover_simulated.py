"""Failover over GCP placements on the SIMULATED GCP lab (tests/fakes/gcp_lab.py: the real
google-cloud-compute SDK and google-auth ADC against the fake Compute Engine, each running VM a
network-namespace host with a real sshd): the real ``pipeline.failover.launch`` walks the ranked
rows and the zones ``GcpInfra.zones`` gives, steered by the scope of each GCE error.

- ZONE_RESOURCE_POOL_EXHAUSTED in one zone → the region's next zone;
- QUOTA_EXCEEDED in a region → the next region's row (the region's other zones are not tried);
- a permission error → the whole cloud is skipped and the next infra (local) runs;
and no refused attempt leaves an instance or a firewall rule behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.base import FaultRule
from fakes.gcp_lab import GcpLab

from jupyter_sky.config import load_config
from jupyter_sky.infra import get_infra
from jupyter_sky.infra.base import AnyInfra, Handle, Launch
from jupyter_sky.infra.gcp import GcpInfra
from jupyter_sky.offering import Offering
from jupyter_sky.pipeline import failover
from jupyter_sky.spec.task import parse_line, task_from_args

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def row(region: str, zone: str | None = None) -> Offering:
    return Offering("gcp", region, "n1-standard-2", 2, 7.5, zone=zone, price=0.095)


class Walk:
    """Failover's callbacks, recording what it showed."""

    def __init__(self, tmp_path: Path, cluster: str) -> None:
        self.gcp = GcpInfra()
        self.lines: list[str] = []
        self.task = task_from_args(parse_line(f"--name {cluster}"), "pass", tmp_path)
        self.config = load_config(tmp_path)
        self.cluster = cluster

    def infra_for(self, kind: str) -> AnyInfra:
        return self.gcp if kind == "gcp" else get_infra(kind)

    def start(self, infra: AnyInfra, offering: Offering, index: int) -> Handle:
        request = Launch(self.cluster, self.task, self.config, offering=offering, notify=self.lines.append)
        return infra.launch(request)  # type: ignore[no-any-return]

    def launch(self, rows: list[Offering]) -> failover.Launched:
        return failover.launch(rows, self.infra_for, self.start, self.lines.append, max_attempts=10)


def test_no_capacity_in_a_zone_moves_to_the_next_zone(lab: GcpLab, home: Path, tmp_path: Path) -> None:
    """SIMULATED GCP: us-central1-a is exhausted; the VM comes up in another us-central1 zone."""
    lab.fake.faults.add(FaultRule(action="instances.insert", code="ZONE_RESOURCE_POOL_EXHAUSTED",
                                  match={"zone": "us-central1-a"}))  # fmt: skip
    walk = Walk(tmp_path, "gf1")
    got = walk.launch([row("us-central1", "us-central1-a")])
    try:
        assert [a.where for a in got.attempts] == ["gcp n1-standard-2 in us-central1-a"]
        assert "no capacity at gcp" in got.attempts[0].reason
        assert got.offering.zone and got.offering.zone.startswith("us-central1-")
        assert got.offering.zone != "us-central1-a"
        [(key, inst)] = lab.fake.instances.items()
        assert key[1] == got.offering.zone and inst.status == "RUNNING"
    finally:
        got.infra.down(got.handle)


def test_a_quota_in_a_region_moves_to_the_next_region(lab: GcpLab, home: Path, tmp_path: Path) -> None:
    """SIMULATED GCP: QUOTA_EXCEEDED in us-central1 skips its other zones; us-east1 runs."""
    lab.fake.faults.add(FaultRule(action="instances.insert", code="QUOTA_EXCEEDED", match={"region": "us-central1"}))
    walk = Walk(tmp_path, "gf2")
    got = walk.launch([row("us-central1"), row("us-east1")])
    try:
        assert len(got.attempts) == 1 and got.attempts[0].where.startswith("gcp n1-standard-2 in us-central1-")
        assert "quota reached at gcp" in got.attempts[0].reason, got.attempts
        assert got.index == 1 and got.offering.region == "us-east1"
        [(key, _)] = lab.fake.instances.items()
        assert key[1].startswith("us-east1-")
    finally:
        got.infra.down(got.handle)


def test_a_permission_error_skips_the_cloud_and_the_next_infra_runs(lab: GcpLab, home: Path,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    """SIMULATED GCP: a 403 on compute.instances.create → no other GCP row; local runs."""
    lab.fake.faults.add(FaultRule(action="instances.insert", code="PERMISSION_DENIED"))
    walk = Walk(tmp_path, "gf3")
    got = walk.launch([row("us-central1"), row("us-east1"), Offering("local", "local", "local", 1, 1)])
    try:
        assert len(got.attempts) == 1 and got.attempts[0].where.startswith("gcp n1-standard-2 in us-central1-")
        assert "refused the credentials or permissions" in got.attempts[0].reason, got.attempts
        assert got.offering.infra == "local" and got.index == 2
        assert lab.leftovers() == []
    finally:
        got.infra.down(got.handle)
