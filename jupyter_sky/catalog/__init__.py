"""Offline catalog: canonical accelerator and infra names (prices arrive with the optimizer)."""

from __future__ import annotations

from jupyter_sky.catalog.names import (
    all_names,
    canonical_name,
    check_cluster_name,
    close_names,
    one_accelerator,
    parse_accelerator,
    unknown_accelerator,
)

__all__ = [
    "all_names",
    "check_cluster_name",
    "canonical_name",
    "close_names",
    "one_accelerator",
    "parse_accelerator",
    "unknown_accelerator",
]
