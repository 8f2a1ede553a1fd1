"""A real notebook kernel driven as a browser would drive it (jupyter_client).

Every message that reaches the frontend is recorded with its arrival time, so tests can
assert *when* output arrived, not only what it was.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager


@dataclass
class Output:
    t: float  # seconds since the request was sent
    msg_type: str
    content: dict[str, Any]

    @property
    def text(self) -> str:
        if self.msg_type == "stream":
            return str(self.content["text"])
        if self.msg_type == "error":
            return "\n".join(self.content["traceback"])
        return str(self.content.get("data", {}).get("text/plain", ""))


@dataclass
class Result:
    status: str
    outputs: list[Output] = field(default_factory=list)
    elapsed: float = 0.0
    reply: dict[str, Any] = field(default_factory=dict)  # the execute reply's content

    @property
    def stdout(self) -> str:
        return "".join(
            o.text for o in self.outputs if o.msg_type == "stream" and o.content["name"] == "stdout"
        )

    @property
    def stderr(self) -> str:
        return "".join(
            o.text for o in self.outputs if o.msg_type == "stream" and o.content["name"] == "stderr"
        )

    @property
    def error(self) -> dict[str, Any] | None:
        errors = [o.content for o in self.outputs if o.msg_type == "error"]
        return errors[-1] if errors else None

    @property
    def error_text(self) -> str:
        err = self.error
        return "" if err is None else _plain("\n".join(err["traceback"]))

    def of_type(self, msg_type: str) -> list[Output]:
        return [o for o in self.outputs if o.msg_type == msg_type]


def _plain(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


class Notebook:
    """One notebook kernel with jupyter_sky loaded."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=cwd)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.pending: str | None = None

    def send(self, code: str, allow_stdin: bool = False) -> str:
        """Start a cell without waiting (for interrupt tests); nbclient allows no stdin."""
        self.pending = self.kc.execute(code, allow_stdin=allow_stdin)
        return self.pending

    def run(self, code: str, timeout: float = 120) -> Result:
        return self.collect(self.send(code), timeout)

    def collect(self, msg_id: str, timeout: float = 120) -> Result:
        t0 = time.monotonic()
        result = Result("unknown")
        deadline = t0 + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                break
            if kind not in ("status", "execute_input"):
                result.outputs.append(Output(time.monotonic() - t0, kind, msg["content"]))
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        result.status = reply["content"]["status"]
        result.reply = reply["content"]
        result.elapsed = time.monotonic() - t0
        return result

    def value(self, expr: str) -> str:
        """``repr`` of an expression evaluated in the notebook kernel."""
        res = self.run(f"print(repr({expr}))")
        assert res.status == "ok", res.error_text
        return res.stdout.strip()

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):  # best effort before the hard stop
            self.run("%sky down --all", timeout=30)
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
