"""Ranked placements for one task and for a pipeline of tasks. Pure: no SDK, no network.

``rank(resources)`` lists every (infra, region, instance type, spot) that fits, cheapest
first, with the best usable one chosen; ``plan_dag(tasks, edges)`` places a pipeline as a
whole, egress included. The optimizer never asks an infra anything: what the registry knows
(live kinds, launchable clouds, reasons, capabilities, egress rates) comes in as an
``InfraFacts`` (:func:`jupyter_sky.infra.readiness.facts`). Importing this package loads
nothing else: the names below load their module on first use (the catalog, networkx and scipy
load on the first plan), because ``%load_ext jupyter_sky`` must stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_sky.optimizer.dag import DagPlan, DagTask, plan_dag
    from jupyter_sky.optimizer.model import InfraFacts, Placement, Plan
    from jupyter_sky.optimizer.ranking import rank

_LAZY = {
    "DagPlan": "dag",
    "DagTask": "dag",
    "plan_dag": "dag",
    "InfraFacts": "model",
    "Placement": "model",
    "Plan": "model",
    "rank": "ranking",
}

__all__ = [
    "DagPlan",
    "DagTask",
    "InfraFacts",
    "Placement",
    "Plan",
    "plan_dag",
    "rank",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'jupyter_sky.optimizer' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"jupyter_sky.optimizer.{_LAZY[name]}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value

