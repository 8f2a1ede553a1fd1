"""``catalog refresh`` against simulated provider responses: nothing here reaches a cloud.

The ``simulated_*`` fixtures are hand-built responses following each API's documented schema
(the documentation page is named in each fixture and in each test's docstring). A guard makes
any socket connection fail, so a test that would reach the internet fails instead.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from jupyter_sky.catalog import sanity
from jupyter_sky.catalog.offers import load_offers
from jupyter_sky.catalog.refresh import cli_refresh, overlay, refresh
from jupyter_sky.catalog.refresh.azure import ENDPOINT

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every outgoing connection: refresh must never run for real in tests."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JUPYTER_SKY_HOME", str(tmp_path))
    return tmp_path


class SimulatedAws:
    """boto3-like clients answering from ``simulated_aws.json`` (other regions: empty)."""

    def __init__(self, service: str, region: str) -> None:
        self.doc = _load("simulated_aws.json")
        self.service, self.region = service, region
        self.calls: list[dict[str, Any]] = []

    def get_products(self, **kw: Any) -> dict[str, Any]:
        filters = {f["Field"]: f["Value"] for f in kw["Filters"]}
        assert kw["ServiceCode"] == "AmazonEC2" and filters["operatingSystem"] == "Linux"
        if filters["regionCode"] != self.doc["region"]:
            return {"FormatVersion": "aws_v1", "PriceList": []}
        pages = self.doc["get_products"]
        return pages[1] if kw.get("NextToken") == "page-2" else pages[0]

    def describe_availability_zones(self, **kw: Any) -> dict[str, Any]:
        ours = self.region == self.doc["region"]
        return self.doc["describe_availability_zones"] if ours else {"AvailabilityZones": []}

    def describe_spot_price_history(self, **kw: Any) -> dict[str, Any]:
        assert kw["ProductDescriptions"] == ["Linux/UNIX"]
        if self.region != self.doc["region"]:
            return {"SpotPriceHistory": []}
        pages = self.doc["describe_spot_price_history"]
        return pages[1] if kw.get("NextToken") == "spot-2" else pages[0]


def simulated_azure_http(url: str) -> dict[str, Any]:
    doc = _load("simulated_azure.json")
    assert url.split("?")[0] in (ENDPOINT, ENDPOINT.replace(".com/", ".com:443/"))
    if "eastus'" not in url.replace("%27", "'"):
        return {"Items": [], "NextPageLink": None, "Count": 0}
    return doc["pages"][1] if "$skip=100" in url else doc["pages"][0]


def simulated_gcp_http(url: str) -> dict[str, Any]:
    assert url.startswith("https://cloudbilling.googleapis.com/v1/services/6F81-5844-456A/skus")
    assert "key=simulated-key" in url
    pages = _load("simulated_gcp.json")["pages"]
    return pages[1] if "pageToken=page-2" in url else pages[0]


SIMULATED = {"aws": SimulatedAws, "azure": simulated_azure_http, "gcp": simulated_gcp_http}


def _offer(offers: list, **want: Any):
    hits = [o for o in offers if all(getattr(o, k) == v for k, v in want.items())]
    assert len(hits) == 1, (want, hits)
    return hits[0]


def test_simulated_aws_refresh_reads_pricing_and_spot_history(home: Path) -> None:
    """AWS GetProducts + DescribeAvailabilityZones + DescribeSpotPriceHistory, as documented.

    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSpotPriceHistory.html
    """
    report = refresh(["aws"], progress=False, fetch=SIMULATED, now=NOW)
    assert report.ok, report.lines()
    rows = overlay.read("aws")["rows"]  # type: ignore[index]
    regional = {(r["instance_type"], r["price"]) for r in rows if r["zone"] is None}
    assert regional == {("p3.2xlarge", 3.06), ("p3.8xlarge", 12.24)}  # unknown type dropped
    spot = {(r["zone"], r["spot_price"]) for r in rows if r["instance_type"] == "p3.2xlarge"}
    assert ("use1-az6", 0.5576) in spot and ("use1-az1", 0.4) in spot  # newest record wins
    assert report.results[0].matched > 0


def test_simulated_azure_refresh_skips_windows_and_low_priority(home: Path) -> None:
    """Azure Retail Prices API pages joined by NextPageLink.

    https://learn.microsoft.com/en-us/rest/api/cost-management/retail-prices/azure-retail-prices
    """
    report = refresh(["azure"], progress=False, fetch=SIMULATED, now=NOW)
    assert report.ok, report.lines()
    rows = {r["instance_type"]: r for r in overlay.read("azure")["rows"]}  # type: ignore[index]
    assert rows["Standard_NC6s_v3"]["price"] == 3.06  # not Windows 3.428
    assert rows["Standard_NC6s_v3"]["spot_price"] == 0.3978  # not Low Priority 0.612
    assert rows["Standard_D16s_v5"]["spot_price"] == 0.08448


def test_simulated_gcp_refresh_prices_cores_ram_and_gpus(home: Path, monkeypatch) -> None:
    """GCP Cloud Billing Catalog services.skus.list, Sku schema with tieredRates in units+nanos.

    https://cloud.google.com/billing/docs/reference/rest/v1/services.skus/list
    """
    monkeypatch.setenv("GOOGLE_API_KEY", "simulated-key")
    report = refresh(["gcp"], progress=False, fetch=SIMULATED, now=NOW)
    assert report.ok, report.lines()
    rows = overlay.read("gcp")["rows"]  # type: ignore[index]
    assert {r["region"] for r in rows} == {"us-central1"}
    p100 = [r for r in rows if r["instance_type"] == "n1-highmem-16" and r["accelerator"] == "P100"]
    assert {r["accelerator_count"] for r in p100} >= {1.0}
    one = next(r for r in p100 if r["accelerator_count"] == 1.0)
    assert one["components"][1][1] == 1.46  # the workstation SKU (1.66) is not the GPU price


def test_simulated_round_trip_reproduces_snapshot_prices(home: Path, monkeypatch) -> None:
    """A simulated response for snapshot instances, laid over the snapshot, gives its prices.

    Responses follow the AWS GetProducts / DescribeSpotPriceHistory, Azure Retail Prices and
    GCP services.skus.list pages cited in the fixtures (``documentation`` keys).
    """
    monkeypatch.setenv("GOOGLE_API_KEY", "simulated-key")
    snapshot = load_offers()
    assert refresh(progress=False, fetch=SIMULATED, now=NOW).ok
    merged = overlay.apply(snapshot)
    cases = [
        dict(infra="aws", zone="use1-az6", instance_type="p3.2xlarge"),
        dict(infra="azure", region="eastus", instance_type="Standard_NC6s_v3"),
        dict(infra="gcp", zone="us-central1-a", instance_type="n2-standard-8"),
        dict(
            infra="gcp",
            zone="us-central1-c",
            instance_type="n1-highmem-16",
            accelerator="P100",
            accelerator_count=1.0,
        ),
    ]
    for case in cases:
        before, after = _offer(snapshot, **case), _offer(merged, **case)
        assert after.source_date == NOW.date(), case
        assert (after.price, after.spot_price) == (before.price, before.spot_price), case
        assert after.components == before.components and after.flags == before.flags, case


def test_apply_without_overlay_is_identity_and_bad_prices_get_flagged(home: Path) -> None:
    offers = load_offers()
    assert overlay.apply(offers) == offers
    (home / "catalog").mkdir()
    (home / "catalog" / "aws.json").write_text("{not json")  # ignored, not fatal
    assert overlay.apply(offers) == offers
    row = {"region": "us-east-1", "zone": None, "instance_type": "p3.2xlarge", "price": 0.0}
    overlay.write("aws", [row], source="test", fetched_at=NOW)
    merged = overlay.apply(offers)
    hit = _offer(merged, infra="aws", zone="use1-az6", instance_type="p3.2xlarge")
    assert hit.price == 0.0 and sanity.ZERO_PRICE in hit.flags and not hit.rankable()


def test_failed_refresh_keeps_previous_overlay(home: Path) -> None:
    assert refresh(["azure"], progress=False, fetch=SIMULATED, now=NOW).ok
    before = overlay.overlay_path("azure").read_bytes()

    def broken(url: str) -> Any:
        raise OSError("connection reset")

    report = refresh(["azure"], progress=False, fetch={"azure": broken})
    assert not report.ok and "previous prices stay" in report.lines()[0]
    assert overlay.overlay_path("azure").read_bytes() == before
    assert not list((home / "catalog").glob(".*.tmp"))


def test_price_ages_and_stale_clouds_combine_snapshot_and_overlay(home: Path) -> None:
    snapshot_day = overlay.price_dates()["aws"][0]
    later = date.fromordinal(snapshot_day.toordinal() + 45)
    assert "aws" in overlay.stale_clouds(days=30, today=later)
    assert overlay.price_ages(today=later)["aws"] == 45
    fetched = datetime.combine(date.fromordinal(later.toordinal() - 2), NOW.timetz())
    overlay.write("aws", [], source="test", fetched_at=fetched)
    assert overlay.price_dates()["aws"] == (fetched.date(), "refreshed")
    assert overlay.price_ages(today=later)["aws"] == 2
    stale = overlay.stale_clouds(days=30, today=later)
    assert "aws" not in stale and "azure" in stale and "gcp" in stale


def _no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance role


def test_cli_missing_credentials_is_one_sentence_and_exit_1(home, monkeypatch, capsys) -> None:
    _no_aws_env(monkeypatch, home)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    assert cli_refresh(["--cloud", "aws", "--cloud", "gcp", "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert "aws: authenticates with AWS credentials chain" in out
    lines = err.strip().splitlines()
    assert lines[0] in (
        "No AWS credentials found; set AWS_PROFILE or run aws configure, then retry.",
        "boto3 is not installed; run pip install 'jupyter-sky[aws]', then retry.",
    )
    assert lines[1].startswith("No GCP API key found; set GOOGLE_API_KEY")
    assert not (home / "catalog").exists()
    assert cli_refresh(["--cloud", "ibm"]) == 2


def test_importing_refresh_loads_no_cloud_sdk() -> None:
    code = (
        "import sys, jupyter_sky, jupyter_sky.catalog.refresh as r; "
        "bad = [m for m in ('boto3', 'botocore', 'urllib.request', r.__name__ + '.aws', "
        "r.__name__ + '.gcp', r.__name__ + '.azure') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
