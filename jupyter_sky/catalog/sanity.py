"""Price sanity: which catalog prices are too odd to rank.

The rule, in words. Prices are compared per accelerator-hour (instance price divided by the
number of accelerators), and the on-demand and spot prices of a row are judged separately:

1. ``no_on_demand``: the row has no on-demand price. It cannot be ranked on demand; its spot
   price, if any, may still be ranked (marketplaces list spot-only rows on purpose).
2. ``zero_price``: the on-demand price, or the on-demand price of any part it is built from
   (GCP host VM + GPUs), is 0. Nobody rents hardware for free; a zero is a missing price.
   A spot price of exactly 0 is read as "no spot offer" before any rule runs (Vast writes
   ``0.00`` in every row), see :func:`clean_spot`.
3. ``placeholder_price``: within one cloud and one accelerator, the same price appears for
   ``PLACEHOLDER_SIZES`` or more different accelerator counts. Real prices grow with the count
   (elsewhere in the data at most 3 sizes share a price: AWS L4 spot at 0.332); a value
   repeated over the whole size ladder is a "not sold here" sentinel (GCP tpu-v6e's 700.0 on
   8 sizes).
4. ``below_floor``: the price per accelerator-hour is under ``FLOOR`` times the reference price
   of that accelerator: the median over clouds of each cloud's median, so a cloud with
   thousands of rows gets one vote, and sentinels and zeros are left out. The data shows a
   wide gap: copy errors sit at 0.2-2.7 % of the reference, the cheapest real marketplace rows
   (old V100s) at 6-10 %; ``FLOOR`` = 4 % lies between.
5. ``spot_above_on_demand``: the spot price exceeds on-demand by more than ``SPOT_TOLERANCE``
   (AWS rounds spot to 4 decimals, so equal prices may differ by 1e-5). One of the two prices
   is wrong and the data cannot tell which, so neither is ranked (unless rule 3 or 4 already
   showed that the spot price is the wrong one).

Rules 3 and 4 applied to the spot price give ``spot_placeholder_price`` and
``spot_below_floor``, which leave the on-demand price rankable. A flagged offer stays in the
catalog, so the optimizer can say what it skipped and why (:func:`describe`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering

FLOOR = 0.04
PLACEHOLDER_SIZES = 5
SPOT_TOLERANCE = 0.01

NO_ON_DEMAND = "no_on_demand"
ZERO_PRICE = "zero_price"
PLACEHOLDER_PRICE = "placeholder_price"
BELOW_FLOOR = "below_floor"
SPOT_ABOVE_ON_DEMAND = "spot_above_on_demand"
SPOT_PLACEHOLDER_PRICE = "spot_placeholder_price"
SPOT_BELOW_FLOOR = "spot_below_floor"

REASONS = {
    NO_ON_DEMAND: "no on-demand price in the catalog",
    ZERO_PRICE: "a price of $0.00/h (a missing price, not a free machine)",
    PLACEHOLDER_PRICE: "the same price for every size (a 'not sold here' placeholder)",
    BELOW_FLOOR: f"under {FLOOR:.0%} of the usual price for this accelerator (likely an error)",
    SPOT_ABOVE_ON_DEMAND: "spot price above on-demand (one of the two is wrong)",
    SPOT_PLACEHOLDER_PRICE: "the same spot price for every size (a placeholder)",
    SPOT_BELOW_FLOOR: f"spot under {FLOOR:.0%} of the usual spot price (likely an error)",
}
# Flags that leave the other price kind of the row rankable.
ON_DEMAND_OK_FLAGS = frozenset({SPOT_PLACEHOLDER_PRICE, SPOT_BELOW_FLOOR})
SPOT_OK_FLAGS = frozenset({NO_ON_DEMAND})


def rankable(flags: Iterable[str], spot: bool) -> bool:
    """Return True if a row with ``flags`` may be ranked on its spot (or on-demand) price."""
    allowed = SPOT_OK_FLAGS if spot else ON_DEMAND_OK_FLAGS
    return all(flag in allowed for flag in flags)


def clean_spot(spot: float | None) -> float | None:
    """Return None for a spot price of 0 (the source's way of writing 'no spot offer')."""
    return None if spot is not None and spot <= 0 else spot


def describe(flags: Iterable[str]) -> str:
    """Join the human-readable reasons for ``flags`` ('' for none)."""
    return "; ".join(REASONS.get(f, f) for f in flags)


def _unit(offer: Offering, spot: bool) -> float | None:
    value = offer.spot_price if spot else offer.price
    if value is None:
        return None
    count = offer.accelerator_count
    return value / count if offer.accelerator and count > 0 else value


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class PeerStats:
    """What the rule needs to know about an offer's peers (same accelerator, every cloud)."""

    def __init__(self, peers: Iterable[Offering]) -> None:
        peers = list(peers)
        self.placeholders = {s: _placeholders(peers, s) for s in (False, True)}
        self.reference = {s: _reference(peers, s, self.placeholders[s]) for s in (False, True)}


def _placeholders(peers: Sequence[Offering], spot: bool) -> set[tuple[str, float]]:
    counts: dict[tuple[str, float], set[float]] = defaultdict(set)
    for o in peers:
        value = o.spot_price if spot else o.price
        if value is not None and o.accelerator:
            counts[(o.infra, value)].add(o.accelerator_count)
    return {key for key, sizes in counts.items() if len(sizes) >= PLACEHOLDER_SIZES}


def _reference(peers: Sequence[Offering], spot: bool, bad: set[tuple[str, float]]) -> float | None:
    by_cloud: dict[str, list[float]] = defaultdict(list)
    for o in peers:
        unit = _unit(o, spot)
        value = o.spot_price if spot else o.price
        if unit and unit > 0 and (o.infra, value) not in bad and not _has_zero_part(o):
            by_cloud[o.infra].append(unit)
    if not by_cloud:
        return None
    return _median([_median(units) for units in by_cloud.values()])


def _has_zero_part(offer: Offering) -> bool:
    return offer.price == 0 or any(part[1] == 0 for part in offer.components)


def _kind_flags(offer: Offering, stats: PeerStats, spot: bool) -> list[str]:
    value = offer.spot_price if spot else offer.price
    if value is None:
        return []
    flags = []
    if (offer.infra, value) in stats.placeholders[spot]:
        flags.append(SPOT_PLACEHOLDER_PRICE if spot else PLACEHOLDER_PRICE)
    unit, ref = _unit(offer, spot), stats.reference[spot]
    if offer.accelerator and unit and ref and unit < FLOOR * ref:
        flags.append(SPOT_BELOW_FLOOR if spot else BELOW_FLOOR)
    return flags


def judge(offer: Offering, stats: PeerStats) -> list[str]:
    """Return the verdicts for ``offer`` given precomputed :class:`PeerStats` (see :func:`verdict`)."""
    flags = [] if offer.price is not None else [NO_ON_DEMAND]
    if _has_zero_part(offer):
        flags.append(ZERO_PRICE)
    for spot in (False, True):
        flags.extend(_kind_flags(offer, stats, spot))
    price, spot_price = offer.price, offer.spot_price
    spot_known_bad = SPOT_PLACEHOLDER_PRICE in flags or SPOT_BELOW_FLOOR in flags
    if price and spot_price and not spot_known_bad and spot_price > price * (1 + SPOT_TOLERANCE):
        flags.append(SPOT_ABOVE_ON_DEMAND)
    return flags


def verdict(offer: Offering, peers: Iterable[Offering]) -> list[str]:
    """Return the sanity flags of one offer (empty list: the price may be ranked).

    Parameters
    ----------
    offer : Offering
        The offer to judge.
    peers : iterable of Offering
        Offers of the same accelerator on every cloud (``offer`` may be among them). For CPU-only
        offers, other CPU-only offers.

    Returns
    -------
    list of str
        Reason codes from :data:`REASONS`, in rule order.
    """
    return judge(offer, PeerStats(peers))


def flag_all(offers: Sequence[Offering]) -> list[list[str]]:
    """Return :func:`verdict` for every offer, computing each accelerator's peer stats once.

    Parameters
    ----------
    offers : sequence of Offering
        The whole catalog.

    Returns
    -------
    list of list of str
        Flags in the order of ``offers``.
    """
    groups: dict[Any, list[Offering]] = defaultdict(list)
    for o in offers:
        groups[o.accelerator].append(o)
    stats = {acc: PeerStats(group) for acc, group in groups.items()}
    return [judge(o, stats[o.accelerator]) for o in offers]
