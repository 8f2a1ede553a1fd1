"""The parts of a Task that come from a SkyPilot task file: envs and secrets, the file's
``run``, file mounts, notes and refusals (raised before a launch, never when only planning)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_sky.errors import SpecError
from jupyter_sky.spec.skypilot import Fields, read_documents, read_task, read_task_file


@dataclass(frozen=True)
class FileParts:
    envs: dict[str, str] = field(default_factory=dict)
    file_run: str | None = None
    notes: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()
    file_mounts: dict[str, str] = field(default_factory=dict)
    secret_names: tuple[str, ...] = ()


def read_file_fields(path_text: str, cwd: Path, document: int | None = None) -> Fields:
    """The fields of the ``-f`` file (see :func:`jupyter_sky.spec.skypilot.read_task`);
    ``document``: that task of a pipeline file."""
    if document is None:
        return read_task_file(path_text, cwd)
    return read_task(read_documents(path_text, cwd)[document], f"{path_text} (task {document + 1})")


def file_parts(
    file: dict[str, Any], args: argparse.Namespace, cell: str, cwd: Path, planning: bool
) -> FileParts:
    """Merge the file's envs with ``--env`` and the environment, and decide what runs.

    Raises
    ------
    SpecError
        Unless ``planning``: for an env or secret with no value anywhere (named, never its
        value), a refused field, or a local file mount that does not exist.
    """
    given: dict[str, str] = dict(args.env or {})
    envs: dict[str, str] = {}
    missing = []
    for name, value in (file.get("env") or {}).items():
        if value is None:
            value = given.get(name, os.environ.get(name))
        if value is None:
            missing.append(name)
        else:
            envs[name] = value
    envs.update(given)
    notes = list(file.get("notes") or ())
    refusals = list(file.get("refusals") or ())
    if missing:
        refusals.append(
            f"{args.file} needs {', '.join(missing)} (envs or secrets with no value); set "
            f"{'them' if len(missing) > 1 else 'it'} in the environment or pass --env "
            f"{missing[0]}=..."
        )
    secrets = tuple(file.get("secrets") or ())
    if secrets and getattr(args, "detach", False):
        refusals.append(
            f"{args.file} has secrets ({', '.join(secrets)}), which --detach would record with "
            "the batch job; run it attached"
        )
    file_run = file.get("run")
    if file_run is not None and cell.strip():
        notes.append(f"the cell is the run: run: in {args.file} is ignored.")
        file_run = None
    mounts = _mounts(file.get("file_mounts") or {}, cwd, planning)
    if refusals and not planning:
        raise SpecError(" ".join(r[0].upper() + r[1:] for r in refusals))
    return FileParts(
        envs=envs,
        file_run=file_run,
        notes=tuple(notes),
        refusals=tuple(refusals),
        file_mounts=mounts,
        secret_names=secrets,
    )


def _mounts(raw: dict[str, str], cwd: Path, planning: bool) -> dict[str, str]:
    out = {}
    for remote, local in raw.items():
        path = (cwd / Path(local).expanduser()).resolve()
        if not path.exists() and not planning:
            raise SpecError(
                f"file_mounts source {path} (for {remote}) does not exist; create it or fix the path."
            )
        out[remote] = str(path)
    return out
