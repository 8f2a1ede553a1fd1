"""The shipped price catalog: verdicts, GCP host + GPU pricing, names, coverage, load time."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import importlib.util
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from jupyter_sky.catalog import offers as om
from jupyter_sky.catalog import sanity
from jupyter_sky.catalog.offers import load_offers, offers_for
from jupyter_sky.offering import Offering

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).with_name("fixtures") / "price_verdicts.json"
# The price-table snapshot the shipped catalog is built from (a copy of ../shared/catalog,
# carried by the repository so these checks run from a clean clone).
SHARED = REPO / "scripts" / "catalog_snapshot"

SNAPSHOT_CLOUDS = [
    "aws",
    "azure",
    "cudo",
    "daytona",
    "do",
    "fluidstack",
    "gcp",
    "hyperbolic",
    "hyperstack",
    "jarvislabs",
    "lambda",
    "lium",
    "mithril",
    "nebius",
    "oci",
    "ovhcloud",
    "paperspace",
    "primeintellect",
    "runpod",
    "scaleway",
    "seeweb",
    "shadeform",
    "spheron",
    "vast",
    "verda",
    "yotta",
]
CASES = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]


def find(**fields: object) -> Offering:
    """The one offer whose fields equal ``fields``."""
    fields = {"infra" if k == "cloud" else k: v for k, v in fields.items()}  # fixtures say cloud
    found = [o for o in load_offers() if all(getattr(o, k) == v for k, v in fields.items())]
    assert len(found) == 1, (fields, len(found))
    return found[0]


# --- sanity verdicts ---------------------------------------------------------------------------


def test_fixture_is_big_enough() -> None:
    assert len(CASES) >= 15
    assert any(not c["flags"] for c in CASES) and any(c["flags"] for c in CASES)


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c['match']['cloud']}:{c['match']['instance_type']}" for c in CASES]
)
def test_fixture_verdict(case: dict) -> None:
    offer = find(**case["match"])
    assert list(offer.flags) == case["flags"], case["why"]
    assert offer.rankable(spot=False) is case["on_demand"]
    assert offer.rankable(spot=True) is case["spot"]
    peers = [o for o in load_offers() if o.accelerator == offer.accelerator]
    assert sanity.verdict(offer, peers) == case["flags"]
    assert (offer.flag_note == "") is (not case["flags"])


def test_stored_flags_match_the_rule() -> None:
    offers = load_offers()
    assert [list(o.flags) for o in offers] == sanity.flag_all(offers)


def test_flagged_offers_are_left_out_of_ranking() -> None:
    a100 = offers_for("A100", 1)
    assert a100 and all(not o.flags for o in a100)
    assert "mithril" not in {o.infra for o in a100}
    assert "mithril" in {o.infra for o in offers_for("A100", 1, include_flagged=True)}
    assert min(o.price for o in a100 if o.price) > 0.5


def test_spot_ranking_keeps_spot_only_rows() -> None:
    p5e = [o for o in offers_for("H200", 8, "aws", spot=True) if o.instance_type == "p5e.48xlarge"]
    assert p5e and all(o.price is None and o.spot_price for o in p5e)
    assert not [o for o in offers_for("H200", 8, "aws") if o.instance_type == "p5e.48xlarge"]


def test_zero_spot_means_no_spot() -> None:
    vast = offers_for(None, None, "vast") + offers_for("H100", None, "vast")
    assert all(o.spot_price is None for o in vast)


# --- GCP: host VM + attached accelerators --------------------------------------------------------


def test_gcp_gpu_offers_are_host_plus_gpus() -> None:
    gpu = [o for o in load_offers() if o.infra == "gcp" and o.components]
    assert {o.accelerator for o in gpu} >= {"A100", "A100-80GB", "H100", "L4", "T4", "V100"}
    for o in gpu:
        (host, host_price, _), (_, gpu_price, _) = o.components
        assert host == o.instance_type
        if host_price is not None and gpu_price is not None:
            assert o.price == pytest.approx(host_price + gpu_price)


def test_gcp_fixed_hosts_and_n1_hosts() -> None:
    a100 = offers_for("A100", 8, "gcp")
    assert a100 and {o.instance_type for o in a100} == {"a2-highgpu-8g"}
    assert {o.instance_type for o in offers_for("A100", 16, "gcp")} == {"a2-megagpu-16g"}
    assert {o.instance_type for o in offers_for("L4", 2, "gcp")} == {"g2-standard-24"}
    t4 = offers_for("T4", 1, "gcp")
    assert {o.instance_type.rsplit("-", 1)[0] for o in t4} <= {"n1-standard", "n1-highmem"}
    assert max(o.vcpus or 0 for o in t4) <= 48  # GCP's limit for one T4
    assert not [o for o in load_offers() if o.infra == "gcp" and o.instance_type == ""]


def _csv_price(rows: list[dict], **match: str) -> float:
    found = {r["Price"] for r in rows if all(r[k] == v for k, v in match.items())}
    assert len(found) == 1, (match, found)
    return float(found.pop())


@pytest.mark.parametrize(
    ("host", "acc", "count", "zone"),
    [
        ("a2-highgpu-1g", "A100", "1", "us-central1-a"),
        ("n1-standard-8", "T4", "1", "us-central1-a"),
        ("a3-highgpu-8g", "H100", "8", "us-central1-a"),
    ],
)
def test_gcp_price_from_the_csv(host: str, acc: str, count: str, zone: str) -> None:
    with (SHARED / "gcp" / "vms.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    expected = _csv_price(rows, InstanceType=host, AvailabilityZone=zone) + _csv_price(
        rows, InstanceType="", AcceleratorName=acc, AcceleratorCount=count, AvailabilityZone=zone
    )
    offer = find(
        infra="gcp", instance_type=host, zone=zone, accelerator=acc, accelerator_count=float(count)
    )
    assert offer.price == pytest.approx(expected)


def test_tpus_are_accelerators() -> None:
    v5p = offers_for("tpu-v5p-8", 1)
    assert v5p and v5p == offers_for("tpu-v5p", 8) == offers_for("TPU-V5P-8", None)
    assert all(
        o.infra == "gcp"
        and o.accelerator == "tpu-v5p"
        and o.accelerator_count == 8
        and o.instance_type == "tpu-v5p-8"
        and not o.components
        for o in v5p
    )
    assert {
        o.accelerator for o in load_offers() if o.accelerator and o.accelerator[:4] == "tpu-"
    } == {"tpu-v2", "tpu-v3", "tpu-v4", "tpu-v5litepod", "tpu-v5p", "tpu-v6e"}


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("a100", "A100"),
        ("A100", "A100"),
        ("a100-80gb", "A100-80GB"),
        ("H100-SXM", "H100-SXM"),
        ("h100-sxm", "H100-SXM"),
        ("tpu-v5p", "tpu-v5p"),
        ("l40s", "L40S"),
        ("L40s", "L40S"),
        ("A100_80G_PCIE", "A100-80GB"),
        ("H100-80G-SXM5", "H100-SXM"),
        ("Tesla-V100", "V100"),
        ("A100-40GB", "A100"),
        ("rtx6000ada", "RTX6000-Ada"),
        ("V100_32G_PCIE", "V100-32GB"),
    ],
)
def test_canonical_names(typed: str, canonical: str) -> None:
    assert om.canonical_accelerator_name(typed) == (canonical, 1.0)


def test_names_are_case_insensitive_in_queries() -> None:
    assert offers_for("a100", 1) == offers_for("A100", 1)
    assert offers_for("h100-sxm", 1, "RunPod") == offers_for("H100-SXM", 1, "runpod") != []
    assert offers_for("no-such-gpu", 1) == []
    assert om.canonical_accelerator_name("no-such-gpu") is None


def test_every_stored_name_is_canonical() -> None:
    names = {o.accelerator for o in load_offers() if o.accelerator}
    assert {"A100", "A100-80GB", "H100", "H100-SXM", "tpu-v5p"} <= names
    assert not names & {"L40s", "A100_80G_PCIE", "Tesla-V100", "H100-NVLINK", "RTX6000Ada"}


def test_fractional_gpus() -> None:
    g6f = offers_for("L4", 0.125, "aws")
    assert g6f and {o.instance_type for o in g6f} == {"g6f.large", "g6f.xlarge"}
    assert g6f[0].price and g6f[0].unit_price() == pytest.approx(g6f[0].price / 0.125)


# --- coverage, provenance, format --------------------------------------------------------------


def test_every_cloud_is_present() -> None:
    assert om.clouds() == SNAPSHOT_CLOUDS
    assert sorted(om.sources()) == SNAPSHOT_CLOUDS
    if SHARED.is_dir():
        folders = sorted(p.parent.name for p in SHARED.glob("*/vms.csv"))
        assert folders == SNAPSHOT_CLOUDS


def test_sources() -> None:
    src = om.sources()
    assert src["azure"]["version"] == "v6" and src["runpod"]["version"] == "v7"
    assert src["aws"]["version"] == "v8" and src["aws"]["source"] == "catalogs/v8/aws/vms.csv"
    assert all(len(s["commit"]) == 40 and s["snapshot_date"] == "2026-11-24" for s in src.values())
    assert set(om.source_ages(date(2026, 12, 4)).values()) == {10}
    assert {o.source_date for o in load_offers()} == {date(2026, 11, 24)}


def test_offers_are_immutable_and_shared() -> None:
    offer = load_offers()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        offer.price = 0.0  # type: ignore[misc]
    assert load_offers() is not load_offers() and load_offers()[0] is offer
    assert type(offer) is Offering and hash(offer) == hash(dataclasses.replace(offer))


def _build_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "build_catalog", REPO / "scripts" / "build_catalog.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_data_is_what_the_script_builds() -> None:
    build = _build_module()
    offers, sources = build.build(SHARED)
    assert gzip.decompress(om.OFFERS_FILE.read_bytes()) == build.encode(offers)
    assert sources == om.sources()


def test_cold_load_in_a_fresh_process() -> None:
    code = (
        "import time; t = time.perf_counter()\n"
        "from jupyter_sky.catalog.offers import load_offers\n"
        "n = len(load_offers()); print(n, time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(out[0]) > 10_000
    assert float(out[1]) < 1.0  # generous; benchmarks/bench_catalog.py records the real figure
