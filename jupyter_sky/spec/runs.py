"""A SkyPilot task file's ``setup`` and ``run`` as shell on the target, streamed like a cell.

``%%sky -f task.yaml`` with an empty body runs the file's ``setup`` (on a new cluster, and
again after a failed one) then its ``run``; a non-zero exit is an error naming the exit code.
With a body, the body is the run (``Task.notes`` says the file's ``run`` was ignored). Local
``file_mounts`` are synced like the workdir and linked at their target paths first.

Env values (secrets among them) travel base64-encoded inside the remote code and are never
printed: a failure reports only the exit code.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import SkyError

if TYPE_CHECKING:
    from jupyter_sky.spec.task import Task

#: (cluster, setup text) whose setup finished in this session; a failed setup is not here,
#: so it runs again on the next cell.
_SETUP_OK: set[tuple[str, str]] = set()

# One statement per line, no literal values: an IPython traceback never shows env values.
_RUNNER = """\
import base64 as _b, json as _j, os as _o, subprocess as _s
_a = _j.loads(_b.b64decode("{payload}").decode())
_p = _s.Popen(["bash", "-c", _a["script"]], cwd=_a["cwd"], env={{**_o.environ, **_a["env"]}}, stdout=_s.PIPE, stderr=_s.STDOUT, text=True, bufsize=1)
for _line in _p.stdout: print(_line, end="", flush=True)
_rc = _p.wait()
del _a
if _rc: raise SystemExit(_rc)
"""


class ShellRunError(SkyError):
    """A task file's setup or run exited with a non-zero code."""


def runner_code(script: str, cwd: str | None, env: dict[str, str]) -> str:
    """The Python the remote kernel runs: ``script`` under bash, output streamed line by line."""
    payload = json.dumps({"script": script, "cwd": cwd, "env": env}).encode()
    return _RUNNER.format(payload=base64.b64encode(payload).decode())


def mounts_script(mounts: dict[str, str]) -> str:
    """Shell that links each file mount's target path to its synced source."""
    lines = ["set -e"]
    for remote, source in mounts.items():
        target = (
            json.dumps(remote).replace("~/", "$HOME/", 1)
            if remote.startswith("~/")
            else json.dumps(remote)
        )
        lines.append(f'mkdir -p "$(dirname {target})" && ln -sfn {json.dumps(source)} {target}')
    return "\n".join(lines)


def run_shell(
    shell: Any,
    live: Any,
    script: str,
    what: str,
    task: Task,
    cwd: str | None,
    prepare: dict[str, Any] | None = None,
    tick: Callable[[], None] | None = None,
) -> None:
    """Run ``script`` on ``live``'s target, streaming its output into the cell; ``prepare``
    (the budget the target enforces) and ``tick`` (the notebook's budget guard) as a cell's."""
    from jupyter_sky.kernel.execute import run_cell
    from jupyter_sky.kernel.relay import CellRelay, remote_error

    code = runner_code(script, cwd, dict(task.envs))
    outcome = run_cell(live, code, CellRelay(shell), prepare, on_tick=tick)
    if outcome.error is None:
        return
    if outcome.error.get("ename") == "SystemExit":
        code = str(outcome.error.get("evalue", "")).strip() or "?"
        raise ShellRunError(f"{what} exited with code {code}; its output is above.")
    raise remote_error(outcome.error, what)


def remote_workdir(live: Any, task: Task) -> str | None:
    """The task's workdir on the target, synced there first where the infra needs it."""
    sync = getattr(live.infra, "sync_workdir", None)
    if task.workdir and sync is not None:
        return str(sync(live.handle, task.workdir))
    return task.workdir


def run_setup(shell: Any, live: Any, task: Task, created: bool) -> None:
    """Link file mounts and run the task's setup: on a new cluster, or when the last setup on
    this cluster failed (or ran in another session). A failed setup raises and re-runs next time."""
    key = (str(live.name), task.setup or "")
    if not (task.setup or task.file_mounts) or (key in _SETUP_OK and not created):
        return
    _SETUP_OK.discard(key)
    cwd = remote_workdir(live, task)
    if task.file_mounts:
        run_shell(
            shell, live, mounts_script(_synced(live, task.file_mounts)), "file_mounts", task, cwd
        )
    if task.setup:
        run_shell(shell, live, task.setup, f"setup of cluster '{live.name}'", task, cwd)
    _SETUP_OK.add(key)


def _synced(live: Any, mounts: dict[str, str]) -> dict[str, str]:
    """Each mount's source as a path on the target (synced like a workdir where needed)."""
    from pathlib import Path

    sync = getattr(live.infra, "sync_workdir", None)
    out = {}
    for remote, local in mounts.items():
        if sync is not None and Path(local).is_dir():
            out[remote] = str(sync(live.handle, local))
        elif sync is not None:
            raise ShellRunError(
                f"file_mounts {remote}: {local} is a file; only directories are synced to this "
                "infra yet: mount its folder."
            )
        else:
            out[remote] = local
    return out




def is_file_run(line: str) -> bool:
    """True for a line magic ``%sky -f task.yaml [FLAGS]``: a task file run without a body
    (IPython refuses a ``%%sky`` cell whose body is empty)."""
    words = line.split()
    return (
        bool(words)
        and words[0].startswith("-")
        and ("-f" in words or "--file" in words or any(w.startswith("--file=") for w in words))
    )
