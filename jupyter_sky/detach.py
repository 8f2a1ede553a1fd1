"""Detached cells (``%%sky --detach``): a Slurm batch job that records its output."""

from __future__ import annotations

from typing import Any

from jupyter_sky.errors import InfraError


def submit_cell(shell: Any, mgr: Any, task: Any, config: Any) -> None:
    """Submit the cell as a detached batch job (not built yet)."""
    raise InfraError("--detach is not available yet: detached cells are being built.")
