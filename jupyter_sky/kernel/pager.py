"""The execute reply's payloads of a remote cell, given to the notebook's own shell.

``len?``, ``obj??`` and ``%prun`` put their text in a ``page`` payload, ``%load`` in a
``set_next_input`` one. Handed to the local shell's pager and ``set_next_input``, they reach
the frontend exactly as they would from a cell run without ``%%sky``: JupyterLab shows them
in its pager, a terminal IPython prints them.
"""

from __future__ import annotations

from typing import Any


def relay_payloads(reply: dict[str, Any], shell: Any) -> None:
    """Replay ``reply``'s ``page`` and ``set_next_input`` payloads in ``shell``."""
    from IPython.core import page

    for payload in reply.get("payload") or ():
        source = payload.get("source")
        if source == "page":
            data = payload.get("data") or {}
            page.page(data, start=int(payload.get("start") or 0))
        elif source == "set_next_input" and shell is not None:
            shell.set_next_input(payload.get("text", ""), replace=bool(payload.get("replace")))
