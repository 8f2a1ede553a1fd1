"""Infras by name, in a lazy registry (fsspec's pattern): importing this module imports
no infra; each loads on first use, and a missing optional SDK turns into an install hint.

Third parties (and tests) add infras through the ``jupyter_sky.infras`` entry-point
group or :func:`register`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from jupyter_sky.errors import InfraError

if TYPE_CHECKING:
    from jupyter_sky.infra.base import Infra

#: kind -> (import path "module:Class", pip extra that provides its SDK, or "")
KNOWN: dict[str, tuple[str, str]] = {
    "local": ("jupyter_sky.infra.local:LocalInfra", ""),
    "ssh": ("jupyter_sky.infra.ssh:SshInfra", "ssh"),
    "slurm": ("jupyter_sky.infra.slurm:SlurmInfra", "ssh"),
}

#: Kinds the flag table accepts but that have no launcher yet.
PLANNED = ("aws", "gcp", "azure", "k8s")

_loaded: dict[str, Infra] = {}


def register(kind: str, target: str, extra: str = "") -> None:
    """Make ``--infra kind`` resolve to ``target`` ("module:Class")."""
    KNOWN[kind] = (target, extra)
    _loaded.pop(kind, None)


def _from_entry_points() -> None:
    for ep in entry_points(group="jupyter_sky.infras"):
        KNOWN.setdefault(ep.name, (ep.value, ""))


def kinds() -> list[str]:
    """Every infra kind that can run cells here (built in, registered, entry points)."""
    _from_entry_points()
    return sorted(KNOWN)


def get_infra(kind: str) -> Infra:
    """The infra object for ``kind`` (``local``, ``ssh``, ...), loaded on first use."""
    if kind in _loaded:
        return _loaded[kind]
    if kind not in KNOWN:
        _from_entry_points()
    if kind not in KNOWN:
        if kind in PLANNED:
            raise InfraError(
                f"The {kind} infra cannot run cells yet in this version of jupyter-sky; "
                "use --infra local."
            )
        raise InfraError(f"Unknown infra '{kind}'; known infras: {', '.join(kinds())}.")
    target, extra = KNOWN[kind]
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'jupyter-sky[{extra}]'" if extra else "reinstall jupyter-sky"
        raise InfraError(
            f"The {kind} infra needs {exc.name}, which is not installed; run {hint}."
        ) from None
    infra = getattr(module, class_name)()
    _loaded[kind] = infra
    return infra  # type: ignore[no-any-return]


def split_infra(value: str) -> tuple[str, str]:
    """``'slurm/lab/gpu'`` -> ``('slurm', 'lab/gpu')``."""
    kind, _, rest = value.partition("/")
    return kind, rest
