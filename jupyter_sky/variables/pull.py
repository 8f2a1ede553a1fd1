"""Bringing changed names home after a remote cell (notebook side).

Names the cell assigned are rebound, as in a normal cell. Names it only read but changed
in place (``lst.append(1)``, ``arr *= 2``) are updated in place where the type allows,
so other references to the same object see the change too — again as in a normal cell.
Nothing is ever truncated: a value that is too big or cannot be loaded here stays
remote, with a note saying how to fetch it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from jupyter_sky.variables import serialize, spill
from jupyter_sky.variables.transfer import human_size


def apply(
    messages: list[dict[str, Any]],
    ns: dict[str, Any],
    synced: dict[str, str],
    written: set[str],
    shared: Path | None = None,
) -> list[str]:
    """Load every pulled value into ``ns``; returns the notes for the user. ``shared`` is the
    directory a kernel on this machine may pass big buffers through (:mod:`.spill`)."""
    notes: list[str] = []
    for msg in messages:
        data = msg["content"]["data"]
        frames = list(msg.get("buffers") or [])
        offset = 0
        for item in data.get("values", []):
            count = item.get("nframes", 0)
            note = _load_one(item, frames[offset : offset + count], ns, synced, written, shared)
            offset += count
            if note:
                notes.append(note)
        notes += [_stayed_note(s["name"], s["reason"]) for s in data.get("stayed", [])]
        for name in data.get("deleted", []):
            ns.pop(name, None)
            synced.pop(name, None)
    return notes


def _load_one(
    item: dict[str, Any],
    frames: list[Any],
    ns: dict[str, Any],
    synced: dict[str, str],
    written: set[str],
    shared: Path | None,
) -> str:
    name = item["name"]
    try:
        if item["kind"] == "module":
            value = importlib.import_module(item["module"])
        else:
            frames = spill.back(item, frames, shared)
            value = serialize.unpack(frames[0], frames[1:])
    except Exception as exc:  # noqa: BLE001 - a value that cannot load here stays remote
        return (
            f"`{name}` stayed remote: it cannot be loaded here ({type(exc).__name__}: {exc}); "
            f"use it in %%sky cells, or convert it to something portable and --pull {name}"
        )
    if name in written or not _update_in_place(ns.get(name), value):
        ns[name] = value
    synced[name] = item["digest"]
    return ""


def _update_in_place(old: Any, new: Any) -> bool:
    """Make ``old`` equal ``new`` without replacing it, where that is safe."""
    if old is None or type(old) is not type(new):
        return False
    if isinstance(old, list):
        old[:] = new
    elif isinstance(old, (dict, set)):
        old.clear()
        old.update(new)
    elif isinstance(old, bytearray):
        old[:] = new
    elif _same_array(old, new):
        old[...] = new
    else:
        return False
    return True


def _same_array(old: Any, new: Any) -> bool:
    return (
        type(old).__name__ == "ndarray"
        and type(old).__module__ == "numpy"
        and old.shape == new.shape
        and old.dtype == new.dtype
        and bool(old.flags.writeable)
    )


def _stayed_note(name: str, reason: str) -> str:
    if reason == "missing":
        return f"--pull names `{name}`, which the remote kernel does not have"
    if reason.startswith("size:"):
        size = human_size(int(reason.split(":", 1)[1]))
        return f"`{name}` ({size}) stayed remote (over the 50 MB pull limit); bring it home with --pull {name}"
    return f"`{name}` stayed remote: it {reason}"
