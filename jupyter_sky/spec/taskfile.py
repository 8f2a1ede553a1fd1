"""SkyPilot-style task files: moved to :mod:`jupyter_sky.spec.skypilot` (kept for imports)."""

from jupyter_sky.spec.skypilot import read_task_file

__all__ = ["read_task_file"]
