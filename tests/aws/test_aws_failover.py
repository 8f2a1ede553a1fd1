"""Failover over AWS placements against the AWS lab (SIMULATED HYPERVISOR; EC2 API, SSH and
kernel real): the real ``pipeline.failover.launch`` walks ranked rows and the zones
``AwsInfra.zones`` gives; EC2's errors (injected in front of moto) steer it by scope.

- capacity in zone a → zone b; quota in a region → the next region (asserted order of attempts);
- AuthFailure → the whole infra is skipped, the next infra (local) runs the cell;
- every placement out of capacity → one sentence listing each attempt;
and every failed attempt leaves nothing in moto.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_sky.errors import InfraError
from jupyter_sky.infra import get_infra
from jupyter_sky.infra.aws import AwsInfra
from jupyter_sky.infra.base import AnyInfra, Handle, Launch
from jupyter_sky.offering import Offering
from jupyter_sky.pipeline import failover
from jupyter_sky.spec.task import parse_line, task_from_args

from .conftest import AwsLab
from .infra_helpers import lab_config, nothing_left, run

pytestmark = pytest.mark.aws


def row(region: str, instance_type: str = "t3.micro", infra: str = "aws") -> Offering:
    return Offering(infra, region, instance_type, 2, 1, price=0.01)


class Walk:
    """Failover's callbacks, recording what it showed."""

    def __init__(self, lab: AwsLab, tmp_path: Path, cluster: str) -> None:
        self.aws = AwsInfra(notify=lambda line: None)
        self.lines: list[str] = []
        self.task = task_from_args(parse_line(f"--name {cluster}"), "pass", tmp_path)
        self.config = lab_config(lab)
        self.cluster = cluster

    def infra_for(self, kind: str) -> AnyInfra:
        return self.aws if kind == "aws" else get_infra(kind)

    def start(self, infra: AnyInfra, offering: Offering, index: int) -> Handle:
        request = Launch(self.cluster, self.task, self.config, offering=offering, notify=self.lines.append)
        return infra.launch(request)  # type: ignore[no-any-return]

    def launch(self, rows: list[Offering]) -> failover.Launched:
        return failover.launch(rows, self.infra_for, self.start, self.lines.append, max_attempts=10)


def test_quota_skips_the_region_and_capacity_the_zone_then_the_cell_runs(aws_lab: AwsLab, infra_home: Path,
                                                                         tmp_path: Path) -> None:  # fmt: skip
    aws_lab.inject({"action": "RunInstances", "region": "us-east-2", "kind": "quota"},
                   {"action": "RunInstances", "zone": "us-east-1a", "kind": "capacity"})  # fmt: skip
    walk = Walk(aws_lab, tmp_path, "fo")
    got = walk.launch([row("us-east-2"), row("us-east-1"), row("us-west-2")])
    try:
        assert [a.where for a in got.attempts] == ["aws t3.micro in us-east-2a", "aws t3.micro in us-east-1a"]
        assert "VcpuLimitExceeded" in got.attempts[0].reason
        assert "InsufficientInstanceCapacity" in got.attempts[1].reason
        assert got.offering.zone == "us-east-1b" and got.index == 1
        assert any(line.startswith("attempt 2: aws t3.micro in us-east-1a — no capacity") for line in walk.lines)
        assert run(walk.aws, got.handle, "print(6 * 7)").strip() == "42"  # type: ignore[arg-type]
        nothing_left_but(aws_lab, got.handle.instance_id)  # type: ignore[attr-defined]
    finally:
        walk.aws.down(got.handle)  # type: ignore[arg-type]
    nothing_left(aws_lab, "fo")


def nothing_left_but(lab: AwsLab, instance_id: str) -> None:
    """Only the launched instance exists in any lab region (failed attempts left nothing)."""
    for region in lab.regions:
        found = [i["InstanceId"] for r in lab.client(region).describe_instances()["Reservations"]
                 for i in r["Instances"] if i["State"]["Name"] != "terminated"]  # fmt: skip
        assert found == ([instance_id] if region == "us-east-1" else []), region


def test_auth_failure_skips_the_infra_and_the_next_infra_runs_the_cell(aws_lab: AwsLab, infra_home: Path,
                                                                      tmp_path: Path) -> None:  # fmt: skip
    aws_lab.inject({"action": "RunInstances", "kind": "auth"})
    walk = Walk(aws_lab, tmp_path, "fo-auth")
    local = Offering("local", "local", "local", 1, 1)
    got = walk.launch([row("us-east-1"), row("us-west-2"), local])
    try:
        assert [a.where for a in got.attempts] == ["aws t3.micro in us-east-1a"]  # us-west-2 never tried
        assert "AuthFailure" in got.attempts[0].reason and got.offering.infra == "local"
    finally:
        got.infra.down(got.handle)
    nothing_left(aws_lab, "fo-auth")


def test_every_placement_out_of_capacity_is_one_sentence_listing_each_attempt(aws_lab: AwsLab, infra_home: Path,
                                                                              tmp_path: Path) -> None:  # fmt: skip
    aws_lab.inject({"action": "RunInstances", "kind": "capacity"})
    walk = Walk(aws_lab, tmp_path, "fo-full")
    with pytest.raises(InfraError) as err:
        walk.launch([row("us-east-1"), row("us-west-2")])
    text = str(err.value)
    zones = [f"us-east-1{z}" for z in "abc"] + [f"us-west-2{z}" for z in "abc"]
    assert "\n" not in text and all(f"aws t3.micro in {z}: no capacity" in text for z in zones), text
    for region in ("us-east-1", "us-west-2"):
        nothing_left(aws_lab, "fo-full", region)
