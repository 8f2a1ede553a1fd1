"""SkyPilot-style task files (``%%sky -f task.yaml``): their structure is checked here;
checks.py checks the values with the same code as the flags.

``resources.any_of`` (any of several resource sets, the cheapest wins) and
``resources.ordered`` (the first one with a usable placement wins) list alternatives; each
alternative's keys override the top-level ``resources`` keys.
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Any

from jupyter_sky.catalog.names import one_accelerator
from jupyter_sky.config import _unknown_key, read_yaml
from jupyter_sky.errors import SpecError

TASK_KEYS = ("envs", "name", "resources", "setup", "workdir")  # name is accepted and ignored
# resources key in task.yaml -> the parse_line attribute whose check applies to it
RESOURCE_KEYS = {
    "accelerators": "gpus",
    "cpus": "cpus",
    "infra": "infra",
    "instance_type": "instance_type",
    "memory": "memory",
    "use_spot": "spot",
}


def read_task_file(path_text: str, cwd: Path) -> dict[str, tuple[Any, str]]:
    """Read a SkyPilot-style task YAML and check its structure.

    Parameters
    ----------
    path_text : str
        The ``-f`` value; a relative path starts at ``cwd``.
    cwd : Path
        The notebook's directory.

    Returns
    -------
    dict
        ``{attribute: (value, label)}`` keyed like :func:`jupyter_sky.spec.task.parse_line` attributes
        (``gpus``, ``cpus``, ``memory``, ``infra``, ``instance_type``, ``spot``, ``env``,
        ``workdir``, ``setup``); ``label`` names the key in error messages.

    Raises
    ------
    SpecError
        For a missing file, bad YAML, an unknown key, a ``run`` section or a wrongly typed value.
    """
    path = cwd / Path(path_text).expanduser()
    if not path.is_file():
        raise SpecError(f"Task file {path} does not exist; check the path after -f.")
    raw = read_yaml(path, f"Task file {path_text}", SpecError)
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise _spec_bad(f"Task file {path_text}", "a mapping with keys such as resources:", raw)
    if "run" in raw:
        raise SpecError(
            f"Task file {path_text} has a run section, but the cell is the run; "
            f"remove 'run' from {path_text}."
        )
    for key in raw:
        if key not in TASK_KEYS:
            raise _unknown_key(key, TASK_KEYS, path_text, error=SpecError)
    out = _task_resources(raw.get("resources"), path_text)
    for key, expected in (("workdir", "a directory path"), ("setup", "a string of commands")):
        if raw.get(key) is not None:
            label = f"{key} in {path_text}"
            out[key] = (_task_text(raw[key], label, expected), label)
    if raw.get("envs") is not None:
        out["env"] = (_task_envs(raw["envs"], path_text), f"envs in {path_text}")
    return out


def _spec_bad(label: str, expected: str, value: Any) -> SpecError:
    return SpecError(f"{label} must be {expected}, not {reprlib.repr(value)}.")


def _task_text(value: Any, label: str, expected: str) -> str:
    if not isinstance(value, str):
        raise _spec_bad(label, expected, value)
    return value


def _task_resources(raw: Any, where: str) -> dict[str, tuple[Any, str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _spec_bad(f"resources in {where}", "a mapping such as {accelerators: A100:1}", raw)
    out: dict[str, tuple[Any, str]] = {}
    modes = [key for key in ("any_of", "ordered") if key in raw]
    if len(modes) > 1:
        raise SpecError(f"resources in {where} has both any_of and ordered; keep one of them.")
    if modes:
        out["alternatives"] = (_alternatives(raw.pop(modes[0]), where, modes[0]), modes[0])
    for key, value in raw.items():
        label = f"resources.{key} in {where}"
        if key not in RESOURCE_KEYS:
            raise _unknown_key(key, RESOURCE_KEYS, where, "resources", SpecError)
        if key == "accelerators":
            value = one_accelerator(value, label)
        if key == "use_spot" and not isinstance(value, bool):
            raise _spec_bad(label, "true or false", value)
        if value is not None:
            out[RESOURCE_KEYS[key]] = (value, label)
    return out


def _task_envs(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise _spec_bad(f"envs in {where}", "a mapping of NAME: value", raw)
    envs = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise _spec_bad(f"Each name in envs in {where}", "letters, digits and _", key)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _spec_bad(f"envs.{key} in {where}", "a string or a number", value)
        envs[key] = str(value)
    return envs


def _alternatives(raw: Any, where: str, mode: str) -> list[dict[str, tuple[Any, str]]]:
    label = f"resources.{mode} in {where}"
    if not isinstance(raw, list) or not raw or not all(isinstance(r, dict) for r in raw):
        raise _spec_bad(label, "a non-empty list of mappings such as - accelerators: A100:1", raw)
    if any("any_of" in item or "ordered" in item for item in raw):
        raise SpecError(f"{label} cannot nest any_of or ordered; list plain resources.")
    return [_task_resources(dict(item), f"{where} ({mode}[{i}])") for i, item in enumerate(raw)]
