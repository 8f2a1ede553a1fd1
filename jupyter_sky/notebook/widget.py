"""The placement widget (anywidget): every option and its price before anything is spent.

It shows the ranked placements with the chosen row marked and unusable rows greyed with
their reason; with ``--confirm`` a click on a usable row launches there. Afterwards the same
widget is the cell's status line (provisioning, running time, spend so far). Frontends
without widgets (nbclient, terminal IPython, exported notebooks) get the same table as
HTML or text from the display bundle — never a ``Widget(...)`` repr.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

if TYPE_CHECKING:
    from jupyter_sky.optimizer import Placement, Plan

STATIC = Path(__file__).parent / "static"
SHOWN_ROWS = 25
COMPACT_ROWS = 5


def compact_indexes(plan: Plan, limit: int = COMPACT_ROWS) -> list[int]:
    """The chosen row and the best usable alternatives (all rows when none is usable)."""
    usable = [i for i, row in enumerate(plan.rows) if row.usable][:limit]
    chosen = next((i for i, row in enumerate(plan.rows) if row is plan.chosen), None)
    if chosen is not None and chosen not in usable:
        usable = sorted([*usable[: limit - 1], chosen])
    return usable or list(range(min(limit, len(plan.rows))))


def plan_rows(plan: Plan, limit: int = SHOWN_ROWS, compact: bool = False) -> list[dict[str, Any]]:
    """The rows as shown, numbered as in the full plan (for ``--pick``); ``compact``: only
    :func:`compact_indexes`."""
    from jupyter_sky.optimizer.render import cells

    shown = []
    indexes = compact_indexes(plan) if compact else range(min(limit, len(plan.rows)))
    for i in indexes:
        row = plan.rows[i]
        chosen = row is plan.chosen
        shown.append(
            {
                "cells": [str(i + 1), *cells(row, chosen)[1:]],
                "usable": row.usable,
                "reason": row.reason,
                "infra": row.offering.infra,
            }
        )
    return shown


def columns() -> list[str]:
    from jupyter_sky.optimizer.render import COLUMNS

    return ["#", *COLUMNS[1:]]


class PlacementWidget(anywidget.AnyWidget):  # type: ignore[misc]
    """Ranked placements, then the cell's status line."""

    _esm = STATIC / "placement.js"
    _css = STATIC / "placement.css"
    rows: Any = traitlets.List([]).tag(sync=True)
    columns: Any = traitlets.List([]).tag(sync=True)
    chosen = traitlets.Int(-1).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    confirm = traitlets.Bool(False).tag(sync=True)
    decided = traitlets.Bool(False).tag(sync=True)
    collapsed = traitlets.Bool(False).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)
    action = traitlets.Unicode("").tag(sync=True)
    heard = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self, plan: Plan, confirm: bool = False, compact: bool = False, **kwargs: Any
    ) -> None:
        self.plan = plan
        compact = compact and not confirm
        rows = plan_rows(plan, compact=compact)
        number = str(plan.rows.index(plan.chosen) + 1) if plan.chosen is not None else ""
        chosen = next((i for i, r in enumerate(rows) if r["cells"][0] == number), -1)
        super().__init__(rows=rows, columns=columns(), chosen=chosen, confirm=confirm, **kwargs)
        hidden = len(plan.rows) - len(rows) if compact else 0
        more = f" {hidden} more rows: %sky plan with the same flags shows them." if hidden else ""
        self.status = plan.explain() + _stale_note(plan) + more
        self.ready = threading.Event()
        self.on_msg(self._on_frontend_msg)

    def _on_frontend_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ready":
            self.ready.set()
            self.heard = True

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle: Any = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if data is None:
            return bundle
        data["text/plain"] = table_text(self.rows, self.columns, self.status)
        data["text/html"] = table_html(self.rows, self.columns, self.status)
        return bundle

    def wait_for_click(self, probe: float = 5.0, timeout: float = 1800.0) -> int | None:
        """The row index clicked, or None if this frontend cannot deliver the click now.

        Widget messages reach the kernel during a running cell only when the frontend sends
        them on a kernel subshell (JupyterLab ≥ 4.4 with ipykernel 7): the widget says
        "ready" when it renders, and that message arriving *now* is the proof.
        """
        self._let_frontend_choose_subshell()
        if not self.ready.wait(probe):
            return None
        deadline = time.monotonic() + timeout
        while self.action != "run" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.decided = True
        return self.selected if self.action == "run" else None

    def mark_failed(self, row: Placement, reason: str) -> None:
        """Grey a row failover gave up on, with the reason (the next row is tried next)."""
        number = next((str(i + 1) for i, r in enumerate(self.plan.rows) if r is row), None)
        if number is None:
            return
        failed = {"usable": False, "reason": f"launch failed: {reason}"}
        self.rows = [{**r, **failed} if r["cells"][0] == number else r for r in self.rows]

    def _let_frontend_choose_subshell(self) -> None:
        # ipykernel 7 sends a comm's incoming messages to the subshell that last published on
        # it — here the main shell, busy running this very cell — whatever subshell the
        # frontend chose. Forgetting that makes it honour the frontend's (idle) subshell.
        comm = getattr(self, "comm", None)
        lock = getattr(comm, "_reply_subshell_lock", None)
        if lock is None:
            return
        with lock:
            vars(comm).pop("_reply_subshell_id", None)
            getattr(comm, "_reply_subshell_ids", {}).clear()


def _stale_note(plan: Plan, days: int = 30) -> str:
    stale = sorted({r.offering.infra for r in plan.rows if (r.price_age_days or 0) > days})
    if not stale:
        return ""
    return (
        f" ⚠ Prices for {', '.join(stale)} are over {days} days old; "
        "run jupyter-sky catalog refresh for current ones."
    )


def table_text(rows: list[dict[str, Any]], cols: list[str], status: str) -> str:
    """A plain-text table of the shown rows."""
    grid = [cols, *[r["cells"] for r in rows]]
    widths = [max(len(line[i]) for line in grid) for i in range(len(cols))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in grid
    ]
    return "\n".join([status, *lines])


def table_html(rows: list[dict[str, Any]], cols: list[str], status: str) -> str:
    """An HTML table of the shown rows (chosen row bold, unusable rows grey)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        style = "" if r["usable"] else " style='color:#999'"
        bold = r["cells"][-1] == "chosen"
        tds = "".join(
            f"<td>{'<b>' if bold else ''}{html.escape(c)}{'</b>' if bold else ''}</td>"
            for c in r["cells"]
        )
        body.append(f"<tr{style}>{tds}</tr>")
    return (
        f"<div class='sky-plan-static'><p>{html.escape(status)}</p><table><tr>{head}</tr>"
        f"{''.join(body)}</table></div>"
    )
