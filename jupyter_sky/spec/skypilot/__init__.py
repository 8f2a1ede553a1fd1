"""SkyPilot task files (``%%sky -f task.yaml``) as their authors write them.

:func:`read_task_file` checks a file's structure and returns ``{attribute: (value, label)}``
keyed like :func:`jupyter_sky.spec.task.parse_line` attributes; the values then go through the
same checks as the flags. Every field is honoured, noted (accepted, with one line saying what
is not applied) or refused with one sentence; refusals that only matter when something runs
(a bucket mount, a missing secret) are kept in ``refusals`` and raised before a launch, so
planning a file still works.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from jupyter_sky.config import _unknown_key
from jupyter_sky.errors import SpecError
from jupyter_sky.spec.skypilot.resources import Fields, bad, read_resources
from jupyter_sky.spec.skypilot.toplevel import envs_of, file_mounts_of, text_of

__all__ = ["Fields", "read_documents", "read_task_file"]

TASK_KEYS = (
    "name", "resources", "setup", "run", "envs", "secrets", "workdir", "file_mounts",
    "num_nodes", "service", "config", "volumes", "pool", "inputs", "outputs",
    "event_callback",
)  # fmt: skip
# accepted with a one-line note
NOTED = {
    "service": "service (sky serve) is not run here: the task runs once, as sky launch does",
    "inputs": "inputs (pipeline size estimates) are not read; use --output-gb",
    "outputs": "outputs (pipeline size estimates) are not read; use --output-gb",
    "event_callback": "event_callback is not run",
}
# planned, but refused before anything launches
REFUSED = {
    "config": "per-task config overrides (config:) are not available yet",
    "volumes": "volumes are not available yet",
    "pool": "worker pools (pool:) are not available yet",
}
# keys of a job-group or pipeline header document
HEADER_KEYS = ("name", "execution", "primary_tasks", "termination_delay")


def read_documents(path_text: str, cwd: Path) -> list[dict[str, Any]]:
    """Read every YAML document of a task file (a pipeline has several); headers dropped."""
    path = cwd / Path(path_text).expanduser()
    if path.is_dir():
        raise SpecError(f"Task file {path} is a directory; give the YAML file inside it after -f.")
    if not path.is_file():
        raise SpecError(f"Task file {path} does not exist; check the path after -f.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"Task file {path_text} is not UTF-8 text; save it as UTF-8.") from None
    except OSError as exc:
        raise SpecError(
            f"Task file {path_text} cannot be read ({exc.strerror}); check the file."
        ) from None
    docs = list(_load(text, path_text))
    docs = [{} if d is None else copy.deepcopy(d) for d in docs]
    for doc in docs:
        if not isinstance(doc, dict):
            raise bad(f"Task file {path_text}", "a mapping with keys such as resources:", doc)
    if len(docs) > 1 and set(docs[0]) <= set(HEADER_KEYS):
        docs = docs[1:]
    return docs or [{}]


@lru_cache(maxsize=64)
def _load(text: str, path_text: str) -> tuple[Any, ...]:
    """Every document of a file's text, cached by the text (a pipeline is read once per task;
    callers get deep copies)."""
    import yaml

    fast = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return tuple(yaml.load_all(text, Loader=fast))
    except yaml.YAMLError:
        pass
    try:  # again with the pure-Python loader: its messages are clearer than libyaml's
        return tuple(yaml.load_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise SpecError(
            f"Task file {path_text} is not valid YAML{at} ({problem}); fix the syntax there."
        ) from None


def read_task_file(path_text: str, cwd: Path) -> Fields:
    """Read a one-task SkyPilot file (see :func:`read_task`); a pipeline file is refused here."""
    docs = read_documents(path_text, cwd)
    if len(docs) > 1:
        raise SpecError(
            f"Task file {path_text} holds a pipeline of {len(docs)} tasks; plan it with "
            f"%sky plan -f {path_text}, and run each task as a %%sky --task NAME cell."
        )
    return read_task(docs[0], path_text)


def read_task(raw: dict[str, Any], where: str) -> Fields:
    """Check one task document.

    Returns
    -------
    dict
        ``{attribute: (value, label)}``: ``gpus``, ``cpus``, ``memory``, ``infra``,
        ``instance_type``, ``spot``, ``ports``, ``disk_size``, ``disk_tier``, ``image_id``,
        ``network_tier``, ``alternatives``, ``num_nodes``, ``env`` (values None: to be taken
        from the environment), ``secrets`` (names), ``workdir``, ``setup``, ``run``,
        ``file_mounts`` (remote -> local path), ``notes`` and ``refusals`` (sentences).

    Raises
    ------
    SpecError
        For an unknown key or a wrongly typed value.
    """
    notes: list[str] = []
    refusals: list[str] = []
    for key in raw:
        if key not in TASK_KEYS:
            raise _unknown_key(key, TASK_KEYS, where, error=SpecError)
        if key in NOTED:
            notes.append(f"{NOTED[key]} ({where}).")
        if key in REFUSED and raw[key]:
            refusals.append(f"{REFUSED[key]} ({where}); remove {key}: to run it here.")
    out = read_resources(raw.get("resources"), where, notes)
    for key, expected in (("setup", "a string of commands"), ("run", "a string of commands")):
        if raw.get(key) is not None:
            label = f"{key} in {where}"
            out[key] = (text_of(raw[key], label, expected), label)
    _workdir(raw.get("workdir"), where, out, refusals)
    if raw.get("num_nodes") is not None:
        out["num_nodes"] = (raw["num_nodes"], f"num_nodes in {where}")
    envs, secrets = (
        envs_of(raw.get("envs"), "envs", where),
        envs_of(raw.get("secrets"), "secrets", where),
    )
    if envs or secrets:
        out["env"] = ({**envs, **secrets}, f"envs in {where}")
    if secrets:
        out["secrets"] = (tuple(secrets), f"secrets in {where}")
    mounts = file_mounts_of(raw.get("file_mounts"), f"file_mounts in {where}", refusals)
    if mounts:
        out["file_mounts"] = (mounts, f"file_mounts in {where}")
    out["notes"] = (tuple(notes), where)
    out["refusals"] = (tuple(refusals), where)
    return out


def _workdir(value: Any, where: str, out: Fields, refusals: list[str]) -> None:
    label = f"workdir in {where}"
    if value is None:
        return
    if isinstance(value, dict) and "url" in value:
        refusals.append(
            f"{label} is a git repository, which is not available yet; clone it in setup."
        )
        return
    out["workdir"] = (text_of(value, label, "a directory path"), label)
