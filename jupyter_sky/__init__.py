"""jupyter-sky: ``%%sky`` runs a notebook cell on the cheapest place that fits.

Importing this package is cheap: everything heavy loads on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%sky`` and ``%sky`` (called by ``%load_ext jupyter_sky``)."""
    from jupyter_sky.notebook.magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Close the notebook's connections to remote kernels (clusters stay up)."""
    from jupyter_sky.notebook.magics import unregister

    unregister(ipython)
