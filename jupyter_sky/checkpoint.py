"""Checkpoints a ``%%sky`` cell keeps on the notebook side, so a rerun resumes.

In the cell, on the target::

    from jupyter_sky import checkpoint

    state = checkpoint.load("train.pkl")       # None the first time
    ...
    checkpoint.save("train.pkl", pickle.dumps(state))   # now and then

``save`` sends the bytes home at once (as a message on the cell's output channel, which the
notebook side takes out of the output): they are written into the cell's ``--workdir``, or
``.sky-checkpoints/`` beside the notebook without one. When the cell runs again (its
``--recover`` rerun after a preemption, or by hand, on any cluster) the checkpoints its source
names in ``checkpoint.load("...")`` travel with it, and ``load`` returns them. Keep them small
enough to send (they travel base64-encoded; tens of MB, not GB) — save the state to resume
from, not the data.
"""

from __future__ import annotations

import base64
import hashlib

#: The mime type of a checkpoint in the cell's output.
MIME = "application/vnd.jupyter-sky.checkpoint+json"

_given: dict[str, bytes] = {}  # what the notebook sent with this cell (the agent fills it)


def check_name(name: str) -> str:
    """A checkpoint is named by a relative path inside its directory (no ``..``)."""
    parts = name.replace("\\", "/").split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"checkpoint name {name!r}: use a relative path such as 'run/state.pkl'")
    return "/".join(parts)


def save(name: str, data: bytes) -> None:
    """Send ``data`` home as checkpoint ``name`` (it replaces the previous one)."""
    from IPython.display import publish_display_data

    name = check_name(name)
    payload = {"name": name, "data": base64.b64encode(bytes(data)).decode(),
               "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    publish_display_data({MIME: payload, "text/plain": f"checkpoint {name} ({len(data)} bytes)"})
    _given[name] = bytes(data)


def load(name: str) -> bytes | None:
    """The checkpoint ``name`` this cell brought (its last ``save``), or None."""
    return _given.get(check_name(name))


def given(items: dict[str, str]) -> None:
    """Install the checkpoints a cell brought (base64 by name); called by the remote agent."""
    _given.clear()
    _given.update({check_name(k): base64.b64decode(v) for k, v in items.items()})
