"""Remote iopub messages, republished into the notebook cell that started them.

Streams are written to the local ``sys.stdout``/``sys.stderr`` and flushed at once (the
remote kernel already batches output every 0.2 s, so this is one message per batch, not
per character); displays go through IPython's display publisher, results through the
local display hook so they keep their order and get an ``Out[n]``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

from IPython.display import clear_output, publish_display_data

# Output after an error message means the cell survived that error.
SHOWN_AFTER_ERROR = frozenset({"stream", "display_data", "execute_result", "error"})


class RemoteResult:
    """A remote ``execute_result``: its mime bundle, ready for the local display hook."""

    def __init__(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        self.data = data
        self.metadata = metadata

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return self.data, self.metadata

    def __repr__(self) -> str:
        return str(self.data.get("text/plain", "<remote result>"))


class CellRelay:
    """Publishes one remote cell's output into the current local cell."""

    def __init__(self, shell: Any, bridge: Any = None, status: Any = None) -> None:
        self.shell = shell
        self.bridge = bridge
        self.status = status
        self.parent: dict[str, Any] = status.parent if status is not None else {}
        self.error: dict[str, Any] | None = None
        self._shown: dict[str, Any] | None = None
        # Told of each checkpoint the cell sends home (jupyter_sky.checkpoint); not shown.
        self.on_checkpoint: Callable[[dict[str, Any]], None] | None = None

    def handle(self, msg: dict[str, Any]) -> None:
        """Publish one iopub message; errors are kept to be raised when the cell ends."""
        msg_type = msg["header"]["msg_type"]
        content = msg["content"]
        if self.error is not None and msg_type in SHOWN_AFTER_ERROR:
            self._show_error()  # the cell went on after it: it showed that traceback itself
        method = getattr(self, f"_on_{msg_type}", None)
        if method is not None:
            method(content, msg)

    def _on_stream(self, content: dict[str, Any], msg: dict[str, Any]) -> None:
        stream = sys.stderr if content.get("name") == "stderr" else sys.stdout
        stream.write(content.get("text", ""))
        stream.flush()

    def _on_display_data(self, content: dict[str, Any], msg: dict[str, Any]) -> None:
        from jupyter_sky.checkpoint import MIME

        if MIME in content.get("data", {}):
            if self.on_checkpoint is not None:
                self.on_checkpoint(content["data"][MIME])
            return
        _flush_std()
        publish_display_data(
            content.get("data", {}),
            metadata=content.get("metadata") or None,
            transient=content.get("transient") or None,
        )

    def _on_update_display_data(self, content: dict[str, Any], msg: dict[str, Any]) -> None:
        publish_display_data(
            content.get("data", {}),
            metadata=content.get("metadata") or None,
            transient=content.get("transient") or None,
            update=True,
        )

    def _on_clear_output(self, content: dict[str, Any], msg: dict[str, Any]) -> None:
        clear_output(wait=bool(content.get("wait")))

    def _on_execute_result(self, content: dict[str, Any], msg: dict[str, Any]) -> None:
        _flush_std()
        result = RemoteResult(content.get("data", {}), content.get("metadata", {}))
        if self.shell is not None:
            self.shell.displayhook(result)

    def _on_error(self, content: dict[str, Any], msg: dict[str, Any]) -> None:
        self.error = content

    def finish(self, uncaught: bool) -> dict[str, Any] | None:
        """The uncaught error to raise, if the cell failed; a traceback shown by the cell
        itself (``showtraceback()`` in ``try``, ``@out.capture()``) is published as output."""
        if uncaught:
            return self.error or self._shown  # _shown: stray output came after the error
        if self.error is not None:
            self._show_error()
        return None

    def _show_error(self) -> None:
        error, self.error = self.error or {}, None
        self._shown = error
        _flush_std()
        stb = list(error.get("traceback") or [])
        ename, evalue = str(error.get("ename", "")), str(error.get("evalue", ""))
        if self.shell is not None:
            # ipykernel's publisher wants an exception type; only its name is used.
            self.shell._showtraceback(type(ename or "Exception", (Exception,), {}), evalue, stb)
        else:
            print("\n".join(stb) or f"{ename}: {evalue}", file=sys.stderr)

    def _on_comm_msg(self, content: dict[str, Any], msg: dict[str, Any]) -> None:
        # Widgets: republished for the frontend, with a local proxy for its replies.
        if self.bridge is not None:
            self.bridge.comm(msg, self.parent or None)

    _on_comm_open = _on_comm_close = _on_comm_msg


def _flush_std() -> None:
    # Keep text that came before a display above it.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.flush()


class RemoteError(Exception):
    """An exception raised by the remote cell, shown with the remote traceback."""

    def __init__(self, ename: str, evalue: str, traceback: list[str], where: str) -> None:
        super().__init__(evalue)
        self.ename = ename
        self.remote_traceback = traceback
        self.where = where

    def _render_traceback_(self) -> list[str]:
        lines = list(self.remote_traceback) or [f"{self.ename}: {self}"]
        return [*lines, f"\x1b[2m(raised in the remote kernel: {self.where})\x1b[0m"]


def remote_error(content: dict[str, Any], where: str) -> RemoteError:
    """A local exception for a remote ``error`` message, named like the remote one.

    Where the remote exception is a builtin, the local one also derives from it, so
    ``except ZeroDivisionError`` works around ``run_cell``.
    """
    import builtins

    ename = str(content.get("ename", "RemoteError"))
    base = getattr(builtins, ename, None)
    cls: type[RemoteError] = RemoteError
    # Not a SyntaxError locally: IPython would show it as a syntax error of the magic's own
    # call (a frame of magics.py), not the remote traceback that points at the cell's line.
    if isinstance(base, type) and issubclass(base, SyntaxError):
        base = None
    if isinstance(base, type) and issubclass(base, BaseException) and base is not BaseException:
        try:
            cls = type(ename, (RemoteError, base), {})
        except TypeError:  # builtins with their own C layout (OSError, ...) cannot mix in
            cls = type(ename, (RemoteError,), {})
    elif ename != "RemoteError":
        cls = type(ename, (RemoteError,), {})
    return cls(ename, str(content.get("evalue", "")), list(content.get("traceback", [])), where)
