"""The notebook side of :mod:`jupyter_sky.checkpoint`: checkpoints a cell sends home are
written into its directory; those its source loads travel with the cell."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_sky.checkpoint import check_name

LOADS = re.compile(r"checkpoint\.load\(\s*['\"]([^'\"]+)['\"]")


def directory(workdir: str | None) -> Path:
    """Where a cell's checkpoints are kept: its ``--workdir``, else ``.sky-checkpoints/``."""
    return Path(workdir) if workdir else Path.cwd() / ".sky-checkpoints"


def brought(source: str, workdir: str | None) -> dict[str, str]:
    """The checkpoints ``source`` loads that exist here, base64 by name."""
    found = {}
    for name in dict.fromkeys(LOADS.findall(source)):
        try:
            path = directory(workdir) / check_name(name)
        except ValueError:
            continue  # the cell's own load() says what is wrong with the name
        if path.is_file():
            found[name] = base64.b64encode(path.read_bytes()).decode()
    return found


def keeper(workdir: str | None, say: Callable[[list[str]], None]) -> Callable[[dict[str, Any]], None]:
    """What the relay calls with each checkpoint the cell sends: write it (atomically)."""

    def keep(payload: dict[str, Any]) -> None:
        name = check_name(str(payload["name"]))
        data = base64.b64decode(str(payload["data"]))
        if hashlib.sha256(data).hexdigest() != payload.get("sha256"):
            say([f"checkpoint {name} arrived damaged; the previous one is kept"])
            return
        path = directory(workdir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        part.write_bytes(data)
        os.replace(part, path)

    return keep
