"""Catalog offers that fit a request, filtered in named stages so a miss can be explained.

A CPU-only request never gets a GPU host: rows without an accelerator whose instance type is
a GPU or accelerator family (GCP ``a3-edgegpu-8g`` is listed without its GPUs) are left out
unless the request names the instance type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from jupyter_sky.catalog import sanity
from jupyter_sky.catalog.offers import load_offers, offers_for
from jupyter_sky.offering import Offering

if TYPE_CHECKING:
    from jupyter_sky.spec.task import Resources

# Instance families that carry accelerators even when a catalog row lists none.
_ACCELERATED = re.compile(
    r"gpu|^(a2|a3|a4|g2|ct\d\w*)-|^(p\d|g\d|gr\d|inf\d|trn\d|dl\d|vt\d|f\d)[a-z]*\.", re.I
)
_EPS = 1e-6

Predicate = Callable[[Offering], bool]


@dataclass(frozen=True)
class Scope:
    """Where a request may run, parsed from ``Resources.infra``: kind, region and zone."""

    kind: str | None = None
    region: str | None = None
    zone: str | None = None

    @classmethod
    def parse(cls, infra: str | None) -> Scope:
        """Split ``aws/us-east-1[/zone]``, already normalised by the spec (aliases resolved; a
        trailing part that names nothing is dropped)."""
        if not infra:
            return cls()
        kind, _, rest = infra.strip().lower().partition("/")
        region, _, zone = rest.partition("/")
        return cls(
            None if kind in ("", "*") else kind, None if region in ("", "*") else region, zone or None
        )

    def admits_cloud(self, cloud: str) -> bool:
        """Return True if catalog rows of ``cloud`` may be considered."""
        return self.kind is None or self.kind == cloud

    def text(self) -> str:
        """Return the scope as the user wrote it."""
        return "/".join(p for p in (self.kind, self.region, self.zone) if p)


def is_gpu_host(offer: Offering) -> bool:
    """Return True if ``offer`` has accelerators or is an accelerator instance family."""
    return bool(offer.accelerator) or bool(_ACCELERATED.search(offer.instance_type))


@lru_cache(maxsize=1)
def _by_count() -> dict[float, tuple[Offering, ...]]:
    groups: dict[float, list[Offering]] = {}
    for offer in load_offers():
        if offer.accelerator:
            groups.setdefault(offer.accelerator_count, []).append(offer)
    return {count: tuple(group) for count, group in groups.items()}


@lru_cache(maxsize=1)
def _by_type() -> dict[str, tuple[Offering, ...]]:
    groups: dict[str, list[Offering]] = {}
    for offer in load_offers():
        groups.setdefault(offer.instance_type.lower(), []).append(offer)
    return {name: tuple(group) for name, group in groups.items()}


def instance_types() -> list[str]:
    """Return every instance type in the catalog (for "did you mean")."""
    return sorted({o.instance_type for group in _by_type().values() for o in group})


def base_pool(res: Resources) -> tuple[Offering, ...]:
    """Return the offers with the requested hardware kind, before any other filter.

    A named accelerator matches its exact count (as SkyPilot does); a count without a name
    matches any accelerator with that count; no accelerator means CPU-only rows that are not
    GPU hosts, unless ``instance_type`` names one explicitly.
    """
    count = res.accelerator_count or (1 if res.accelerator else 0)
    return _pool(res.accelerator, count, (res.instance_type or "").lower())


@lru_cache(maxsize=256)
def _pool(accelerator: str | None, count: int, instance_type: str) -> tuple[Offering, ...]:
    if accelerator:
        pool: Iterable[Offering] = offers_for(accelerator, count, include_flagged=True)
    elif count:
        pool = _by_count().get(float(count), ())
    elif instance_type:
        rows = _by_type().get(instance_type, ())
        plain = tuple(o for o in rows if not o.accelerator)
        return plain or rows  # GCP hosts come bare and with GPUs; bare is what was asked
    else:
        pool = (o for o in offers_for(None, None, include_flagged=True) if not is_gpu_host(o))
    if instance_type:
        pool = (o for o in pool if o.instance_type.lower() == instance_type)
    return tuple(pool)


@lru_cache(maxsize=256)
def reduced(res_key: tuple, spot: bool) -> tuple[tuple[Offering, ...], tuple[Offering, ...]]:
    """Return (rankable rows, flagged rows) of a pool, one offer per row, cheapest first.

    ``res_key`` is ``(accelerator, count, instance_type)`` as :func:`base_pool` uses it. A row
    is (cloud, region, instance, accelerator, count) at its cheapest zone; every hardware
    filter but the zone one is constant within a row, so filters may run on these rows.
    """
    ranked, flagged, _ = split_priced(list(_pool(*res_key)), spot, None)
    rows = cheapest_per_row(ranked, spot)
    rows.sort(key=lambda o: (_price(o, spot), o.infra, o.region, o.instance_type))
    return tuple(rows), tuple(cheapest_per_row(flagged, spot))


def pool_key(res: Resources) -> tuple:
    """Return the cache key of ``res``'s base pool for :func:`reduced`."""
    count = res.accelerator_count or (1 if res.accelerator else 0)
    return (res.accelerator, count, (res.instance_type or "").lower())


