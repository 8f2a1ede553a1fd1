"""Turn catalog offers and live offerings into :class:`Placement` rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from jupyter_sky.optimizer.model import Placement

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering
    from jupyter_sky.spec.task import Resources

#: Prices older than this many days get a note beside the row.
STALE_DAYS = 30

#: Per-infra prices for live offerings, in SkyPilot's ``kubernetes.pricing`` shape:
#: ``{"cpu": $/vCPU-hour, "memory": $/GB-hour, "accelerators": {"A100": $/accelerator-hour}}``.
Pricing = Mapping[str, Any]


@dataclass(frozen=True)
class RowContext:
    """What every row of one plan shares: runtime, output size, reasons, today."""

    hours: float | None
    output_gb: float
    reasons: Mapping[str, str]
    today: date
    launchers: frozenset[str] = frozenset()  # catalog clouds a registered infra launches on
    egress: Mapping[str, float] = field(default_factory=dict)  # $/GB leaving each infra

    def costs(self, infra: str, price: float | None) -> tuple[float | None, float]:
        """Return (estimated cost for ``hours``, egress of ``output_gb`` home) for a row."""
        est = price * self.hours if price is not None and self.hours is not None else None
        return est, self.output_gb * self.egress.get(infra, 0.0)


def _saving(offer: Offering, spot: bool) -> float | None:
    od, sp = offer.price, offer.spot_price
    if not od or sp is None or (not spot and not offer.rankable(True)):
        return None
    return 1.0 - sp / od


def catalog_row(
    offer: Offering, spot: bool, ctx: RowContext, flagged: bool = False, nodes: int = 1
) -> Placement:
    """Build the row for a catalog offer priced on demand or as spot (for ``nodes`` machines)."""
    price = offer.spot_price if spot else offer.price
    price = price * nodes if price is not None else None
    age = max(0, (ctx.today - offer.source_date).days) if offer.source_date else 0
    note = offer.flag_note
    notes: tuple[str, ...] = (note,) if note and flagged else ()
    if age > STALE_DAYS:
        notes += (f"price is {age} days old",)
    reason = f"price not ranked: {note}" if flagged else ctx.reasons.get(offer.infra, "")
    est, egress = ctx.costs(offer.infra, None if flagged else price)
    return Placement(
        offering=offer,
        spot=spot,
        price_per_hour=None if flagged else price,
        priced=not flagged and price is not None,
        est_cost=est,
        egress_cost=egress,
        spot_saving=None if flagged else _saving(offer, spot),
        price_age_days=age,
        usable=not reason,
        reason=reason,
        launchable=offer.infra in ctx.launchers,
        notes=notes,
        flagged=flagged,
    )


def live_price(offering: Offering, res: Resources, pricing: Pricing | None) -> float | None:
    """Return $/h for a live offering from ``pricing``; None when it has no configured price.

    The requested amounts are priced where given (a pod gets what it asks for, as SkyPilot
    prices Kubernetes), else the whole offering.
    """
    spot = res.spot and offering.spot_price is not None
    own = offering.spot_price if spot else offering.price
    if own is not None:
        return own
    if not pricing:
        return None
    cpus = res.cpus if res.cpus is not None else offering.vcpus or 0.0
    memory = res.memory_gb if res.memory_gb is not None else offering.memory_gb or 0.0
    count = res.accelerator_count or offering.accelerator_count
    per_acc = {str(k).lower(): float(v) for k, v in (pricing.get("accelerators") or {}).items()}
    acc_price = per_acc.get((offering.accelerator or "").lower(), 0.0) if count else 0.0
    return (
        float(pricing.get("cpu", 0.0)) * cpus
        + float(pricing.get("memory", 0.0)) * memory
        + acc_price * count
    )


def live_row(
    offering: Offering, res: Resources, ctx: RowContext, unmet: str, pricing: Pricing | None
) -> Placement:
    """Build the row for a live offering; ``unmet`` says what it lacks ('' when it fits)."""
    price = live_price(offering, res, pricing)
    price = price * res.num_nodes if price is not None else None
    reason = unmet or ctx.reasons.get(offering.infra, "")
    est, egress = ctx.costs(offering.infra, price if price is not None else 0.0)
    return Placement(
        offering=offering,
        spot=res.spot and offering.spot_price is not None,
        price_per_hour=price if price is not None else 0.0,
        priced=price is not None,
        est_cost=est,
        egress_cost=egress,
        spot_saving=None,
        price_age_days=None,
        usable=not reason,
        reason=reason,
        launchable=True,
        notes=(offering.note,) if offering.note else (),
    )


def _subject(offering: Offering) -> str:
    if offering.infra == "local":
        return "the local machine"
    return f"{offering.infra} {offering.region} ({offering.instance_type})"


def live_unmet(res: Resources, offering: Offering, price: float | None) -> str:
    """Return one sentence naming what ``offering`` lacks for ``res``, or ``""``.

    Live offerings are machines, so counts are minimums: ``--cpus 4`` fits an 8-CPU host.
    """
    have, name = offering.accelerator_count, offering.accelerator
    vcpus, memory_gb = offering.vcpus or 0.0, offering.memory_gb or 0.0
    wanted = res.accelerator_count or (1 if res.accelerator else 0)
    missing = ""
    if wanted and not have:
        missing = "has no GPUs"
    elif wanted and res.accelerator and (name or "").lower() != res.accelerator.lower():
        missing = f"has {have}x {name}, not {res.accelerator}"
    elif wanted > have:
        missing = f"has only {have} GPUs"
    elif res.cpus and res.cpus > vcpus + 1e-9:
        missing = f"has only {vcpus:g} CPUs"
    elif res.memory_gb and res.memory_gb > memory_gb + 1e-9:
        missing = f"has only {memory_gb:g} GB of memory"
    elif res.spot and offering.spot_price is None:
        missing = "has no spot capacity"
    elif res.instance_type and res.instance_type != offering.instance_type:
        missing = f"is not instance type {res.instance_type}"
    elif res.max_price is not None and (price or 0.0) > res.max_price:
        missing = f"costs ${price:,.2f}/h, over --max-price"
    return f"{_subject(offering)} {missing}" if missing else ""
