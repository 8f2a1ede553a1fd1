"""The infra seam (issue #10): an infra describes itself once, on its class, and the flag
table, the config reader, ``%sky check`` and failover follow from the registry.

The infras registered here are small subclasses of the real local infra (they start real
kernels); the failover walk is also checked on its own with infras whose launches fail on
purpose, each failure carrying the scope a cloud's error would carry.
"""

from __future__ import annotations

import dataclasses
import io
import threading
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
from IPython.testing import globalipapp

from jupyter_sky import infra as registry
from jupyter_sky.config import load_config
from jupyter_sky.config_sections import optional_text
from jupyter_sky.errors import ConfigError, InfraError, SpecError
from jupyter_sky.infra.base import (
    CapacityError,
    CredentialError,
    Handle,
    InfraFlag,
    InfraPath,
    Launch,
    QuotaError,
    checked,
)
from jupyter_sky.infra.local import LocalHandle, LocalInfra, machine
from jupyter_sky.offering import Offering
from jupyter_sky.pipeline import failover
from jupyter_sky.spec import parse_line, task_from_args


@dataclass(frozen=True)
class PoolConfig:
    """The ``pool:`` section of the test infra."""

    queue: str | None = field(default=None, metadata=checked(optional_text))


class PoolInfra(LocalInfra):
    """A local infra under another kind, with its own flag, section and path; its first zone
    is always full, so every launch fails over once before it runs."""

    kind: ClassVar[str] = "pool"
    path_shape: ClassVar[str] = "pool[/<region>]"
    config_section: ClassVar[type | None] = PoolConfig
    flags: ClassVar[tuple[InfraFlag, ...]] = (
        InfraFlag("--pool-queue", "queue", "Queue of the test pool.", "fast"),
    )

    @classmethod
    def parse_path(cls, rest: str) -> InfraPath:
        if rest and not rest.isalnum():
            raise SpecError(f"must be pool or pool/<region>, not 'pool/{rest}'.")
        return InfraPath(f"pool/{rest}" if rest else "pool", region=rest or None)

    def live(self) -> list[Offering]:
        return [dataclasses.replace(machine(), infra="pool", region="r1")]

    def offerings(self, resources: object) -> list[Offering]:
        return self.live()

    def zones(self, offering: Offering) -> list[str]:
        return ["full-a", "free-b"]

    def launch(self, request: Launch) -> LocalHandle:
        if request.offering is not None and request.offering.zone == "full-a":
            raise CapacityError("no capacity in full-a (the test pool is full there)")
        return super().launch(request)


@pytest.fixture
def pool() -> Iterator[type[PoolInfra]]:
    registry.register(PoolInfra)
    yield PoolInfra
    registry.unregister("pool")


def test_a_registered_infra_brings_its_flag_path_and_section(
    pool: type[PoolInfra], tmp_path: Path, session_home: Path
) -> None:
    args = parse_line("--infra pool/r1 --pool-queue fast")
    task = task_from_args(args, "", tmp_path)
    assert (task.resources.infra, task.infra_options) == ("pool/r1", {"queue": "fast"})
    with pytest.raises(SpecError, match=r"^--pool-queue goes with --infra pool\[/<region>\]\.$"):
        task_from_args(parse_line("--infra local --pool-queue fast"), "", tmp_path)
    with pytest.raises(SpecError, match=r"^--infra must be pool or pool/<region>, not 'pool/a-b'\.$"):
        parse_line("--infra pool/a-b")
    user = session_home / "config.yaml"  # an infra's section needs a trusted project
    user.write_text(f"trust:\n  projects: [{tmp_path}]\n")
    try:
        (tmp_path / "jupyter_sky.yaml").write_text("pool:\n  queue: slow\n")
        assert load_config(tmp_path).of(PoolConfig) == PoolConfig(queue="slow")
        (tmp_path / "jupyter_sky.yaml").write_text("pool:\n  queue: ''\n")
        with pytest.raises(ConfigError, match="pool.queue in .* must be a non-empty string"):
            load_config(tmp_path)
    finally:
        user.unlink()


def test_unregistered_infra_is_gone_from_the_flag_table(tmp_path: Path) -> None:
    registry.register(PoolInfra)
    assert "queue" in parse_line("--infra pool --pool-queue x").infra_options
    registry.unregister("pool")
    with pytest.raises(SpecError, match="Unknown flag --pool-queue"):
        parse_line("--infra local --pool-queue x")


# ---- failover on its own ------------------------------------------------------------------
@dataclass
class Script:
    """Launch outcomes by zone (or region), and every place that was tried."""

    outcomes: dict[str, Exception]
    tried: list[str] = field(default_factory=list)


class ZonedFake:
    """Just enough infra for the walk: zones per region; launch follows the script."""

    def __init__(self, kind: str, zones: dict[str, list[str]]) -> None:
        self.kind, self._zones = kind, zones

    def zones(self, offering: Offering) -> list[str]:
        return self._zones.get(offering.region, [])


def _offer(kind: str, region: str, itype: str = "m1") -> Offering:
    return Offering(infra=kind, region=region, instance_type=itype, vcpus=4, memory_gb=16)


def _walk(script: Script, offerings: list[Offering], limit: int = 10) -> tuple[failover.Launched, list[str]]:
    infras = {
        "aws": ZonedFake("aws", {"us-east-1": ["us-east-1a", "us-east-1b"], "us-west-2": ["us-west-2a"]}),
        "gcp": ZonedFake("gcp", {"us-central1": ["us-central1-a"]}),
    }
    lines: list[str] = []

    def start(infra: object, offering: Offering, index: int) -> Handle:
        place = offering.zone or offering.region
        script.tried.append(f"{offering.infra}:{place}")
        for key in (place, offering.region, offering.infra):
            if key in script.outcomes:
                raise script.outcomes[key]
        return Handle()

    done = failover.launch(offerings, infras.__getitem__, start, lines.append, limit)  # type: ignore[arg-type]
    return done, lines


