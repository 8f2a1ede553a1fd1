"""The remote side of numbered output (``jupyter_sky.remote.numbering``) on a stand-in kernel
whose session records what it sends: numbers, what is kept, acknowledgements, replay and the
limits. The real thing (a killed sshd mid-stream) is in tests/test_ssh_infra.py."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_sky.remote import numbering
from jupyter_sky.remote.numbering import SEQ, Numbering


class Session:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, dict]] = []

    def send(self, stream: Any, msg_or_type: Any, content: Any = None, parent: Any = None,
             ident: Any = None, buffers: Any = None, track: bool = False, header: Any = None,
             metadata: Any = None) -> dict:  # fmt: skip
        if isinstance(msg_or_type, dict):
            msg = msg_or_type
        else:
            msg = {
                "header": {"msg_type": msg_or_type, "msg_id": f"m{len(self.sent)}"},
                "parent_header": (parent or {}).get("header", parent or {}),
                "metadata": metadata or {},
                "content": content or {},
            }
        self.sent.append((stream, msg))
        return msg


class Kernel:
    def __init__(self) -> None:
        self.session = Session()
        self.iopub_socket = object()
        self.iopub_thread = object()
        self.shell_stream = object()


@pytest.fixture
def kernel() -> Kernel:
    k = Kernel()
    Numbering(k).install()
    return k


def _seqs(kernel: Kernel) -> list[Any]:
    return [msg["metadata"].get(SEQ) for _, msg in kernel.session.sent]


def test_iopub_messages_are_numbered_and_replies_are_not(kernel: Kernel) -> None:
    send = kernel.session.send
    send(kernel.iopub_socket, "status", {"execution_state": "busy"})
    send(kernel.iopub_thread, {"header": {}, "metadata": {}, "content": {"text": "hi"}})
    send(kernel.shell_stream, "execute_reply", {}, parent={"msg_id": "req"})
    assert _seqs(kernel) == [1, 2, None]


def test_replay_sends_what_follows_and_the_asked_replies(kernel: Kernel) -> None:
    send, num = kernel.session.send, kernel.session.send.__self__
    for i in range(5):
        send(kernel.iopub_socket, "stream", {"text": f"{i}\n"})
    send(kernel.shell_stream, "execute_reply", {}, parent={"msg_id": "req"})
    kernel.session.sent.clear()
    control = object()
    done = num.replay(3, ["req", "unknown"], control)
    assert done == {"upto": 5, "lost": 0, "evicted": 0}
    assert _seqs(kernel) == [4, 5, None]
    assert kernel.session.sent[-1][0] is control  # the reply goes out on control
    num.ack(4)
    assert [k.seq for k in num.kept] == [5]


def test_what_outgrows_the_limit_is_reported_lost(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(numbering, "MAX_KEPT", 3)
    send, num = kernel.session.send, kernel.session.send.__self__
    for i in range(6):
        send(kernel.iopub_socket, "stream", {"text": f"{i}\n"})
    assert [k.seq for k in num.kept] == [4, 5, 6]
    assert num.replay(1, []) == {"upto": 6, "lost": 2, "evicted": 3}
