"""Rank every placement of one task: the catalog plus live offerings, cheapest first.

Only the rows that are shown (``limit``) and the chosen one become :class:`Placement`
objects; the rest stay catalog offers, so a CPU request over ~2,000 rows stays a few ms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from jupyter_sky.optimizer import candidates as cand
from jupyter_sky.optimizer.capability import Capability, capability_reasons
from jupyter_sky.optimizer.explain import hardware, miss_sentence, price_miss
from jupyter_sky.optimizer.model import InfraFacts, Placement, Plan
from jupyter_sky.optimizer.rows import (
    Pricing,
    RowContext,
    catalog_row,
    live_price,
    live_row,
    live_unmet,
)

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering
    from jupyter_sky.spec.task import Resources

@dataclass
class Found:
    """What one request matched, before rows are built."""

    res: Resources
    ranked: list[Offering] = field(default_factory=list)
    flagged: list[Offering] = field(default_factory=list)
    fits: list[Offering] = field(default_factory=list)
    misfits: list[tuple[Offering, str]] = field(default_factory=list)
    miss: str = ""  # why nothing in the catalog may be ranked


def _fast(res: Resources, scope: cand.Scope, found: Found) -> bool:
    """Filter the cached per-row offers; False when the slow, explaining path is needed."""
    if scope.zone is not None:
        return False  # rows hold their cheapest zone only
    ranked, flagged = cand.reduced(cand.pool_key(res), res.spot)
    for _, keep in cand.stages(res, scope):
        ranked = tuple(o for o in ranked if keep(o))
        flagged = tuple(o for o in flagged if keep(o))
    if res.max_price is not None:
        top = res.max_price + 1e-9
        ranked = tuple(o for o in ranked if ((o.spot_price if res.spot else o.price) or 0) <= top)
    found.ranked, found.flagged = list(ranked), list(flagged)
    return bool(ranked)


def _catalog(res: Resources, scope: cand.Scope, found: Found, live_kinds: frozenset[str]) -> None:
    if scope.kind in live_kinds or _fast(res, scope, found):
        return
    pool = cand.base_pool(res)
    if not pool:
        found.miss = miss_sentence(res, scope, "hardware", [])
        return
    survivors, stage = cand.filter_stages(pool, cand.stages(res, scope))
    if stage:
        found.miss = miss_sentence(res, scope, stage, survivors)
        return
    ranked, flagged, dear = cand.split_priced(survivors, res.spot, res.max_price)
    found.ranked = cand.cheapest_per_row(ranked, res.spot)
    found.flagged = cand.cheapest_per_row(flagged, res.spot)
    if not ranked:
        found.miss = price_miss(res, flagged, dear)


def _live(res: Resources, scope: cand.Scope, live: Iterable[Offering], prices: Mapping) -> Found:
    found = Found(res)
    for offering in live:
        if scope.kind is not None and scope.kind != offering.infra:
            continue  # another infra was asked for: not even worth a row
        unmet = live_unmet(res, offering, live_price(offering, res, prices.get(offering.infra)))
        if unmet:
            found.misfits.append((offering, unmet))
        else:
            found.fits.append(offering)
    return found


def match(
    res: Resources,
    live: Sequence[Offering],
    prices: Mapping[str, Pricing],
    status: Mapping[str, str] | None = None,
    facts: InfraFacts | None = None,
) -> Found:
    """Return the catalog offers and live offerings that fit ``res`` (and why, if none)."""
    facts = facts or InfraFacts()
    scope = cand.Scope.parse(res.infra)
    found = _live(res, scope, live, prices)
    _catalog(res, scope, found, facts.live_kinds)
    if scope.kind in facts.live_kinds and not found.fits:
        reasons = [why for _, why in found.misfits]
        # An infra that cannot work here (paramiko missing, say) says why, with its fix.
        given = (status or {}).get(scope.kind or "")
        unusable = (facts.reason(scope.kind or "") if given is None else given).rstrip(".")
        nothing = unusable or f"{scope.kind} reported no offering that fits {hardware(res)}"
        found.miss = ("; ".join(reasons) or nothing) + "."
        found.miss = found.miss[0].upper() + found.miss[1:]
    return found


class Entry(NamedTuple):
    """A ranked candidate before it becomes a row: its sort key and where it came from."""

    key: tuple
    source: Offering
    res: Resources
    infra: str


def entries(
    found: Sequence[Found],
    hours: float | None,
    output_gb: float,
    prices: Mapping[str, Pricing],
    rates: Mapping[str, float],
) -> list[Entry]:
    """Return every rankable candidate of ``found``, cheapest first (price is ``key[1]``);
    ``rates`` are the $/GB of data leaving each infra."""
    out: list[Entry] = []
    for f in found:
        res, spot = f.res, f.res.spot
        nodes = res.num_nodes
        for o in f.ranked:
            price = ((o.spot_price if spot else o.price) or 0.0) * nodes
            egress = output_gb * rates.get(o.infra, 0.0) if output_gb else 0.0
            total = price * hours + egress if hours is not None else price
            key = (total, price, egress, o.infra, o.region, o.instance_type, spot)
            out.append(
                tuple.__new__(Entry, (key, o, res, o.infra))
            )  # skips NamedTuple's slow __new__
        for off in f.fits:
            price = (live_price(off, res, prices.get(off.infra)) or 0.0) * nodes
            egress = output_gb * rates.get(off.infra, 0.0)
            total = price * hours + egress if hours is not None else price
            key = (total, price, egress, off.infra, off.region, off.instance_type, spot)
            out.append(Entry(key, off, res, off.infra))
    out.sort(key=lambda e: e.key)
    return out


def statuses(
    found: Sequence[Found],
    status: Mapping[str, str] | None,
    caps: Mapping[str, Capability] | None = None,
    facts: InfraFacts | None = None,
) -> dict[str, str]:
    """Return the reason for every infra in ``found``: what it cannot honour, else its status
    (``status`` first, then ``facts``)."""
    facts = facts or InfraFacts()
    kinds = {o.infra for f in found for o in f.ranked} | {o.infra for f in found for o in f.fits}
    given = dict(status or {})
    unmet = capability_reasons((f.res for f in found), kinds, caps)
    return {**{k: facts.reason(k) for k in kinds - set(given)}, **given, **unmet}


def build(entry: Entry, ctx: RowContext, prices: Mapping[str, Pricing]) -> Placement:
    """Build the :class:`Placement` of a ranked entry."""
    if entry.source.live:
        return live_row(entry.source, entry.res, ctx, "", prices.get(entry.infra))
    return catalog_row(entry.source, entry.res.spot, ctx, nodes=entry.res.num_nodes)


def _after(found: Sequence[Found], ctx: RowContext, prices: Mapping, limit: int) -> list[Placement]:
    rows = [
        live_row(o, f.res, ctx, why, prices.get(o.infra)) for f in found for o, why in f.misfits
    ]
    for f in found:
        rows += [
            catalog_row(o, f.res.spot, ctx, flagged=True, nodes=f.res.num_nodes) for o in f.flagged
        ]
    return rows[:limit]


def _missing(
    requests: Sequence[Resources],
    ranked: list[Entry],
    reasons: Mapping[str, str],
    after: list[Placement],
) -> str:
    by_reason: dict[str, list[str]] = {}
    for infra in dict.fromkeys(e.infra for e in ranked):  # cheapest first, each once
        by_reason.setdefault(reasons.get(infra, ""), []).append(infra)
    parts = [row.reason for row in after if row.offering.live]
    for reason, names in by_reason.items():
        more = f" and {len(names) - 6} more" if len(names) > 6 else ""
        parts.append(f"{', '.join(names[:6])}{more}: {reason}")
    what = " or ".join(hardware(r) for r in requests)
    return f"No usable placement for {what}: {'; '.join(parts)}."


def _dedupe(ranked: list[Entry]) -> list[Entry]:
    # any_of alternatives can reach the same row twice; the first (cheapest) wins.
    seen: dict[tuple, Entry] = {}
    for e in ranked:
        seen.setdefault(e.key[3:], e)
    return list(seen.values())


def rank(
    resources: Resources | Sequence[Resources],
    *,
    live: Iterable[Offering] = (),
    status: Mapping[str, str] | None = None,
    hours: float | None = None,
    output_gb: float = 0.0,
    limit: int = 50,
    prices: Mapping[str, Pricing] | None = None,
    today: date | None = None,
    capabilities: Mapping[str, Capability] | None = None,
    facts: InfraFacts | None = None,
) -> Plan:
    """Rank every placement of one task, cheapest first, and choose the best usable one.

    Parameters
    ----------
    resources : Resources or sequence of Resources
        The request; a sequence means SkyPilot's ``any_of`` (any alternative may be used).
    live : iterable of Offering
        Offerings reported by infras (this machine, a Slurm partition, ...).
    status : mapping of str to str, optional
        Infra kind -> ``""`` (usable) or a one-sentence reason; kinds left out take
        ``facts``' reason.
    hours : float, optional
        Runtime estimate; gives each row an estimated cost and ranks by cost plus egress.
    output_gb : float
        GB the cell brings back to the notebook, priced as egress from the row's cloud.
    limit : int
        Ranked rows to keep (the chosen row is always kept); flagged and misfit rows follow.
    prices : mapping, optional
        Infra kind -> SkyPilot ``kubernetes.pricing``-shaped prices for live offerings.
    today : datetime.date, optional
        Reference day for price ages (default: today).
    capabilities : mapping of str to Capability, optional
        Infra kind -> what it can honour (nodes, ports, disks, images, network tier); a kind
        left out can honour none of them. None: ``facts``' capabilities (None there: not
        checked).
    facts : InfraFacts, optional
        What the registry says (live kinds, launchable clouds, reasons, capabilities, egress
        rates); the optimizer never asks an infra itself. Default: no infra known (and so no
        egress charged).

    Returns
    -------
    Plan
        ``rows``, ``chosen`` and ``explain()``.
    """
    requests = [resources] if not isinstance(resources, Sequence) else list(resources)
    live, prices = list(live), dict(prices or {})
    facts = facts or InfraFacts()
    caps = capabilities if capabilities is not None else facts.capabilities
    found = [match(res, live, prices, status, facts) for res in requests]
    ranked = entries(found, hours, output_gb, prices, facts.egress)
    ranked = _dedupe(ranked) if len(requests) > 1 else ranked
    reasons = statuses(found, status, caps, facts)
    day = today or date.today()
    ctx = RowContext(hours, output_gb, reasons, day, facts.launchers, facts.egress)
    best = next((n for n, e in enumerate(ranked) if not reasons.get(e.infra, "")), None)
    shown = [build(e, ctx, prices) for e in ranked[:limit]]
    chosen = None
    if best is not None and best < limit:
        chosen = shown[best]
    elif best is not None:  # kept beyond the cut: the chosen row is always shown
        chosen = build(ranked[best], ctx, prices)
        shown.append(chosen)
    after = _after(found, ctx, prices, limit)
    infeasible = "" if ranked else " ".join(f.miss for f in found if f.miss)
    missing = "" if chosen or not ranked else _missing(requests, ranked, reasons, after)
    request = requests[0] if len(requests) == 1 else tuple(requests)
    return Plan(
        request, tuple(shown + after), chosen, hours, output_gb, len(ranked), infeasible, missing
    )
