"""The runner of a detached cell (``%%sky --detach``), inside its Slurm batch job.

Usage: ``python -m jupyter_sky.infra.slurm.runner DIR``. ``DIR`` holds ``push.bin`` (the cell,
the prepare message a normal cell carries, and the pushed values as frames; see
:func:`pack_frames`). The runner starts a kernel on this node the way the ``local`` infra
does, runs the cell in it exactly as a normal ``%%sky`` cell runs, and records:

- ``output.jsonl``: every iopub message of the cell, one JSON line each, flushed per
  message (binary buffers base64), with the wall-clock time ``t`` it was recorded;
- ``pulled.bin``: the agent's ``pulled`` comm messages (content + frames), when any;
- ``done.json``: how it ended (``status`` ok/error/died/failed, ``ename``/``evalue``,
  ``reason``, ``started``, ``ended``), written last and atomically.

A job Slurm ends (scancel, time limit) leaves no ``done.json``: that is how the notebook
tells a finished cell from an ended job. Only the standard library is imported before the
kernel process is started, so the kernel boots while the rest loads.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_sky.infra.local import LocalHandle, LocalInfra

PUSH_FILE = "push.bin"
OUTPUT_FILE = "output.jsonl"
PULLED_FILE = "pulled.bin"
DONE_FILE = "done.json"
SKIPPED = ("execute_input", "status")  # not output: the cell's echo and busy/idle


def pack_frames(header: dict[str, Any], frames: list[Any]) -> bytes:
    """One JSON header line (with the frames' lengths), then the frames back to back.

    Parameters
    ----------
    header : dict
        JSON-serialisable facts; ``lengths`` is added.
    frames : list of bytes-like
        Binary frames (pickle streams, out-of-band buffers).

    Returns
    -------
    bytes
        The file's content.
    """
    raw = [memoryview(f).cast("B") for f in frames]
    head = json.dumps({**header, "lengths": [len(f) for f in raw]}).encode()
    return b"".join([head, b"\n", *raw])


def unpack_frames(data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """The inverse of :func:`pack_frames`: ``(header, frames)``."""
    head, _, rest = data.partition(b"\n")
    header = json.loads(head)
    frames, offset = [], 0
    for length in header.pop("lengths"):
        frames.append(rest[offset : offset + length])
        offset += length
    return header, frames


def record_line(msg: dict[str, Any], now: float) -> str:
    """One iopub message as a line of ``output.jsonl`` (ASCII, no newline inside)."""
    buffers = [base64.b64encode(memoryview(b).cast("B")).decode() for b in msg.get("buffers") or []]
    line = {
        "t": now,
        "header": {"msg_type": msg["header"]["msg_type"]},
        "content": msg["content"],
        "metadata": msg.get("metadata") or {},
        "buffers": buffers,
    }
    return json.dumps(line, default=str) + "\n"


def read_line(line: str) -> dict[str, Any]:
    """A line of ``output.jsonl`` as a message a :class:`~jupyter_sky.kernel.relay.CellRelay` takes."""
    msg: dict[str, Any] = json.loads(line)
    msg["buffers"] = [base64.b64decode(b) for b in msg.get("buffers") or []]
    return msg


@dataclass
class _Task:
    """What the local infra reads of a task (the cell's own settings travel in ``prepare``)."""

    envs: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    autostop_minutes: float | None = None


class _Recorder:
    """A relay that appends every output message to ``output.jsonl`` as it arrives."""

    def __init__(self, path: Path) -> None:
        self.fh = open(path, "a", encoding="ascii")  # noqa: SIM115 - closed by the runner
        self.error: dict[str, Any] | None = None
        self.parent: dict[str, Any] = {}
        self.status = None
        self.shell = None  # no notebook here: a pager payload is not shown

    def handle(self, msg: dict[str, Any]) -> None:
        kind = msg["header"]["msg_type"]
        if kind in SKIPPED:
            return
        if kind == "error":
            self.error = msg["content"]
        self.fh.write(record_line(msg, time.time()))
        self.fh.flush()

    def finish(self, uncaught: bool) -> dict[str, Any] | None:
        """The cell's uncaught error (the attaching notebook shows any other traceback)."""
        return self.error if uncaught else None


class Runner:
    """One detached cell: kernel up, cell run and recorded, results written, kernel down."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.started = time.time()
        self.infra: LocalInfra | None = None
        self.handle: LocalHandle | None = None
        self._launched = threading.Event()
        self._failure: BaseException | None = None

    def start_kernel(self, header: dict[str, Any]) -> None:
        """Start the kernel in a thread (it boots while the caller imports the rest)."""
        from jupyter_sky.config_sections import Config
        from jupyter_sky.infra.base import Launch
        from jupyter_sky.infra.local import LocalInfra

        infra = self.infra = LocalInfra()
        task: Any = _Task(envs=dict(header.get("kernel_env") or {}), workdir=header.get("cwd"))
        request = Launch("detached", task, Config())

        def launch() -> None:
            try:
                self.handle = infra.launch(request)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                self._failure = exc
            self._launched.set()

        threading.Thread(target=launch, name="jupyter-sky-kernel-start", daemon=True).start()

    def run(self) -> dict[str, Any]:
        """Run the cell; returns what goes into ``done.json``."""
        header, frames = unpack_frames((self.dir / PUSH_FILE).read_bytes())
        self.start_kernel(header)
        from jupyter_sky.kernel.cluster import LiveCluster
        from jupyter_sky.kernel.execute import KernelDied, run_cell

        recorder = _Recorder(self.dir / OUTPUT_FILE)
        self._launched.wait()
        if self._failure is not None:
            raise self._failure
        assert self.infra is not None and self.handle is not None
        live = LiveCluster("detached", self.infra, self.handle)
        live.connect(None)
        try:
            if header.get("setup"):
                setup = run_cell(live, "%%bash\n" + header["setup"], recorder)  # type: ignore[arg-type]
                if setup.error is not None:
                    return self.result("error", recorder.error, "the task's setup failed")
            prepare = header.get("prepare")
            if prepare is not None:
                prepare["client"] = live.client_id
            outcome = run_cell(live, header["cell"], recorder, prepare, frames)  # type: ignore[arg-type]
        except KernelDied as died:
            return self.result("died", None, str(died.args[0] if died.args else ""))
        finally:
            recorder.fh.close()
            live.detach()
        pulled = self.write_pulled(outcome.pulled)
        return {**self.result(outcome.status, outcome.error), "pulled": pulled}

    def result(self, status: str, error: dict[str, Any] | None, reason: str = "") -> dict[str, Any]:
        error = error or {}
        return {
            "status": status,
            "ename": error.get("ename", ""),
            "evalue": error.get("evalue", ""),
            "reason": reason,
            "started": self.started,
            "ended": time.time(),
            "pulled": False,
        }

    def write_pulled(self, messages: list[dict[str, Any]]) -> bool:
        if not messages:
            return False
        frames: list[Any] = []
        contents = []
        for msg in messages:
            buffers = list(msg.get("buffers") or [])
            contents.append({"content": msg["content"], "nframes": len(buffers)})
            frames.extend(buffers)
        _write_atomic(self.dir / PULLED_FILE, pack_frames({"messages": contents}, frames))
        return True

    def stop_kernel(self) -> None:
        if self.handle and self.infra is not None:
            self.infra.down(self.handle)

    def on_term(self, signum: int, frame: Any) -> None:
        """Slurm ends the job (scancel, time limit): take the kernel along, write no verdict."""
        if self.handle:
            with contextlib.suppress(OSError):
                os.kill(self.handle.pid, signal.SIGKILL)
        os._exit(128 + signum)


def read_pulled(data: bytes) -> list[dict[str, Any]]:
    """``pulled.bin`` as the comm messages :func:`jupyter_sky.variables.pull.apply` takes."""
    header, frames = unpack_frames(data)
    messages, offset = [], 0
    for item in header["messages"]:
        count = item["nframes"]
        messages.append({"content": item["content"], "buffers": frames[offset : offset + count]})
        offset += count
    return messages


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    """Run the detached cell in ``argv[0]`` and write its ``done.json``."""
    directory = Path(argv[0])
    os.environ["JUPYTER_SKY_HOME"] = str(directory)  # the kernel's files go under the job dir
    os.umask(0o077)
    runner = Runner(directory)
    signal.signal(signal.SIGTERM, runner.on_term)
    try:
        done = runner.run()
    except Exception as exc:  # noqa: BLE001 - recorded for the notebook, in one line
        done = runner.result("failed", None, f"{type(exc).__name__}: {exc}")
    finally:
        runner.stop_kernel()
    _write_atomic(directory / DONE_FILE, json.dumps(done).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
