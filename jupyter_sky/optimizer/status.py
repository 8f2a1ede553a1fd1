"""How long data takes between infras, and the reason shown on rows no infra launches.

What leaving an infra costs ($/GB) is declared by each infra class (``Infra.egress_per_gb``)
and reaches the optimizer in an ``InfraFacts``, as whether an infra is usable here does
(:mod:`jupyter_sky.infra.readiness`).
"""

from __future__ import annotations

#: Assumed bandwidth between clouds, for the time objective (SkyPilot assumes the same).
EGRESS_GBPS = 10.0

PRICE_REFERENCE = "price reference — no launcher yet"


def egress_hours(gigabytes: float) -> float:
    """Return the hours to move ``gigabytes`` between clouds at :data:`EGRESS_GBPS`."""
    return gigabytes * 8 / EGRESS_GBPS / 3600
