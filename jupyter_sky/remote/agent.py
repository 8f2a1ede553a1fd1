"""The part of jupyter-sky that lives inside the remote kernel.

It answers one comm target, ``jupyter_sky``. What a cell needs — values to load (as binary
buffers), names to check afterwards, environment — rides in the execute request itself
(its ``metadata["jupyter_sky"]`` and buffers), read by a ``pre_run_cell`` hook: a separate
message would cost the kernel a whole extra request (~1.5 ms). After the cell — on success
*and* on error — a ``post_run_cell`` hook sends back every checked name whose content
changed, as one comm message with binary buffers, before the kernel goes idle. So a cell
costs one round trip however many variables move.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

from jupyter_sky.variables import serialize, spill

PULL_LIMIT = 50 * 1024 * 1024


class PushFailed(Exception):
    """A value sent by the notebook could not be loaded here; the cell does not run."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31mTransferError\x1b[0m: {self}"]


class Agent:
    """Variable transfer, environment and the idle watchdog inside one remote kernel."""

    def __init__(self, shell: Any, idle_minutes: float, autostop_minutes: float | None) -> None:
        self.shell = shell
        self.ns: dict[str, Any] = shell.user_ns
        self.synced: dict[str, dict[str, str]] = {}  # client id -> name -> digest
        self.pending: dict[str, Any] | None = None
        self.abort: str | None = None
        self.comm: Any = None
        self.idle_s = idle_minutes * 60
        self.autostop_s = autostop_minutes * 60 if autostop_minutes else None
        self.executing = False
        self.last_client = self.last_cell = time.monotonic()
        self.numbering: Any = None  # see remote/numbering.py; on for ssh and slurm kernels
        self.budget: Any = None  # the running cell's BudgetWatch (remote/budget_watch.py)

    # ---- wiring ------------------------------------------------------------------
    def install(self, kernel: Any) -> None:
        self.kernel = kernel
        if os.environ.get("JUPYTER_SKY_REPLAY") == "1":
            from jupyter_sky.remote.numbering import Numbering

            self.numbering = Numbering(kernel)
            self.numbering.install()
            # On the control channel: its thread answers while a cell keeps the shell busy.
            kernel.control_handlers["jupyter_sky_replay_request"] = self._on_replay
            kernel.control_handlers["jupyter_sky_ack"] = self._on_ack
        serialize.set_namespace(self.ns)
        kernel.comm_manager.register_target("jupyter_sky", self._on_open)
        self.shell.events.register("pre_run_cell", self._pre_run)
        self.shell.events.register("post_run_cell", self._post_run)
        self.shell.input_transformers_cleanup.insert(0, self._maybe_abort)
        _threads_keep_their_cell()
        threading.Thread(target=self._watchdog, name="jupyter-sky-watchdog", daemon=True).start()

    def _on_open(self, comm: Any, msg: dict[str, Any]) -> None:
        self.comm = comm
        comm.on_msg(self._on_msg)
        self.last_client = time.monotonic()
        comm.send({"op": "hello", "info": self.info()})

    def info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "cwd": os.getcwd(),
            "executable": sys.executable,
            **serialize.versions(),
        }

    def _on_msg(self, msg: dict[str, Any]) -> None:
        self.last_client = time.monotonic()
        data = msg["content"]["data"]
        op = data.get("op")
        if op == "forget":
            self.synced.pop(data["client"], None)

    def _on_ack(self, stream: Any, ident: Any, msg: dict[str, Any]) -> None:
        """The notebook holds everything up to ``upto`` (sent on control: heard mid-cell)."""
        self.numbering.ack(int(msg["content"].get("upto", 0)))

    def _on_replay(self, stream: Any, ident: Any, msg: dict[str, Any]) -> None:
        """Re-send what the notebook missed (see remote/numbering.py), then say so on iopub."""
        content = msg["content"]
        requests = list(content.get("replies", []))
        done = self.numbering.replay(int(content.get("after", 0)), requests, stream)
        if self.comm is not None:
            self.comm.send({"op": "replayed", **done})

    # ---- before the cell -----------------------------------------------------------
    def _prepare(self, data: dict[str, Any], buffers: list[Any]) -> None:
        self.pending = data
        if data.get("ack") and self.numbering is not None:
            self.numbering.ack(int(data["ack"]))
        synced = self.synced.setdefault(data["client"], {})
        for key, value in data.get("env", {}).items():
            os.environ[key] = value
        if data.get("cwd"):
            os.chdir(data["cwd"])
        if data.get("checkpoints"):  # the ones this cell loads (jupyter_sky.checkpoint)
            from jupyter_sky import checkpoint

            checkpoint.given(data["checkpoints"])
        offset = 0
        shared = Path(data["spill"]) if data.get("spill") else None  # same host: files
        for item in data.get("push", []):
            name = item["name"]
            frames = buffers[offset : offset + item.get("nframes", 0)]
            offset += item.get("nframes", 0)
            try:
                self.ns[name] = self._load(item, spill.back(item, frames, shared))
            except Exception as exc:  # noqa: BLE001 - any failure is reported, by name
                self.abort = _load_failure(name, exc)
                return
            synced[name] = item["digest"]

    @staticmethod
    def _load(item: dict[str, Any], frames: list[Any]) -> Any:
        if item["kind"] == "module":
            return importlib.import_module(item["module"])
        return serialize.unpack(frames[0], frames[1:])

    def _maybe_abort(self, lines: list[str]) -> list[str]:
        if self.abort is None:
            return lines
        message, self.abort = self.abort, None
        return [
            f"raise __import__('jupyter_sky.remote.agent').remote.agent.PushFailed({message!r})\n"
        ]

    def _pre_run(self, *args: Any) -> None:
        self.executing = True
        parent = self.kernel.get_parent() or {}
        data = (parent.get("metadata") or {}).get("jupyter_sky")
        if data:
            self._prepare(data, list(parent.get("buffers") or []))
        self.budget = None
        if data and data.get("budget"):
            from jupyter_sky.remote.budget_watch import BudgetWatch

            self.budget = BudgetWatch(data["budget"], lambda: self.executing)
            self.budget.begin()

    # ---- after the cell -------------------------------------------------------------
    def _post_run(self, *args: Any) -> None:
        self.executing = False
        self.last_cell = time.monotonic()
        if self.budget is not None:
            self.budget.after_cell(_exit)
        pending, self.pending = self.pending, None
        if pending is None or self.comm is None or pending.get("no_pull"):
            return
        content, frames = self.collect(pending)
        if content["values"] or content["stayed"] or content["deleted"]:
            self.comm.send(content, buffers=frames)

    def collect(self, pending: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """Pack every checked name whose content differs from what the notebook has."""
        synced = self.synced.setdefault(pending["client"], {})
        force = set(pending.get("force", []))
        writes = set(pending.get("writes", []))
        values: list[dict[str, Any]] = []
        stayed: list[dict[str, str]] = []
        deleted: list[str] = []
        frames: list[Any] = []
        for name in pending.get("check", []):
            if name not in self.ns:
                if synced.pop(name, None) is not None:
                    deleted.append(name)
                elif name in force:
                    stayed.append({"name": name, "reason": "missing"})
                continue
            item, packed, note = self._pack(name, synced.get(name), name in force)
            if note and (name in writes or name in force):
                stayed.append({"name": name, "reason": note})
            if item is None:
                continue
            synced[name] = item["digest"]
            values.append(item)
            if packed is not None:
                frames.extend(packed.frames())
        if pending.get("spill"):  # the notebook is on this machine: big buffers go as files
            spill.out(values, frames, Path(pending["spill"]))
        return {"op": "pulled", "values": values, "stayed": stayed, "deleted": deleted}, frames

    def _pack(
        self, name: str, known: str | None, forced: bool
    ) -> tuple[dict[str, Any] | None, serialize.Packed | None, str]:
        value = self.ns[name]
        if isinstance(value, types.ModuleType):
            digest = f"module:{value.__name__}"
            if digest == known and not forced:
                return None, None, ""
            return (
                {"name": name, "kind": "module", "module": value.__name__, "digest": digest},
                None,
                "",
            )
        if _is_widget(value) or _is_widget(getattr(value, "widget", None)):
            # Widgets (and @interact functions) live in the remote kernel; the notebook shows them.
            return None, None, ""
        try:
            packed = serialize.pack(value)
        except Exception as exc:  # noqa: BLE001 - unpicklable values stay remote, with a note
            return None, None, f"cannot be pickled ({type(exc).__name__}: {exc})"
        if packed.digest == known and not forced:
            return None, None, ""
        if packed.nbytes > PULL_LIMIT and not forced:
            return None, None, f"size:{packed.nbytes}"
        item = {"name": name, "kind": "pickle", "digest": packed.digest, "nbytes": packed.nbytes}
        item["nframes"] = 1 + len(packed.buffers)
        return item, packed, ""

    # ---- lifetime ----------------------------------------------------------------------
    def _watchdog(self) -> None:
        interval = float(os.environ.get("JUPYTER_SKY_WATCHDOG_INTERVAL", "10"))
        while True:
            time.sleep(interval)
            reason = self.idle_reason(time.monotonic())
            if reason:
                _exit(reason)

    def idle_reason(self, now: float) -> str:
        """Why this kernel should end now, or ``""`` while it is wanted."""
        if self.executing:
            return ""
        if now - self.last_client > self.idle_s:
            return f"idle watchdog: no notebook client for {self.idle_s / 60:g} minutes"
        # Idle for autostop: no cell running and no notebook attached (its lease) for N minutes.
        idle_since = max(self.last_cell, self.last_client)
        if self.autostop_s is not None and now - idle_since > self.autostop_s:
            return (
                f"autostop: no cell and no notebook attached for {self.autostop_s / 60:g} minutes"
            )
        return ""


def _is_widget(value: Any) -> bool:
    if value is None:
        return False
    module = type(value).__module__ or ""
    return module.startswith(("ipywidgets", "anywidget", "tqdm.notebook")) or (
        hasattr(value, "comm") and hasattr(value, "_repr_mimebundle_")
    )


def _threads_keep_their_cell() -> None:
    """Threads started by a cell publish with that cell's parent, not the latest request.

    ipykernel keeps the parent header in context variables, which new threads do not
    inherit; without this, a training thread's prints after its cell ended would be
    attributed to whatever request the kernel handled last (the next cell, a comm).
    """
    import contextvars

    original_start = threading.Thread.start
    if getattr(original_start, "_jupyter_sky", False):
        return

    def start(self: threading.Thread) -> None:
        context = contextvars.copy_context()
        run = self.run
        self.run = lambda: context.run(run)  # type: ignore[method-assign]
        original_start(self)

    start._jupyter_sky = True  # type: ignore[attr-defined]
    threading.Thread.start = start  # type: ignore[method-assign]


def _load_failure(name: str, exc: BaseException) -> str:
    return (
        f"`{name}` could not be loaded in the remote kernel ({type(exc).__name__}: {exc}); "
        "install what it needs there, or create it inside the cell"
    )


def _exit(reason: str) -> None:
    path = os.environ.get("JUPYTER_SKY_EXIT_FILE")
    if path:
        with open(path, "w") as fh:
            fh.write(reason + "\n")
    os._exit(0)
