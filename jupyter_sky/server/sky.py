"""Everything the server extension takes from the rest of jupyter_sky, in one place.

The handlers import only this module and :mod:`jupyter_sky.state`, so when modules of the
package move, this is the one file whose imports change.
"""

from __future__ import annotations

from typing import Any

from jupyter_sky.errors import SkyError
from jupyter_sky.state import DetachedJob, Store

__all__ = ["SkyError", "Store", "cancel_job", "detached_jobs", "down", "gpu_rows", "interrupt"]
__all__ += ["can_stop", "ended_state", "is_alive", "stop", "where"]


def _infra(kind: str) -> Any:
    from jupyter_sky.infra import get_infra

    return get_infra(kind)


def _typed(kind: str, handle: dict[str, Any], method: str) -> Any:
    """Call an infra method with the infra's typed handle rebuilt from its stored JSON."""
    infra = _infra(kind)
    return getattr(infra, method)(infra.handle(handle))


def is_alive(kind: str, handle: dict[str, Any]) -> bool:
    """Whether the kernel of a cluster still runs (False when its infra cannot tell)."""
    try:
        return bool(_typed(kind, handle, 'is_alive'))
    except SkyError:
        return False


def ended_state(kind: str, handle: dict[str, Any]) -> str:
    """What a cluster whose kernel ended is now: STOPPED (a cloud VM kept with its disk) or DOWN."""
    from jupyter_sky.notebook.commands import checked_state

    state = checked_state(kind, handle)
    return "DOWN" if state == "UP" else state


def where(kind: str, handle: dict[str, Any]) -> str:
    """Where a cluster's kernel runs, as the cell's grey status line says it."""
    try:
        return str(_typed(kind, handle, 'where'))
    except (SkyError, KeyError):
        return kind


def down(kind: str, handle: dict[str, Any]) -> None:
    """End the cluster's kernel and release what it holds (the same call ``%sky down`` makes)."""
    if handle:
        _typed(kind, handle, 'down')


def stop(store: Store, name: str) -> str:
    """Stop the cluster and keep its disk (the same call ``%sky stop`` makes); a sentence."""
    from jupyter_sky.kernel.manager import Manager

    return Manager(store).stop(name)


def can_stop(kind: str, handle: dict[str, Any]) -> bool:
    """Whether the cluster can be stopped and kept (a cloud VM that is not spot)."""
    from jupyter_sky.infra.base import Restartable

    try:
        infra = _infra(kind)
    except SkyError:
        return False
    return isinstance(infra, Restartable) and not bool(handle.get("spot"))


def interrupt(kind: str, handle: dict[str, Any]) -> None:
    """Interrupt the cell the cluster runs; its kernel and globals stay."""
    _typed(kind, handle, 'interrupt')


def detached_jobs(store: Store) -> list[DetachedJob]:
    """Every detached job the state store knows, oldest first (no cluster is contacted)."""
    return store.jobs()


def cancel_job(store: Store, ref: str) -> str:
    """Cancel a detached job through its infra, as ``%sky jobs --cancel JOB`` does; returns
    its one line."""
    from jupyter_sky.errors import InfraError
    from jupyter_sky.infra.base import RunsDetached

    found = store.jobs(ref)
    infra = _infra(found[-1].infra) if found else None
    if not isinstance(infra, RunsDetached):
        raise InfraError(f"There is no detached job '{ref}'; %sky jobs lists them.")
    return str(infra.cancel_detached(store, ref))


def gpu_rows(words: list[str]) -> tuple[list[tuple[str, ...]], str]:
    """The ``%sky gpus`` table as rows (header first) and the note under it."""
    from jupyter_sky.notebook.gpus import gpus_rows

    return gpus_rows(words)
