"""Which settings a ``jupyter_sky.yaml`` beside a notebook may make.

A project file arrives with a cloned repository, written by someone else. Unless the user's
own config trusts its directory (``trust: {projects: [DIR, ...]}``), it may tune how a cell
runs but not choose what runs or where: no interpreter, host, cluster or infra, since those
decide which program the first cell starts and where pushed variables go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_sky.errors import ConfigError

EVERY_KEY = frozenset({"*"})
# Sections and keys an untrusted project file may set.
UNTRUSTED_OK: dict[str, frozenset[str]] = {
    "defaults": frozenset(
        {"idle_minutes", "autostop_minutes", "autostop_minutes_priced", "confirm",
         "max_launch_attempts"}
    ),  # fmt: skip
    "budget": EVERY_KEY,  # a limit only ever spends less
    "optimizer": EVERY_KEY,
    "prices": EVERY_KEY,
}


def trusted(directory: Path, projects: tuple[str, ...] | list[str]) -> bool:
    """Is ``directory`` one of ``projects`` or inside one?"""
    here = directory.expanduser().resolve()
    for entry in projects:
        root = Path(entry).expanduser().resolve()
        if here == root or root in here.parents:
            return True
    return False


def check_project(
    project: dict[str, dict[str, Any]], path: Path, user: dict[str, Any], user_file: Path
) -> None:
    """Refuse a project file's settings that need trust, in one sentence.

    Parameters
    ----------
    project : dict
        The project file's checked sections.
    path : Path
        The project file.
    user : dict
        The user's own config (checked sections), whose ``trust.projects`` may list the
        project's directory.
    user_file : Path
        Where the user's own config lives, for the message.

    Raises
    ------
    ConfigError
        Naming the first setting that chooses what runs or where.
    """
    if trusted(path.parent, (user.get("trust") or {}).get("projects", ())):
        return
    for section, values in project.items():
        allowed = UNTRUSTED_OK.get(section, frozenset())
        for key in values:
            if allowed is not EVERY_KEY and key not in allowed:
                raise ConfigError(
                    f"{path} sets {section}.{key}, which chooses what runs or where; a project "
                    f"file may do that only if your own config {user_file} trusts its directory "
                    f"(trust: {{projects: [{path.parent}]}})."
                )
