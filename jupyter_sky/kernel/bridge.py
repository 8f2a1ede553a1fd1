"""Widgets and late output: the frontend and a remote kernel, bridged both ways.

Remote ``comm_*`` messages are republished on the notebook kernel's own iopub, and each
remote comm gets a local proxy in the notebook kernel's comm manager, so messages the
frontend sends to a widget (a slider moved, a button clicked) are forwarded to the remote
kernel. Every remote request id is mapped to the local message that caused it — a cell's
execute request, or the frontend's comm message — so whatever the remote kernel publishes
later lands where it belongs: late ``print`` output of a cell updates that cell's status
line by ``display_id`` (it never spills into whichever cell runs next), and an ``Output``
widget's ``msg_id`` is rewritten so captured output shows up inside it.

Publishing goes through the notebook kernel's session and iopub socket, which ipykernel
makes safe to use from any thread (the I/O thread that calls :meth:`Bridge.on_message`).
"""

from __future__ import annotations

import html
import threading
import time
from collections import OrderedDict
from typing import Any

from jupyter_sky.kernel.session import Channels, Waiter

COMM_TYPES = ("comm_open", "comm_msg", "comm_close")
_MAX_PARENTS = 10_000
FORWARD_WAIT = 5.0


class LocalKernel:
    """The notebook kernel (ipykernel) this extension is loaded in, if there is one."""

    def __init__(self, shell: Any) -> None:
        self.kernel = getattr(shell, "kernel", None)

    @property
    def available(self) -> bool:
        return self.kernel is not None and hasattr(self.kernel, "iopub_socket")

    def parent(self) -> dict[str, Any]:
        if not self.available:
            return {}
        return dict(self.kernel.get_parent() or {})  # type: ignore[union-attr]

    def publish(
        self,
        msg_type: str,
        content: dict[str, Any],
        parent: dict[str, Any] | None,
        metadata: dict[str, Any] | None = None,
        buffers: list[Any] | None = None,
    ) -> None:
        if not self.available:
            return
        kernel = self.kernel
        kernel.session.send(  # type: ignore[union-attr]
            kernel.iopub_socket,  # type: ignore[union-attr]
            msg_type,
            content,
            parent=parent or None,
            metadata=metadata,
            buffers=[_bytes(b) for b in buffers or []],
        )

    def comm_manager(self) -> Any:
        return getattr(self.kernel, "comm_manager", None) if self.available else None


class StatusLine:
    """The one-line 'where did this run' display of a cell, also its late-output area."""

    def __init__(
        self, local: LocalKernel, display_id: str, text: str, parent: dict[str, Any]
    ) -> None:
        self.local = local
        self.display_id = display_id
        self.text = text
        self.parent = parent
        self.late: list[str] = []
        self._lock = threading.Lock()

    def bundle(self) -> dict[str, Any]:
        late = "".join(self.late)
        plain = self.text + (f"\n{late}" if late else "")
        style = "font-size:11px;color:#777;font-family:var(--jp-code-font-family,monospace)"
        body = f"<div style='{style}'>{html.escape(self.text)}</div>"
        if late:
            body += f"<pre style='margin:0'>{html.escape(late)}</pre>"
        return {"text/plain": plain, "text/html": body}

    def set_text(self, text: str) -> None:
        """Change the line (the allocation's time left ...); nothing is sent if it is the same."""
        with self._lock:
            if text == self.text:
                return
            self.text = text
            content = {
                "data": self.bundle(),
                "metadata": {},
                "transient": {"display_id": self.display_id},
            }
            self.local.publish("update_display_data", content, self.local.parent() or self.parent)

    def add_late(self, text: str) -> None:
        """Append output a remote thread printed after the cell ended, in this cell."""
        with self._lock:
            self.late.append(text)
            content = {
                "data": self.bundle(),
                "metadata": {},
                "transient": {"display_id": self.display_id},
            }
            # Frontends apply a display update by its id, whichever request it rides on;
            # nbclient only reads messages of the cell running now, so ride on that one.
            self.local.publish("update_display_data", content, self.local.parent() or self.parent)


class RemoteComm:
    """A local stand-in for a remote comm: the frontend's messages go to the remote kernel."""

    def __init__(self, comm_id: str, target_name: str, bridge: Bridge) -> None:
        self.comm_id = comm_id
        self.target_name = target_name
        self.bridge = bridge
        self._closed = False

    def handle_msg(self, msg: dict[str, Any]) -> None:
        self.bridge.forward("comm_msg", msg)

    def handle_close(self, msg: dict[str, Any]) -> None:
        self._closed = True
        self.bridge.forward("comm_close", msg)


