"""One sentence for a request nothing fits, naming the filter that emptied the list."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from jupyter_sky.catalog.offers import offers_for, split_tpu
from jupyter_sky.offering import Offering
from jupyter_sky.optimizer.candidates import Scope, instance_types

if TYPE_CHECKING:
    from jupyter_sky.spec.task import Resources


def hardware(res: Resources) -> str:
    """Return the hardware part of a request: ``A100:1``, ``2 accelerators`` or ``4+ CPUs``."""
    if res.accelerator:
        count = res.accelerator_count or 1
        return (
            res.accelerator
            if count == 1 and split_tpu(res.accelerator)
            else (f"{res.accelerator}:{count}")
        )
    if res.accelerator_count:
        return f"{res.accelerator_count} accelerators of any type"
    if res.instance_type:
        return res.instance_type
    if res.cpus is not None:
        return f"{res.cpus:g}{'+' if res.cpus_plus else ''} CPUs (no GPU)"
    return "a CPU-only machine"


def _cheapest(offers: Iterable[Offering], spot: bool) -> tuple[Offering, float] | None:
    priced = [(o, o.spot_price if spot else o.price) for o in offers if o.rankable(spot)]
    best = min(priced, key=lambda pair: pair[1] or 0.0, default=None)
    return (best[0], best[1] or 0.0) if best else None


def _at(offer: Offering, price: float) -> str:
    return f"{offer.infra} {offer.instance_type} in {offer.region} at ${price:,.2f}/h"


def _numbers(values: Iterable[float | None], limit: int = 12) -> str:
    distinct = sorted({v for v in values if v is not None})
    shown = ", ".join(f"{v:g}" for v in distinct[:limit])
    return shown + (", ..." if len(distinct) > limit else "")


def _count_miss(res: Resources, spot: bool) -> str:
    name, count = res.accelerator or "", res.accelerator_count or 1
    every = offers_for(name, None, include_flagged=True)
    if not every:
        return f"{name} is a known accelerator, but no catalog row prices it."
    counts = sorted({o.accelerator_count for o in every})
    above = [c for c in counts if c > count]
    size = above[0] if above else counts[-1]
    found = _cheapest((o for o in every if o.accelerator_count == size), spot)
    tail = f"; cheapest {size:g}× is {_at(*found)}" if found else ""
    return (
        f"{name}:{count} is offered nowhere; {name} comes in {_numbers(counts)} per instance{tail}."
    )


def _hardware_miss(res: Resources, spot: bool) -> str:
    if res.accelerator:
        return _count_miss(res, spot)
    if res.accelerator_count:
        return f"No instance has exactly {res.accelerator_count} accelerators of any type."
    close = difflib.get_close_matches(res.instance_type or "", instance_types(), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "."
    return f"No catalog row has instance type {res.instance_type}{hint}"


def _scope_miss(res: Resources, scope: Scope, stage: str, pool: list[Offering]) -> str:
    if stage == "infra":
        field, label = "infra", "clouds"
    elif stage == "region":
        field, label = "region", f"{scope.kind} regions"
    else:
        field, label = "zone", f"zones of {scope.region}"
    cheapest: dict[str, float] = {}
    for offer in pool:
        key, price = getattr(offer, field) or "?", offer.price or offer.spot_price or 0.0
        cheapest[key] = min(price, cheapest.get(key, price))
    names = sorted(cheapest, key=cheapest.__getitem__)
    more = f" and {len(names) - 8} more" if len(names) > 8 else ""
    return (
        f"{hardware(res)} is not offered on {scope.text()}; the {label} that offer it are "
        f"{', '.join(names[:8])}{more}."
    )


def _size_miss(res: Resources, stage: str, pool: list[Offering], suffix: str) -> str:
    cpus = stage == "cpus"
    value, plus = (res.cpus, res.cpus_plus) if cpus else (res.memory_gb, res.memory_plus)
    unit, flag = ("vCPUs", "--cpus") if cpus else ("GB of memory", "--memory")
    sizes = [o.vcpus if cpus else o.memory_gb for o in pool]
    if plus:
        most = max((s for s in sizes if s is not None), default=0.0)
        what = f"No row{suffix} for {hardware(res)}"
        return f"{what} has {value:g} or more {unit}; the most is {most:g}."
    return (
        f"No row{suffix} for {hardware(res)} has exactly {value:g} {unit}; the sizes are "
        f"{_numbers(sizes)}; write {flag} {value:g}+ for at least {value:g}."
    )


def miss_sentence(res: Resources, scope: Scope, stage: str, pool: list[Offering]) -> str:
    """Explain why the hardware filter ``stage`` left nothing of ``pool`` (its input).

    Parameters
    ----------
    res : Resources
        The request.
    scope : Scope
        The request's parsed ``infra``.
    stage : str
        ``hardware`` (nothing has the accelerator, count or instance type), ``infra``,
        ``region``, ``zone``, ``cpus`` or ``memory``.
    pool : list of Offering
        The offers that reached the stage.

    Returns
    -------
    str
        One sentence, with the nearest alternative where there is one.
    """
    suffix = f" on {scope.text()}" if scope.kind else ""
    if stage == "hardware":
        return _hardware_miss(res, res.spot)
    if stage in ("infra", "region", "zone"):
        return _scope_miss(res, scope, stage, pool)
    return _size_miss(res, stage, pool, suffix)


def price_miss(res: Resources, flagged: list[Offering], dear: list[Offering]) -> str:
    """Explain why no fitting row has a price that may be ranked."""
    kind = "spot" if res.spot else "on-demand"
    if dear:
        found = _cheapest(dear, res.spot)
        cheapest = f"; the cheapest is {_at(*found)}" if found else ""
        return f"Nothing for {hardware(res)} costs at most ${res.max_price:g}/h{cheapest}."
    if flagged:
        notes = sorted({o.flag_note for o in flagged})
        return (
            f"Every {kind} price for {hardware(res)} is flagged and kept out of the ranking "
            f"({'; '.join(notes)})."
        )
    hint = "; drop --spot" if res.spot else ""
    return f"No row for {hardware(res)} has a {kind} price{hint}."