def test_failover_moves_to_the_next_zone_then_the_next_row() -> None:
    script = Script({"us-east-1a": CapacityError("no capacity (InsufficientInstanceCapacity)")})
    done, lines = _walk(script, [_offer("aws", "us-east-1"), _offer("gcp", "us-central1")])
    assert script.tried == ["aws:us-east-1a", "aws:us-east-1b"]
    assert (done.index, done.offering.zone, len(done.attempts)) == (0, "us-east-1b", 1)
    assert lines == ["attempt 1: aws m1 in us-east-1a — no capacity (InsufficientInstanceCapacity)"]


def test_a_quota_skips_the_region_and_a_credential_skips_the_infra() -> None:
    script = Script(
        {
            "us-east-1": QuotaError("vCPU quota of the region reached"),
            "aws": CredentialError("AWS refused the credentials"),
        }
    )
    offers = [
        _offer("aws", "us-east-1"),
        _offer("aws", "us-east-1", "m2"),  # same region: skipped, never tried
        _offer("aws", "us-west-2"),
        _offer("aws", "eu-west-1"),  # same infra after the credential error: skipped
        _offer("gcp", "us-central1"),
    ]
    done, lines = _walk(script, offers)
    assert script.tried == ["aws:us-east-1a", "aws:us-west-2a", "gcp:us-central1-a"]
    assert done.index == 4 and len(lines) == 2


def test_every_attempt_failing_is_one_sentence_listing_them() -> None:
    script = Script({"aws": CapacityError("no capacity"), "gcp": CapacityError("zone exhausted")})
    with pytest.raises(InfraError) as err:
        _walk(script, [_offer("aws", "us-east-1"), _offer("gcp", "us-central1")])
    assert str(err.value) == (
        "No placement launched on every placement that fits — aws m1 in us-east-1a: no capacity; "
        "aws m1 in us-east-1b: no capacity; gcp m1 in us-central1-a: zone exhausted."
    )


def test_attempts_stop_at_the_limit() -> None:
    script = Script({"aws": CapacityError("no capacity")})
    with pytest.raises(InfraError, match=r"after 2 attempts \(the limit\)"):
        _walk(script, [_offer("aws", "us-east-1"), _offer("aws", "us-west-2")], limit=2)
    assert len(script.tried) == 2


def test_an_error_that_is_not_about_capacity_stops_failover() -> None:
    script = Script({"us-east-1a": InfraError("The AMI ami-123 does not exist.")})
    with pytest.raises(InfraError, match="^The AMI ami-123 does not exist.$"):
        _walk(script, [_offer("aws", "us-east-1"), _offer("gcp", "us-central1")])
    assert script.tried == ["aws:us-east-1a"]


# ---- through the magic, with a real kernel --------------------------------------------------
def test_a_cell_fails_over_to_the_free_zone_and_runs(pool: type[PoolInfra], session_home: Path) -> None:
    """``%%sky --infra pool``: the full zone is tried, said, and the cell runs in the next one."""
    shell = globalipapp.get_ipython()  # the module attribute: the shell once it started
    shell.run_line_magic("load_ext", "jupyter_sky")
    shell.user_ns["lock"] = threading.Lock()
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        shell.run_cell_magic("sky", "--infra pool --name seam-pool", "answer = 6 * 7")
    try:
        assert shell.user_ns["answer"] == 42
        assert "attempt 1: pool this machine in full-a — no capacity in full-a" in err.getvalue()
        status = io.StringIO()
        with redirect_stdout(status):
            shell.run_line_magic("sky", "check")
        assert "  pool     usable" in status.getvalue()
    finally:
        shell.run_line_magic("sky", "down seam-pool")


def test_nothing_below_the_notebook_layer_imports_it() -> None:
    """The layers read in the order a cell flows; the notebook layer is the entry and the view,
    and no other package imports it (issue #10 item 5)."""
    import re

    root = Path(registry.__file__).resolve().parents[1]
    offenders = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in ("notebook", "server") or str(rel) in ("__init__.py", "cli.py"):
            continue  # the notebook layer, the panel's server (a frontend too), the CLI entry
        if re.search(r"jupyter_sky\.notebook\b", path.read_text()):
            offenders.append(str(rel))
    assert offenders == []


def test_a_flag_several_infras_share_goes_with_each_of_them(tmp_path: Path) -> None:
    """``--disk-size`` belongs to every VM infra (aws, gcp): accepted with either, refused
    elsewhere with a sentence naming both."""
    for infra in ("aws/us-east-1", "gcp/us-central1", "azure/eastus"):
        task = task_from_args(parse_line(f"--infra {infra} --disk-size 200"), "", tmp_path)
        assert task.infra_options == {"disk_size": "200"}
    with pytest.raises(SpecError, match=r"^--disk-size goes with --infra aws\[/<region>\[/<zone>\]\] or --infra azure\[/<region>\] or --infra gcp"):
        task_from_args(parse_line("--infra local --disk-size 200"), "", tmp_path)
    with pytest.raises(SpecError, match=r"--disk-size must be a disk size in GB from 10 to 16384, not '5'\.$"):
        parse_line("--infra gcp --disk-size 5")
