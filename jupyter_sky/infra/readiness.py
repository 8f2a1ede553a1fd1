"""What the registered infras say about this machine, gathered for the planner.

The optimizer is pure: it never asks an infra anything. The notebook side calls
:func:`facts` (which infras are live, which catalog clouds launch, why an infra cannot be used
here, what each can honour) and :func:`live_offerings`, and hands both to ``rank``.

Each infra's ``credentials()`` is a local look (environment variables, well-known files), never
an SDK import: importing boto3 alone costs ~300 ms, and a plan must stay a few milliseconds.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from jupyter_sky.errors import SkyError

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering
    from jupyter_sky.optimizer.capability import Capability
    from jupyter_sky.optimizer.model import InfraFacts
    from jupyter_sky.spec.task import Resources

def infra_reason(kind: str) -> str:
    """``""`` if ``kind`` is usable here, else one short reason why not (no full stop).

    The registered infra's ``credentials()`` or ``check()`` sentence; ``"no launcher yet in
    this version"`` for planned infras; the price-reference clause for every other catalog
    cloud.
    """
    from jupyter_sky.infra import PLANNED, classes
    from jupyter_sky.optimizer.status import PRICE_REFERENCE

    if kind in classes():
        return _check_registered(kind)
    if kind in PLANNED:
        return "no launcher yet in this version"
    return PRICE_REFERENCE


def _check_registered(kind: str) -> str:
    from jupyter_sky.infra import get_infra, infra_class

    # The reason is a clause of a longer sentence ("aws: ...; gcp: ..."): no full stop of its own.
    missing = infra_class(kind).credentials()
    if missing:
        return missing.rstrip(".")
    try:
        return get_infra(kind).check().rstrip(".")
    except SkyError as exc:  # a missing SDK: the install hint is the reason
        return str(exc).rstrip(".")


def live_kinds() -> frozenset[str]:
    """Infra kinds with no catalog rows: only what they report live can run there."""
    from jupyter_sky.infra import PLANNED_LIVE, classes

    return frozenset(k for k, cls in classes().items() if cls.catalog is None) | PLANNED_LIVE


def launchers() -> frozenset[str]:
    """The catalog clouds a registered infra launches on."""
    from jupyter_sky.infra import classes

    return frozenset(cls.catalog for cls in classes().values() if cls.catalog is not None)


def capabilities() -> dict[str, Capability]:
    """Infra kind -> what it can honour (num_nodes, ports, ...), from each infra's class."""
    from jupyter_sky.infra import classes, get_infra
    from jupyter_sky.infra.base import SpansNodes
    from jupyter_sky.optimizer.capability import Capability

    caps: dict[str, Capability] = {}
    for kind, cls in classes().items():  # catalog clouds without a class honour none yet
        nodes = 1
        if issubclass(cls, SpansNodes):
            with contextlib.suppress(SkyError):  # its SDK is missing: it offers nothing anyway
                nodes = get_infra(kind).max_nodes()  # type: ignore[attr-defined]
        caps[kind] = Capability(max_nodes=nodes, ports=cls.opens_ports)
    return caps


def egress() -> dict[str, float]:
    """Catalog cloud (or kind) -> $/GB of data leaving it, as each infra class declares it."""
    from jupyter_sky.infra import classes

    return {cls.catalog or k: cls.egress_per_gb for k, cls in classes().items() if cls.egress_per_gb}


def facts() -> InfraFacts:
    """Everything the planner needs to know about the infras, asked once per plan."""
    from jupyter_sky.infra import kinds, planned
    from jupyter_sky.optimizer.model import InfraFacts

    reasons = {kind: infra_reason(kind) for kind in [*kinds(), *planned()]}
    return InfraFacts(live_kinds(), launchers(), reasons, capabilities(), egress())


def live_offerings(resources: Resources | None = None) -> list[Offering]:
    """What the usable registered infras report (this machine, SSH hosts, pools, ...).

    With ``--infra KIND/TARGET`` only that target is asked (an SSH host named only in
    ``~/.ssh/config``, say); with ``--infra KIND`` only that kind's infra.
    """
    from jupyter_sky.infra import classes, get_infra, split_infra

    wanted, target = split_infra(resources.infra) if resources and resources.infra else ("", "")
    offers: list[Offering] = []
    for kind, cls in sorted(classes().items()):
        if (wanted and kind != wanted) or cls.catalog is not None:  # catalog clouds: priced rows
            continue
        try:
            infra = get_infra(kind)
        except SkyError:  # its SDK is missing: facts() says so
            continue
        if infra.check():
            continue
        offers.extend(infra.offerings(resources) if target and resources else infra.live())
    return offers
