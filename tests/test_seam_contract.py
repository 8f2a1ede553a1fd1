"""The infra contract and failover through a real cell, on test infras defined in this file
(issue #10): the contract suite of tests/test_contract.py runs unchanged on the test infra of
tests/test_seam.py, and a cell's launch walks three registered test infras — capacity errors
on the first two placements, a quota error with ``scope="infra"`` on the next infra, a full
zone — before it runs, showing each attempt and leaving nothing behind.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import ClassVar

import pytest
from IPython.testing import globalipapp
from test_contract import (  # noqa: F401 - the contract suite, run on the test infra
    launched,
    test_check_is_a_sentence_or_empty,
    test_interrupt_keeps_the_kernel,
    test_launch_connect_run_and_down,
    test_offerings_describe_the_target,
    test_restart_replaces_the_kernel_in_place,
    test_unmet_names_what_is_missing,
)
from test_seam import PoolInfra

from jupyter_sky import infra as registry
from jupyter_sky.infra.base import CapacityError, Infra, Launch, QuotaError
from jupyter_sky.infra.local import LocalHandle, LocalInfra, machine
from jupyter_sky.offering import Offering
from jupyter_sky.state import Store

TRIED: list[str] = []  # every launch the test infras saw, in order


@pytest.fixture
def infra(session_home: Path) -> Iterator[Infra]:
    """The contract's ``infra``: the registered test infra of tests/test_seam.py."""
    registry.register(PoolInfra)
    try:
        yield registry.get_infra("pool")
    finally:
        registry.unregister("pool")


class _Rows(LocalInfra):
    """A live test infra with two rows (regions r1, r2) of this machine."""

    def live(self) -> list[Offering]:
        return [dataclasses.replace(machine(), infra=self.kind, region=r) for r in ("r1", "r2")]

    def offerings(self, resources: object) -> list[Offering]:
        return self.live()


class AFull(_Rows):
    """Out of capacity in both of its placements."""

    kind: ClassVar[str] = "afull"

    def launch(self, request: Launch) -> LocalHandle:
        assert request.offering is not None
        TRIED.append(f"afull/{request.offering.region}")
        raise CapacityError(f"no capacity in {request.offering.region}")


class BQuota(_Rows):
    """Its quota is used up for the whole infra: its second row must not be tried."""

    kind: ClassVar[str] = "bquota"

    def launch(self, request: Launch) -> LocalHandle:
        assert request.offering is not None
        TRIED.append(f"bquota/{request.offering.region}")
        raise QuotaError("the test quota of bquota is used up", scope="infra")


class CPool(PoolInfra):
    """The zoned test pool (full-a full, free-b free), ranked before ``local``."""

    kind: ClassVar[str] = "cpool"
    path_shape: ClassVar[str] = "cpool[/<region>]"
    flags = ()
    config_section = None

    def live(self) -> list[Offering]:
        return [dataclasses.replace(machine(), infra="cpool", region="r1")]

    def launch(self, request: Launch) -> LocalHandle:
        assert request.offering is not None
        TRIED.append(f"cpool/{request.offering.zone}")
        return super().launch(request)


@pytest.fixture
def three() -> Iterator[None]:
    TRIED.clear()
    for cls in (AFull, BQuota, CPool):
        registry.register(cls)
    try:
        yield
    finally:
        for kind in ("afull", "bquota", "cpool"):
            registry.unregister(kind)


def test_a_cell_fails_over_across_infras_in_order_and_leaves_nothing(
    three: None, session_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_sky.notebook import placement

    widgets = []
    original = placement.show

    def show(*args: object, **kw: object) -> object:
        widgets.append(original(*args, **kw))  # type: ignore[arg-type]
        return widgets[-1]

    monkeypatch.setattr(placement, "show", show)
    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "jupyter_sky")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        shell.run_cell_magic("sky", "--name seam-three --cpus 1", "where = 'landed'\nprint(where)")
    try:
        assert TRIED == ["afull/r1", "afull/r2", "bquota/r1", "cpool/full-a", "cpool/free-b"]
        shown = [line for line in err.getvalue().splitlines() if "attempt " in line]
        assert [line.split("attempt ", 1)[1] for line in shown] == [
            "1: afull this machine in r1 — no capacity in r1",
            "2: afull this machine in r2 — no capacity in r2",
            "3: bquota this machine in r1 — the test quota of bquota is used up",
            "4: cpool this machine in full-a — no capacity in full-a (the test pool is full there)",
        ], err.getvalue()
        assert "landed" in out.getvalue() and shell.user_ns["where"] == "landed"
        [widget] = widgets  # each row given up is greyed in the widget with its reason
        greyed = {r["cells"][0]: r["reason"] for r in widget.rows if not r["usable"]}
        by_infra = {r["infra"]: [] for r in widget.rows}
        for r in widget.rows:
            by_infra[r["infra"]].append((r["usable"], r["reason"]))
        assert by_infra["afull"] == [(False, "launch failed: no capacity in r1"),
                                     (False, "launch failed: no capacity in r2")], greyed
        assert by_infra["bquota"] == [
            (False, "launch failed: the test quota of bquota is used up"),
            (False, "launch failed: not tried: the test quota of bquota is used up"),
        ], greyed
        assert by_infra["cpool"] == [(True, "")], greyed
        records = Store().list_clusters()
        mine = [r for r in records if r.name == "seam-three"]
        assert [(r.infra, r.state, r.placement.get("zone")) for r in mine] == [("cpool", "UP", "free-b")]
        assert not [r for r in records if r.infra in ("afull", "bquota")]
    finally:
        shell.run_line_magic("sky", "down seam-three")
    assert Store().get_cluster("seam-three").state == "DOWN"
