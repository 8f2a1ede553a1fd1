"""Is an infra usable here, and what does data leaving it cost? Cheap local looks only.

Credentials are detected the way each SDK would find them first (environment variables, then
the well-known files), without importing any SDK: importing boto3 alone costs ~300 ms, and a
plan must stay a few milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

#: $ per GB leaving a cloud, first pricing tier (SkyPilot's ``get_egress_cost`` uses the same
#: rates). Clouds not listed charge no egress in SkyPilot's model either (Lambda, RunPod, ...);
#: OCI's first 10 TB per month are free.
EGRESS_PER_GB: dict[str, float] = {"aws": 0.09, "gcp": 0.12, "azure": 0.0875}

#: Assumed bandwidth between clouds, for the time objective (SkyPilot assumes the same).
EGRESS_GBPS = 10.0

PRICE_REFERENCE = "price reference — no launcher yet"
_LABELS = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}


def egress_rate(infra: str) -> float:
    """Return the $/GB for data leaving ``infra`` (0 for live infras and free-egress clouds)."""
    return EGRESS_PER_GB.get(infra, 0.0)


def egress_hours(gigabytes: float) -> float:
    """Return the hours to move ``gigabytes`` between clouds at :data:`EGRESS_GBPS`."""
    return gigabytes * 8 / EGRESS_GBPS / 3600


def _env(*names: str) -> bool:
    return any(os.environ.get(name) for name in names)


def _gcp() -> bool:
    adc = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if adc:
        return Path(adc).expanduser().is_file()
    config = os.environ.get("CLOUDSDK_CONFIG")
    base = Path(config).expanduser() if config else Path.home() / ".config" / "gcloud"
    return (base / "application_default_credentials.json").is_file()


def _azure() -> bool:
    if _env("AZURE_CLIENT_ID") and _env("AZURE_TENANT_ID"):
        return True
    config = os.environ.get("AZURE_CONFIG_DIR")
    base = Path(config).expanduser() if config else Path.home() / ".azure"
    return any((base / name).is_file() for name in ("azureProfile.json", "msal_token_cache.json"))


#: Credential looks for the clouds whose launcher is not in this version yet; a registered
#: infra answers with its own ``credentials()`` instead.
PLANNED_CREDENTIALS: dict[str, Callable[[], bool]] = {"gcp": _gcp, "azure": _azure}


def infra_reason(kind: str) -> str:
    """Return ``""`` if ``kind`` is usable here, else one short reason why not.

    Parameters
    ----------
    kind : str
        An infra kind (``local``, ``aws``, ``gcp``, ``azure``, ``k8s``, ...) or a catalog cloud
        (``runpod``, ``lambda``, ...).

    Returns
    -------
    str
        ``""``; or the registered infra's ``credentials()`` or ``check()`` sentence;
        ``"no AWS credentials found"`` or ``"no launcher yet in this version"`` for planned
        infras; ``"price reference — no launcher yet"`` for every other catalog cloud.
    """
    from jupyter_sky.infra import PLANNED, classes

    if kind in classes():
        return _check_registered(kind)
    if kind in PLANNED_CREDENTIALS and not PLANNED_CREDENTIALS[kind]():
        return f"no {_LABELS[kind]} credentials found"
    if kind in PLANNED:
        return "no launcher yet in this version"
    return PRICE_REFERENCE


def _check_registered(kind: str) -> str:
    from jupyter_sky.errors import SkyError
    from jupyter_sky.infra import get_infra, infra_class

    # The reason is a clause of a longer sentence ("aws: ...; gcp: ..."): no full stop of its own.
    missing = infra_class(kind).credentials()
    if missing:
        return missing.rstrip(".")
    try:
        return get_infra(kind).check().rstrip(".")
    except SkyError as exc:  # a missing SDK: the install hint is the reason
        return str(exc).rstrip(".")


def default_status(kinds: Iterable[str]) -> dict[str, str]:
    """Return :func:`infra_reason` for each kind in ``kinds``."""
    return {kind: infra_reason(kind) for kind in set(kinds)}


def launchable(cloud: str) -> bool:
    """Return True if a registered infra launches on catalog cloud ``cloud``."""
    from jupyter_sky.infra import classes

    return any(cls.catalog == cloud for cls in classes().values())


def live_kinds() -> frozenset[str]:
    """Infra kinds with no catalog rows: only what they report live can run there."""
    from jupyter_sky.infra import PLANNED_LIVE, classes

    return frozenset(k for k, cls in classes().items() if cls.catalog is None) | PLANNED_LIVE
