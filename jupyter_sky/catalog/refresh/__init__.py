"""``jupyter-sky catalog refresh``: fetch current AWS, Azure and GCP prices into a user overlay.

The shipped snapshot stays read-only; fetched prices go to ``$JUPYTER_SKY_HOME/catalog/``
(:mod:`.overlay`) and :func:`.overlay.apply` lays them over the snapshot's offers.

How each cloud authenticates:

- AWS: the boto3 credentials chain (``pip install 'jupyter-sky[aws]'``).
- Azure: nothing; the Retail Prices API is public.
- GCP: an API key from ``$GOOGLE_API_KEY`` or ``gcp.api_key`` in the config file.

Cloud SDKs and ``urllib.request`` are imported only when a refresh runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jupyter_sky.catalog.refresh.overlay import apply, price_ages, price_dates, stale_clouds

CLOUDS = ("aws", "azure", "gcp")
AUTH = {
    "aws": "AWS credentials chain (env vars, AWS_PROFILE / ~/.aws, SSO, instance role)",
    "azure": "no credentials (the Azure Retail Prices API is public)",
    "gcp": "API key from $GOOGLE_API_KEY or gcp.api_key in the config file",
}

__all__ = [
    "AUTH",
    "CLOUDS",
    "CloudResult",
    "Report",
    "apply",
    "cli_refresh",
    "price_ages",
    "price_dates",
    "refresh",
    "stale_clouds",
]


@dataclass
class CloudResult:
    """The outcome of one cloud's refresh.

    ``rows`` counts the prices fetched, ``matched`` the snapshot offers they now price;
    ``error`` is one sentence when the cloud could not be refreshed (its old overlay stays).
    """

    cloud: str
    rows: int = 0
    matched: int = 0
    total: int = 0
    path: Path | None = None
    error: str | None = None

    def line(self) -> str:
        """One human-readable line for the CLI."""
        if self.error:
            return self.error
        return (
            f"{self.cloud}: {self.rows} prices fetched, {self.matched} of {self.total} catalog "
            f"offers repriced -> {self.path}"
        )


@dataclass
class Report:
    """What :func:`refresh` did, per cloud."""

    results: list[CloudResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every requested cloud was refreshed."""
        return all(r.error is None for r in self.results)

    def lines(self) -> list[str]:
        """One line per cloud."""
        return [r.line() for r in self.results]


def _problem(cloud: str) -> str | None:
    if cloud == "aws":
        from jupyter_sky.catalog.refresh import aws

        return aws.credentials_problem()
    if cloud == "gcp":
        from jupyter_sky.catalog.refresh import gcp

        return gcp.credentials_problem()
    return None


def _fetch(cloud: str, offers: list[Any], transport: Any, progress: bool) -> tuple[list, str]:
    if cloud == "aws":
        from jupyter_sky.catalog.refresh import aws

        return aws.fetch_rows(offers, clients=transport, progress=progress), aws.SOURCE
    if cloud == "azure":
        from jupyter_sky.catalog.refresh import azure

        return azure.fetch_rows(offers, http=transport, progress=progress), azure.SOURCE
    from jupyter_sky.catalog.refresh import gcp

    return gcp.fetch_rows(offers, http=transport, progress=progress), gcp.SOURCE


def _explain(cloud: str, exc: Exception) -> str:
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        from jupyter_sky.catalog.refresh.aws import NO_CREDENTIALS

        return NO_CREDENTIALS
    if isinstance(exc, PermissionError):
        return str(exc)
    return f"{cloud}: refresh failed ({name}: {exc}); the previous prices stay in use."


def refresh(
    clouds: Iterable[str] | None = None,
    *,
    progress: bool = True,
    fetch: Mapping[str, Any] | None = None,
    home: Path | None = None,
    now: datetime | None = None,
) -> Report:
    """Fetch current prices of ``clouds`` and store them in the user overlay.

    Parameters
    ----------
    clouds : iterable of str, optional
        Any of ``aws``, ``azure``, ``gcp``; default all three.
    progress : bool
        Show a progress bar per cloud (tqdm if installed, plain lines on stderr otherwise).
    fetch : mapping, optional
        Transports by cloud, replacing the real ones (tests): ``aws`` a ``(service, region) ->
        client`` factory, ``azure`` and ``gcp`` a ``url -> decoded JSON`` callable. A cloud with
        an injected transport skips the credential check (GCP still needs a key).
    home : Path, optional
        The jupyter-sky home; default :func:`jupyter_sky.config.sky_home`.
    now : datetime, optional
        The fetch time recorded in the overlay; default now (UTC).

    Returns
    -------
    Report
        One :class:`CloudResult` per cloud; a failed cloud keeps its previous overlay.

    Raises
    ------
    ValueError
        For a cloud name other than aws, azure or gcp.
    """
    from jupyter_sky.catalog import offers as catalog
    from jupyter_sky.catalog.refresh import overlay

    wanted = list(dict.fromkeys(c.lower() for c in (clouds or CLOUDS)))
    unknown = [c for c in wanted if c not in CLOUDS]
    if unknown:
        raise ValueError(f"Cannot refresh {', '.join(unknown)}; choose from {', '.join(CLOUDS)}.")
    transports = dict(fetch or {})
    snapshot = catalog.load_offers()
    report = Report()
    for cloud in wanted:
        mine = [o for o in snapshot if o.infra == cloud]
        result = CloudResult(cloud, total=len(mine))
        report.results.append(result)
        problem = None if cloud in transports else _problem(cloud)
        if problem:
            result.error = problem
            continue
        try:
            rows, source = _fetch(cloud, mine, transports.get(cloud), progress)
        except Exception as exc:
            result.error = _explain(cloud, exc)
            continue
        result.rows = len(rows)
        result.path = overlay.write(cloud, rows, source=source, fetched_at=now, home=home)
        merged = overlay.apply(mine, home)
        result.matched = sum(a is not b for a, b in zip(mine, merged, strict=True))
    return report


def cli_refresh(argv: list[str]) -> int:
    """Run ``jupyter-sky catalog refresh [--cloud aws|azure|gcp]...``.

    Parameters
    ----------
    argv : list of str
        The words after ``catalog refresh``.

    Returns
    -------
    int
        0 when every requested cloud was refreshed, 1 when one could not be (a missing
        credential is reported in one sentence), 2 for bad arguments.
    """
    parser = argparse.ArgumentParser(
        prog="jupyter-sky catalog refresh",
        description="Fetch current prices into "
        "$JUPYTER_SKY_HOME/catalog/ (laid over the shipped snapshot). "
        + " ".join(f"{c}: {how}." for c, how in AUTH.items()),
    )
    parser.add_argument(
        "--cloud", action="append", choices=CLOUDS, help="refresh only this cloud (repeatable)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    clouds = args.cloud or list(CLOUDS)
    for cloud in clouds:
        print(f"{cloud}: authenticates with {AUTH[cloud]}")
    report = refresh(clouds, progress=not args.no_progress)
    for result in report.results:
        print(result.line(), file=sys.stdout if result.error is None else sys.stderr)
    return 0 if report.ok else 1
