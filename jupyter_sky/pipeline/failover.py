"""Launch with failover: walk the ranked placements, and each row's zones, until one launches.

An infra says why a launch failed with the scope of the failure (:class:`~jupyter_sky.infra.
base.LaunchError`): no capacity in this *zone* moves to the next zone; a quota of the *region*
skips the rest of that region; a missing credential of the *infra* skips every row of that
infra. Any other error stops failover and is shown as it is (a bug or a bad request would
fail the same way everywhere, and money must not be spent finding that out ten times).
The infra tears down whatever a failed attempt created before it raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.base import AnyInfra, Handle, LaunchError, Zoned
from jupyter_sky.offering import Offering

#: Launch attempts of one cell when the config does not say (``defaults.max_launch_attempts``).
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Attempt:
    """One failed launch: where, and the infra's sentence for why."""

    where: str
    reason: str


@dataclass(frozen=True)
class Launched:
    """The launch that worked: its infra, handle, offering and the attempts before it."""

    infra: AnyInfra
    handle: Handle
    offering: Offering
    index: int  # which of the offerings given
    attempts: tuple[Attempt, ...] = ()


def where(offering: Offering) -> str:
    """``aws g4dn.xlarge in us-east-1b`` — how an attempt is named."""
    place = offering.zone or offering.region
    return f"{offering.infra} {offering.instance_type} in {place}".replace(" in -", "")


def launch(
    offerings: Sequence[Offering],
    infra_for: Callable[[str], AnyInfra],
    start: Callable[[AnyInfra, Offering, int], Handle],
    notify: Callable[[str], None],
    max_attempts: int = MAX_ATTEMPTS,
    pinned_zone: bool = False,
    row_failed: Callable[[int, str], None] | None = None,
) -> Launched:
    """Launch on the first offering (and zone) that works.

    Parameters
    ----------
    offerings : sequence of Offering
        The ranked placements to try, best first.
    infra_for : callable
        The infra object of a kind.
    start : callable
        ``start(infra, offering, index)`` launches there (``offering`` is ``offerings[index]``,
        in one of its zones) and returns the handle.
    notify : callable
        Shows one progress line ("attempt 2: ... — no capacity").
    max_attempts : int
        At most this many launches are tried.
    pinned_zone : bool
        The user named the zone (``--infra aws/<region>/<zone>``): a row's zone is the only
        one tried. Otherwise a row's zone (the catalog's cheapest) is tried first, then the
        other zones a Zoned infra gives for its region.
    row_failed : callable, optional
        ``row_failed(index, reason)`` once an offering is given up (every zone failed, or a
        quota or credential error blocked it): the widget greys that row.

    Raises
    ------
    InfraError
        One sentence listing every attempt and its reason, when none launched; or the first
        error that is not a :class:`LaunchError`, unchanged.
    """
    attempts: list[Attempt] = []
    blocked: dict[tuple[str, str | None], str] = {}  # (kind, region or None: all) -> why
    gave_up = row_failed or (lambda index, reason: None)
    for index, offering in enumerate(offerings):
        why = blocked.get((offering.infra, None)) or blocked.get((offering.infra, offering.region))
        if why:
            gave_up(index, f"not tried: {why}")
            continue
        infra = infra_for(offering.infra)
        for zoned in _zones(infra, offering, pinned_zone):
            if len(attempts) >= max_attempts:
                raise _exhausted(attempts, f"after {max_attempts} attempts (the limit)")
            try:
                handle = start(infra, zoned, index)
            except LaunchError as exc:
                attempts.append(Attempt(where(zoned), str(exc).rstrip(".")))
                notify(f"attempt {len(attempts)}: {where(zoned)} — {attempts[-1].reason}")
                if exc.scope != "zone":
                    region = offering.region if exc.scope == "region" else None
                    blocked[(offering.infra, region)] = attempts[-1].reason
                    break
                continue
            return Launched(infra, handle, zoned, index, tuple(attempts))
        gave_up(index, attempts[-1].reason if attempts else "no zone to try")
    raise _exhausted(attempts, "on every placement that fits")


def _zones(infra: AnyInfra, offering: Offering, pinned: bool = False) -> list[Offering]:
    """The offering once per zone to try: a Zoned infra's zones of the row's region, the
    row's own zone (as the infra names it) first; only the row's zone when it is pinned."""
    if not isinstance(infra, Zoned) or (offering.zone and pinned):
        return [offering]
    first = infra.zones(offering) if offering.zone else []
    zones = first + [z for z in infra.zones(dataclasses.replace(offering, zone=None)) if z not in first]
    return [dataclasses.replace(offering, zone=zone) for zone in zones] or [offering]


def _exhausted(attempts: list[Attempt], how: str) -> InfraError:
    if not attempts:
        return InfraError("No placement could be tried: every infra that fits was ruled out.")
    if len(attempts) == 1:
        return InfraError(f"Launching on {attempts[0].where} failed: {attempts[0].reason}.")
    tried = "; ".join(f"{a.where}: {a.reason}" for a in attempts)
    return InfraError(f"No placement launched {how} — {tried}.")