def _price(offer: Offering, spot: bool) -> float:
    return (offer.spot_price if spot else offer.price) or 0.0


def _cpus(value: float, plus: bool) -> Predicate:
    if plus:
        return lambda o: (o.vcpus or 0.0) >= value - _EPS
    return lambda o: abs((o.vcpus or 0.0) - value) < _EPS


def _memory(value: float, plus: bool) -> Predicate:
    if plus:
        return lambda o: (o.memory_gb or 0.0) >= value - _EPS
    return lambda o: abs((o.memory_gb or 0.0) - value) < _EPS


def stages(res: Resources, scope: Scope) -> list[tuple[str, Predicate]]:
    """Return the named hardware filters that apply to ``res``, in the order they run."""
    out: list[tuple[str, Predicate]] = []
    if scope.kind is not None:
        out.append(("infra", lambda o: o.infra == scope.kind))
    if scope.region is not None:
        out.append(("region", lambda o: o.region.lower() == scope.region))
    if scope.zone is not None:
        out.append(("zone", lambda o: (o.zone or "").lower() == scope.zone))
    if res.cpus is not None:
        out.append(("cpus", _cpus(res.cpus, res.cpus_plus)))
    if res.memory_gb is not None:
        out.append(("memory", _memory(res.memory_gb, res.memory_plus)))
    floor = host_floor(res)
    if floor is not None:
        out.append((HOST, lambda o: (o.vcpus or 0.0) >= floor[0] and (o.memory_gb or 0.0) >= floor[1]))
    return out


#: The host a bare accelerator request gets (``--gpus T4:1`` alone): at least this many vCPUs
#: and GB, so a GPU does not land on a 1-vCPU machine. ``--cpus``, ``--memory`` or
#: ``--instance-type`` override it; where no row of the accelerator is that big, it is dropped.
GPU_HOST_VCPUS = 4.0
GPU_HOST_MEMORY_GB = 16.0
HOST = "host size"


def host_floor(res: Resources) -> tuple[float, float] | None:
    """``(vCPUs, GB)`` a catalog row must have for ``res``, or None when the request sizes
    the host itself (or asks for no accelerator)."""
    sized = res.cpus is not None or res.memory_gb is not None or res.instance_type
    if not (res.accelerator or res.accelerator_count) or sized:
        return None
    return GPU_HOST_VCPUS, GPU_HOST_MEMORY_GB


def filter_stages(
    pool: Iterable[Offering], filters: list[tuple[str, Predicate]]
) -> tuple[list[Offering], str]:
    """Apply ``filters`` in order; return the survivors and the stage that emptied them."""
    pool = list(pool)
    for label, keep in filters:
        survivors = [o for o in pool if keep(o)]
        if not survivors and label == HOST:  # a preference, not a requirement
            continue
        if not survivors:
            return pool, label
        pool = survivors
    return pool, ""


def split_priced(
    pool: Iterable[Offering], spot: bool, max_price: float | None
) -> tuple[list[Offering], list[Offering], list[Offering]]:
    """Split ``pool`` into (ranked, flagged, over max price) for the requested price kind.

    Rows without the requested price and no flag about it (no spot offer) are dropped
    silently: they are not an error, just not for sale that way.
    """
    ranked, flagged, dear = [], [], []
    for offer in pool:
        price = offer.spot_price if spot else offer.price
        if offer.flags and not sanity.rankable(offer.flags, spot):
            flagged.append(offer)
        elif price is None:
            continue
        elif max_price is not None and price > max_price + _EPS:
            dear.append(offer)
        else:
            ranked.append(offer)
    return ranked, flagged, dear


def cheapest_per_row(offers: list[Offering], spot: bool) -> list[Offering]:
    """Keep the cheapest zone of each (cloud, region, instance, accelerator, count)."""
    best: dict[tuple, Offering] = {}
    for offer in offers:
        key = (
            offer.infra,
            offer.region,
            offer.instance_type,
            offer.accelerator,
            offer.accelerator_count,
        )
        price = (offer.spot_price if spot else offer.price) or 0.0
        held = best.get(key)
        if held is None or price < ((held.spot_price if spot else held.price) or 0.0):
            best[key] = offer
    return list(best.values())
