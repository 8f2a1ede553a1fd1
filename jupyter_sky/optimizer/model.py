"""What the optimizer returns: :class:`Placement` rows and the :class:`Plan` that ranks them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_sky.optimizer.status import PRICE_REFERENCE

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering
    from jupyter_sky.optimizer.capability import Capability
    from jupyter_sky.spec.task import Resources


@dataclass(frozen=True)
class InfraFacts:
    """What the infra registry says, handed in so the optimizer never asks an infra itself.

    ``live_kinds``: infras without catalog rows (only their live offerings run there);
    ``launchers``: catalog clouds some registered infra launches on; ``reasons``: kind ->
    ``""`` (usable here) or one short reason (a kind left out is a price reference only);
    ``capabilities``: kind -> what it can honour beyond hardware; ``egress``: kind -> $ per
    GB of data leaving it (a kind left out charges none). Built by
    :func:`jupyter_sky.infra.readiness.facts`; the default knows no infra at all.
    """

    live_kinds: frozenset[str] = frozenset()
    launchers: frozenset[str] = frozenset()
    reasons: Mapping[str, str] = field(default_factory=dict)
    capabilities: Mapping[str, Capability] | None = None
    egress: Mapping[str, float] = field(default_factory=dict)

    def reason(self, kind: str) -> str:
        """``""`` when ``kind`` can launch here, else why not."""
        return self.reasons.get(kind, PRICE_REFERENCE)


@dataclass(frozen=True)
class Placement:
    """One place a task can run: an :class:`~jupyter_sky.offering.Offering` bought on demand
    or as spot, with what it costs for this task.

    ``offering`` is the catalog row or live offering itself (``placement.offering.region``).
    ``price_per_hour`` is what the row costs here (spot or on-demand, times the nodes); None
    when the catalog has no usable price for the row (a flagged row); a live offering without
    configured prices has ``price_per_hour`` 0.0 and ``priced`` False, shown as
    "$0 (unpriced)". ``spot_saving`` is ``1 - spot / on-demand`` of the same row: what
    ``--spot`` saves (or saved, on a spot row). ``usable`` rows may be chosen; ``reason`` says
    in one sentence why a row may not. ``launchable`` says whether this version has a launcher
    for the infra at all. ``notes`` are sanity remarks for the table.
    """

    offering: Offering
    spot: bool
    price_per_hour: float | None
    priced: bool
    est_cost: float | None
    egress_cost: float
    spot_saving: float | None
    price_age_days: int | None
    usable: bool
    reason: str
    launchable: bool
    notes: tuple[str, ...] = ()
    flagged: bool = False  # price kept out of the ranking (see notes)

    @property
    def total_cost(self) -> float | None:
        """Estimated cost plus egress, or None without a runtime estimate or a price."""
        if self.est_cost is None:
            return None
        return self.est_cost + self.egress_cost

    def record(self) -> dict[str, Any]:
        """What the state store keeps of where a cluster was placed (JSON)."""
        o = self.offering
        return {
            "infra": o.infra,
            "region": o.region,
            "zone": o.zone,
            "instance_type": o.instance_type,
            "price": self.price_per_hour or 0.0,
            "spot": self.spot,
        }

    def where(self) -> str:
        """Return ``infra region/zone instance`` as one short phrase."""
        o = self.offering
        place = f"{o.region}/{o.zone}" if o.zone else o.region
        return f"{o.infra} {o.instance_type} in {place}"

    def price_text(self) -> str:
        """Return the $/h as shown in tables: ``$1.29``, ``$0 (unpriced)`` or ``—``."""
        if self.price_per_hour is None:
            return "—"
        if not self.priced:
            return "$0 (unpriced)"
        return (
            f"${self.price_per_hour:,.2f}"
            if self.price_per_hour >= 0.1
            else (f"${self.price_per_hour:.4f}")
        )


class Tabular:
    """Shows a plan as HTML in notebooks and as text elsewhere (``to_html``/``to_text``)."""

    def to_text(self) -> str:
        raise NotImplementedError

    def to_html(self) -> str:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.to_text())

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True)
class Plan(Tabular):
    """Ranked placements for one task.

    ``rows`` come cheapest first; flagged prices and live offerings that do not fit follow the
    ranking, each with its reason. ``chosen`` is the best usable row, or None. ``infeasible``
    holds one sentence when nothing in the catalog or the live offerings matches the request;
    ``missing`` one sentence when rows exist but none is usable. ``ranked`` counts the ranked
    rows before the ``limit`` cut.
    """

    request: Resources | tuple[Resources, ...]  # a tuple for any_of
    rows: tuple[Placement, ...]
    chosen: Placement | None
    hours: float | None = None
    output_gb: float = 0.0
    ranked: int = 0
    infeasible: str = ""
    missing: str = ""

    def explain(self) -> str:
        """Return one or two sentences: what was chosen and why, or why nothing was.

        Returns
        -------
        str
            For example ``"Chosen: local this machine in host at $0 (unpriced), the cheapest
            usable of 73 ranked rows."`` or ``"A100:3 is offered nowhere; A100 comes in 1, 2,
            4, 8, 16 per instance; cheapest 4× is ..."``.
        """
        if self.infeasible:
            return self.infeasible
        if self.chosen is None:
            return self.missing
        c = self.chosen
        cost = f", about ${c.total_cost:,.2f} for {self.hours:g} h" if c.total_cost else ""
        price = f"{c.price_text()}/h" if c.priced else c.price_text()
        return (
            f"Chosen: {c.where()} at {price}{cost}, the cheapest usable of "
            f"{self.ranked} ranked rows."
        )

    def to_text(self) -> str:
        """Return the plan as a plain-text table (terminal IPython, logs)."""
        from jupyter_sky.optimizer.render import plan_text

        return plan_text(self)

    def to_html(self) -> str:
        """Return the plan as an HTML table (frontends without widgets, exported notebooks)."""
        from jupyter_sky.optimizer.render import plan_html

        return plan_html(self)
