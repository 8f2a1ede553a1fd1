"""Plain-text and HTML tables of a :class:`Plan`, for frontends without widgets."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_sky.optimizer.dag import DagPlan
    from jupyter_sky.optimizer.model import Placement, Plan

COLUMNS = (
    "",
    "infra",
    "region/zone",
    "instance",
    "GPUs",
    "vCPUs",
    "memory",
    "$/h",
    "est. cost",
    "egress",
    "spot saving",
    "price age",
    "status",
)
_RIGHT = {4, 5, 6, 7, 8, 9, 10, 11}
_WIDTH = 34  # longer cells (marketplace region names) are cut in the text table


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def _status(row: Placement, chosen: bool) -> str:
    text = "chosen" if chosen else (row.reason or "usable")
    extra = [note for note in row.notes if note not in text]  # flagged rows carry it already
    return text + (f" ({'; '.join(extra)})" if extra else "")


def _age(row: Placement) -> str:
    if row.offering.live:
        return "live"
    return "—" if row.price_age_days is None else f"{row.price_age_days} d"


def cells(row: Placement, chosen: bool) -> list[str]:
    """Return the table cells of ``row`` in :data:`COLUMNS` order."""
    o = row.offering
    gpus = f"{o.accelerator_count:g}× {o.accelerator}" if o.accelerator else "—"
    return [
        "→" if chosen else "",
        o.infra,
        f"{o.region}/{o.zone}" if o.zone else o.region,
        o.instance_type + (" (spot)" if row.spot else ""),
        gpus,
        "—" if o.vcpus is None else f"{o.vcpus:g}",
        "—" if o.memory_gb is None else f"{o.memory_gb:g} GB",
        row.price_text(),
        _money(row.est_cost),
        _money(row.egress_cost),
        "—" if row.spot_saving is None else f"{row.spot_saving:.0%}",
        _age(row),
        _status(row, chosen),
    ]


def _cut(text: str) -> str:
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def _text_table(header: list[str], body: list[list[str]], right: set[int]) -> list[str]:
    """Align ``body`` under ``header``; every cell but the last is cut to ``_WIDTH``."""
    cut = [[_cut(c) for c in row[:-1]] + row[-1:] for row in [header, *body]]
    widths = [max(len(row[i]) for row in cut) for i in range(len(header))]

    def line(row: list[str]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs).rstrip()

    return [line(cut[0]), line(["-" * w for w in widths]), *map(line, cut[1:])]


def _html_table(header: list[str], body: list[tuple[list[str], str]], right: set[int]) -> str:
    """An HTML table; each body row comes with its ``style`` attribute."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    rows = []
    for row, style in body:
        tds = "".join(
            f'<td style="text-align:{"right" if i in right else "left"}">{html.escape(c)}</td>'
            for i, c in enumerate(row)
        )
        rows.append(f'<tr style="{style}">{tds}</tr>')
    return (
        f'<table class="jupyter-sky-plan"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def plan_text(plan: Plan) -> str:
    """Return ``plan`` as an aligned plain-text table followed by its explanation."""
    body = [cells(row, row is plan.chosen) for row in plan.rows]
    lines = _text_table(list(COLUMNS), body, _RIGHT) if body else []
    return "\n".join([*lines, plan.explain()])


def plan_html(plan: Plan) -> str:
    """Return ``plan`` as an HTML table: chosen row in bold, unusable rows greyed."""
    body = []
    for row in plan.rows:
        chosen = row is plan.chosen
        style = "font-weight:bold" if chosen else ("color:#888" if not row.usable else "")
        body.append((cells(row, chosen), style))
    table = _html_table(list(COLUMNS), body, _RIGHT) if body else ""
    return f"<div>{table}<p>{html.escape(plan.explain())}</p></div>"


DAG_COLUMNS = (
    "task",
    "infra",
    "region/zone",
    "instance",
    "GPUs",
    "$/h",
    "hours",
    "est. cost",
    "egress to next",
    "egress home",
)
_DAG_RIGHT = {5, 6, 7, 8, 9}


def dag_rows(plan: DagPlan) -> list[list[str]]:
    """Return one row of :data:`DAG_COLUMNS` cells per task, in topological order."""
    rows = []
    for task in plan.order:
        p, hours = plan.placements[task], plan.tasks[task].hours
        out = sum(cost for (u, _), cost in plan.edge_egress.items() if u == task)
        full = cells(p, False)
        shown = "1 (assumed)" if hours is None else f"{hours:g}"
        rows.append([task, *full[1:5], full[7], shown, full[8], _money(out), full[9]])
    return rows


def dag_text(plan: DagPlan) -> str:
    """Return a :class:`~jupyter_sky.optimizer.dag.DagPlan` as a plain-text table."""
    return "\n".join([*_text_table(list(DAG_COLUMNS), dag_rows(plan), _DAG_RIGHT), plan.explain()])


def dag_html(plan: DagPlan) -> str:
    """Return a :class:`~jupyter_sky.optimizer.dag.DagPlan` as an HTML table."""
    body = [(row, "") for row in dag_rows(plan)]
    table = _html_table(list(DAG_COLUMNS), body, _DAG_RIGHT)
    return f"<div>{table}<p>{html.escape(plan.explain())}</p></div>"
