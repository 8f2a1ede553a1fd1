"""What data leaving an infra costs, and the reason shown on rows no infra launches.

Whether an infra is usable here is the registry's business
(:mod:`jupyter_sky.infra.readiness`); the optimizer gets the answer as an ``InfraFacts``.
"""

from __future__ import annotations

#: $ per GB leaving a cloud, first pricing tier (SkyPilot's ``get_egress_cost`` uses the same
#: rates). Clouds not listed charge no egress in SkyPilot's model either (Lambda, RunPod, ...);
#: OCI's first 10 TB per month are free.
EGRESS_PER_GB: dict[str, float] = {"aws": 0.09, "gcp": 0.12, "azure": 0.0875}

#: Assumed bandwidth between clouds, for the time objective (SkyPilot assumes the same).
EGRESS_GBPS = 10.0

PRICE_REFERENCE = "price reference — no launcher yet"


def egress_rate(infra: str) -> float:
    """Return the $/GB for data leaving ``infra`` (0 for live infras and free-egress clouds)."""
    return EGRESS_PER_GB.get(infra, 0.0)


def egress_hours(gigabytes: float) -> float:
    """Return the hours to move ``gigabytes`` between clouds at :data:`EGRESS_GBPS`."""
    return gigabytes * 8 / EGRESS_GBPS / 3600
