"""Offline accelerator catalog: canonical names (prices arrive with the optimizer)."""

from __future__ import annotations

from jupyter_sky.catalog.names import (
    all_names,
    canonical_name,
    close_names,
    parse_accelerator,
    unknown_accelerator,
)

__all__ = ["all_names", "canonical_name", "close_names", "parse_accelerator", "unknown_accelerator"]