class Bridge:
    """Everything between the frontend and one remote kernel that is not a cell's own flow."""

    def __init__(self, shell: Any) -> None:
        self.local = LocalKernel(shell)
        self.channels: Channels | None = None
        self.parents: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.status_lines: dict[str, StatusLine] = {}
        self.proxies: dict[str, RemoteComm] = {}

    def remember(self, remote_id: str, local_parent: dict[str, Any]) -> None:
        """Output the remote kernel later attributes to ``remote_id`` belongs to ``local_parent``."""
        self.parents[remote_id] = local_parent
        while len(self.parents) > _MAX_PARENTS:
            old, _ = self.parents.popitem(last=False)
            self.status_lines.pop(old, None)

    # ---- remote -> frontend ---------------------------------------------------------
    def comm(self, msg: dict[str, Any], parent: dict[str, Any] | None = None) -> None:
        """Republish a remote comm message to the frontend (and track the comm)."""
        msg_type = msg["header"]["msg_type"]
        content = _rewrite_output_msg_id(msg["content"], self.parents)
        comm_id = content.get("comm_id", "")
        if msg_type == "comm_open":
            self._add_proxy(comm_id, content.get("target_name", ""))
        elif msg_type == "comm_close":
            self._drop_proxy(comm_id)
        local_parent = parent if parent is not None else self._local_parent(msg)
        self.local.publish(msg_type, content, local_parent, msg.get("metadata"), msg.get("buffers"))

    def on_message(self, channel: str, msg: dict[str, Any]) -> None:
        """Messages outside a running cell: late output, widget updates, comm replies."""
        if channel != "iopub":
            return
        msg_type = msg["header"]["msg_type"]
        if msg_type in COMM_TYPES:
            self.comm(msg)
            return
        if msg_type in ("status", "execute_input"):
            return
        remote_parent = msg.get("parent_header", {}).get("msg_id", "")
        status = self.status_lines.get(remote_parent)
        if status is not None and msg_type == "stream":
            status.add_late(msg["content"].get("text", ""))
            return
        parent = self.parents.get(remote_parent)
        if parent is not None:
            self.local.publish(
                msg_type, msg["content"], parent, msg.get("metadata"), msg.get("buffers")
            )

    def _local_parent(self, msg: dict[str, Any]) -> dict[str, Any]:
        remote_parent = msg.get("parent_header", {}).get("msg_id", "")
        return self.parents.get(remote_parent) or self.local.parent()

    # ---- frontend -> remote ------------------------------------------------------------
    def forward(self, msg_type: str, msg: dict[str, Any]) -> None:
        """Send the frontend's comm message on to the remote kernel, and relay what it causes.

        Like a local kernel, stay busy until the remote kernel has handled the message
        (up to :data:`FORWARD_WAIT` s): JupyterLab routes output to an ``Output`` widget
        only while the request that caused it is in flight.
        """
        channels = self.channels
        if channels is None or channels.closed:
            return
        content = {"comm_id": msg["content"]["comm_id"], "data": msg["content"].get("data", {})}
        waiter = Waiter()
        buffers = list(msg.get("buffers") or [])
        remote_id = channels.send("shell", msg_type, content, buffers=buffers, handler=waiter)
        self.remember(remote_id, msg["header"])
        deadline = time.monotonic() + FORWARD_WAIT
        while time.monotonic() < deadline and not channels.closed:
            got = waiter.get(0.1)
            if got is None:
                continue
            if _is_idle(got[1]):
                break
            self.on_message(*got)
        channels.unroute(remote_id)  # from here on, late messages take the stray path
        while (got := waiter.get(0)) is not None:
            self.on_message(*got)
        if msg_type == "comm_close":
            self._drop_proxy(content["comm_id"])

    def _add_proxy(self, comm_id: str, target_name: str) -> None:
        manager = self.local.comm_manager()
        if manager is None or not comm_id:
            return
        proxy = RemoteComm(comm_id, target_name, self)
        self.proxies[comm_id] = proxy
        manager.register_comm(proxy)

    def _drop_proxy(self, comm_id: str) -> None:
        proxy = self.proxies.pop(comm_id, None)
        manager = self.local.comm_manager()
        if proxy is not None and manager is not None:
            manager.comms.pop(comm_id, None)

    def close(self) -> None:
        for comm_id in list(self.proxies):
            self._drop_proxy(comm_id)


def _rewrite_output_msg_id(
    content: dict[str, Any], parents: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    # An ipywidgets Output widget captures output whose parent is its `msg_id` state;
    # remotely that is a remote request id, which the frontend never sees.
    state = content.get("data", {}).get("state")
    if not isinstance(state, dict) or not state.get("msg_id"):
        return content
    local = parents.get(state["msg_id"])
    if local is None:
        return content
    data = {
        **content["data"],
        "state": {**state, "msg_id": local.get("header", local).get("msg_id", "")},
    }
    return {**content, "data": data}


def _is_idle(msg: dict[str, Any]) -> bool:
    return msg["header"]["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"


def _bytes(buf: Any) -> Any:
    # zmq frames and memoryviews both go out as-is; zmq accepts any buffer.
    return getattr(buf, "buffer", buf)
