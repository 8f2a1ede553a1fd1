"""Ranked placements for one task and for a pipeline of tasks. Pure: no SDK, no network.

``rank(resources)`` lists every (infra, region, instance type, spot) that fits, cheapest
first, with the best usable one chosen; ``plan_dag(tasks, edges)`` places a pipeline as a
whole, egress included. Importing this package loads nothing else: the names below load
their module on first use (the catalog, networkx and scipy load on the first plan), because
``%load_ext jupyter_sky`` must stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_sky.infra.base import Offering
    from jupyter_sky.optimizer.dag import DagPlan, DagTask, plan_dag
    from jupyter_sky.optimizer.model import Placement, Plan
    from jupyter_sky.optimizer.ranking import rank
    from jupyter_sky.optimizer.status import EGRESS_PER_GB, infra_reason

_LAZY = {
    "DagPlan": "dag",
    "DagTask": "dag",
    "plan_dag": "dag",
    "Placement": "model",
    "Plan": "model",
    "rank": "ranking",
    "EGRESS_PER_GB": "status",
    "infra_reason": "status",
}

__all__ = [
    "EGRESS_PER_GB",
    "DagPlan",
    "DagTask",
    "Placement",
    "Plan",
    "infra_reason",
    "live_offerings",
    "plan_dag",
    "rank",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'jupyter_sky.optimizer' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"jupyter_sky.optimizer.{_LAZY[name]}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def live_offerings() -> list[Offering]:
    """Return what the infras with live offerings report here (today: this machine).

    Returns
    -------
    list of jupyter_sky.infra.base.Offering
        Unfiltered, so :func:`rank` can say why one does not fit a request.
    """
    from jupyter_sky.infra.local import machine

    return [machine()]
