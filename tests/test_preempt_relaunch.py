"""``recover.relaunch`` on its own: the dead cluster is released and its record set DOWN, the
placements after the preempted one come first and the preempted one last, the widget greys it
with "preempted", and one line says each step (the whole path: tests/aws and tests/k8s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_sky.infra.base import Handle
from jupyter_sky.kernel.manager import Manager
from jupyter_sky.offering import Offering
from jupyter_sky.optimizer.model import Placement
from jupyter_sky.pipeline import recover
from jupyter_sky.pipeline.cell import Where
from jupyter_sky.spec.task import Resources, Task
from jupyter_sky.state import ClusterRecord, Store


def row(zone: str, instance_type: str = "m5.large") -> Placement:
    offering = Offering("aws", "us-east-1", instance_type, 2, 8, zone=zone, spot_price=0.03)
    return Placement(offering, True, 0.03, True, None, 0.0, None, None, True, "", True)


class DeadInfra:
    kind = "aws"

    def __init__(self) -> None:
        self.downed: list[Handle] = []

    def down(self, handle: Handle) -> None:
        self.downed.append(handle)


class Widget:
    status = ""

    def __init__(self) -> None:
        self.failed: list[tuple[Placement, str]] = []

    def mark_failed(self, placement: Placement, reason: str) -> None:
        self.failed.append((placement, reason))


def test_relaunch_releases_the_cluster_and_tries_the_next_placement_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mgr = Manager(Store(tmp_path))
    a, b, c = row("us-east-1a"), row("us-east-1b"), row("us-east-1c", "c5.large")
    placed = {**b.record(), "zone": "us-east-1b"}
    mgr.store.put_cluster(ClusterRecord("sp", "aws", "UP", placement=placed, handle={"id": "i-1"}))
    infra, handle, widget = DeadInfra(), Handle(), Widget()
    gone = recover.Preempted("sp", infra, handle, "AWS reclaimed the spot instance i-1")  # type: ignore[arg-type]
    where = Where(infra, (a, b, c), widget)  # type: ignore[arg-type]
    task = Task(resources=Resources(infra="aws/us-east-1", spot=True), recover=True)
    again = recover.relaunch(mgr, task, where, gone, 1)
    assert again.rows == (a, c, b) and again.infra is infra and again.widget is widget
    assert widget.failed == [(b, "preempted")]
    assert infra.downed == [handle]
    record = mgr.store.get_cluster("sp")
    assert record is not None and record.state == "DOWN" and record.ended_at is not None
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "[sky] --recover: cluster 'sp' was preempted (AWS reclaimed the spot instance i-1); releasing it",
        "[sky] --recover: relaunching cluster 'sp' on aws m5.large in us-east-1/us-east-1a (recovery 1 of 1)",
    ], err


def test_the_messages_say_what_happened_and_what_to_do() -> None:
    text = recover.message("sp", "its pod was evicted (node pressure)")
    assert text == (
        "Cluster 'sp' was preempted while running this cell (its pod was evicted (node pressure)); "
        "the variables on it are lost — run the cell again to start a fresh cluster, or add "
        "--recover to relaunch it and rerun the cell by itself."
    )
    gone = recover.Preempted("sp", DeadInfra(), Handle(), "its pod was evicted")  # type: ignore[arg-type]
    assert "preempted again while rerunning this cell" in recover.again(gone)
    assert f"at most {recover.MAX_RECOVERIES} time(s)" in recover.again(gone)
