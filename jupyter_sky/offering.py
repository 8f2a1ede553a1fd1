"""The one type for "somewhere a cell can run, with its price": :class:`Offering`.

A row of the shipped price catalog (an instance type of a cloud in a region) and what a live
infra reports about itself (this machine, an SSH host, a Slurm partition, a Kubernetes node
group) are both offerings. The catalog, the infras and the optimizer all import it from here;
it imports nothing of theirs but the catalog's sanity verdicts (plain functions on flag names).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from jupyter_sky.catalog import sanity

if TYPE_CHECKING:
    from jupyter_sky.spec.task import Resources

# (label, on-demand $/h or None, spot $/h or None): how a combined price was made (GCP host + GPU).
Component = tuple[str, "float | None", "float | None"]


@dataclass(frozen=True, slots=True)
class Offering:
    """Something an infra can run a cell on, with its price.

    ``infra`` is the infra kind (for a catalog row, its cloud: ``aws``, ``lambda``, ...).
    ``price`` and ``spot_price`` are $/hour for the whole machine; None when there is none (a
    live offering without a price of its own, a catalog row without spot). ``accelerator_count``
    is a float because some clouds sell fractions of a GPU (AWS ``g6f``). ``vcpus`` and
    ``memory_gb`` are None when the catalog does not know them.

    Catalog rows also carry ``source_date`` (when their price was taken), ``flags`` (the
    :mod:`jupyter_sky.catalog.sanity` verdicts: a flagged price must not be ranked, see
    :meth:`rankable` and :attr:`flag_note`) and ``components`` (non-empty for GCP GPU rows, whose
    price is the host VM plus the attached accelerators). Live offerings have no
    ``source_date``; their ``note`` is shown beside the row (a Slurm partition's idle nodes).
    """

    infra: str
    region: str
    instance_type: str
    vcpus: float | None
    memory_gb: float | None
    accelerator: str | None = None
    accelerator_count: float = 0
    price: float | None = None
    spot_price: float | None = None
    zone: str | None = None
    source_date: date | None = None
    flags: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()
    note: str = ""

    @property
    def live(self) -> bool:
        """Reported by an infra, not read from the catalog (which dates every price)."""
        return self.source_date is None

    def unit_price(self, spot: bool = False) -> float | None:
        """Return $/hour per accelerator (per machine without accelerators), or None."""
        value = self.spot_price if spot else self.price
        if value is None:
            return None
        return value / self.accelerator_count if self.accelerator_count > 0 else value

    def rankable(self, spot: bool = False) -> bool:
        """Return True if this offering's on-demand (or spot) price may be ranked."""
        if (self.spot_price if spot else self.price) is None:
            return False
        return sanity.rankable(self.flags, spot)

    @property
    def flag_note(self) -> str:
        """Human-readable reasons for the flags ('' when the price is clean)."""
        return sanity.describe(self.flags)


def fits(offering: Offering, resources: Resources) -> str:
    """What a live ``offering`` lacks for ``resources``, as the end of a sentence, or ``""``.

    Parameters
    ----------
    offering : Offering
        A live offering (this machine, an SSH host, a Slurm node group, a Kubernetes node).
    resources : Resources
        The request.

    Returns
    -------
    str
        ``""`` when it fits, else e.g. ``"has only 2 CPUs; lower --cpus or choose a larger infra"``.
    """
    wanted, have = resources.accelerator_count, offering.accelerator_count
    vcpus, memory_gb = offering.vcpus or 0.0, offering.memory_gb or 0.0
    if wanted and have == 0:
        return "has no GPUs; choose an infra that has them or drop --gpus"
    if wanted and resources.accelerator and resources.accelerator != offering.accelerator:
        return f"has {have}x {offering.accelerator}, not {resources.accelerator}"
    if wanted > have:
        return f"has only {have} GPUs; lower the count in --gpus"
    if resources.cpus and resources.cpus > vcpus:
        return f"has only {vcpus:g} CPUs; lower --cpus or choose a larger infra"
    if resources.memory_gb and resources.memory_gb > memory_gb:
        return f"has only {memory_gb:g} GB of memory; lower --memory or choose a larger infra"
    if resources.spot:
        return "has no spot capacity; drop --spot or choose a cloud infra"
    if resources.instance_type:
        return "has no instance types; drop --instance-type or choose a cloud infra"
    return ""
