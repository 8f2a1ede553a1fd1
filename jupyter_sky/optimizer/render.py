"""Plain-text and HTML tables of a :class:`Plan`, for frontends without widgets."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    if row.live:
        return "live"
    return "—" if row.price_age_days is None else f"{row.price_age_days} d"


def cells(row: Placement, chosen: bool) -> list[str]:
    """Return the table cells of ``row`` in :data:`COLUMNS` order."""
    gpus = f"{row.accelerator_count:g}× {row.accelerator}" if row.accelerator else "—"
    return [
        "→" if chosen else "",
        row.infra,
        f"{row.region}/{row.zone}" if row.zone else row.region,
        row.instance_type + (" (spot)" if row.spot else ""),
        gpus,
        "—" if row.vcpus is None else f"{row.vcpus:g}",
        "—" if row.memory_gb is None else f"{row.memory_gb:g} GB",
        row.price_text(),
        _money(row.est_cost),
        _money(row.egress_cost),
        "—" if row.spot_saving is None else f"{row.spot_saving:.0%}",
        _age(row),
        _status(row, chosen),
    ]


def _cut(text: str) -> str:
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def plan_text(plan: Plan) -> str:
    """Return ``plan`` as an aligned plain-text table followed by its explanation."""
    body = []
    for row in plan.rows:
        full = cells(row, row is plan.chosen)
        body.append([_cut(c) for c in full[:-1]] + full[-1:])  # the status is never cut
    widths = [max(len(row[i]) for row in [list(COLUMNS), *body]) for i in range(len(COLUMNS))]

    def line(row: list[str]) -> str:
        parts = [
            c.rjust(w) if i in _RIGHT else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(COLUMNS)), line(["-" * w for w in widths])] if body else []
    out += [line(cols) for cols in body]
    out.append(plan.explain())
    return "\n".join(out)


def plan_html(plan: Plan) -> str:
    """Return ``plan`` as an HTML table: chosen row in bold, unusable rows greyed."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for row in plan.rows:
        chosen = row is plan.chosen
        style = "font-weight:bold" if chosen else ("color:#888" if not row.usable else "")
        tds = "".join(
            f'<td style="text-align:{"right" if i in _RIGHT else "left"}">{html.escape(c)}</td>'
            for i, c in enumerate(cells(row, chosen))
        )
        body.append(f'<tr style="{style}">{tds}</tr>')
    table = (
        f'<table class="jupyter-sky-plan"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        if body
        else ""
    )
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


def dag_text(plan: Any) -> str:
    """Return a :class:`~jupyter_sky.optimizer.dag.DagPlan` as a plain-text table."""
    rows = [list(DAG_COLUMNS)]
    for task in plan.order:
        p = plan.placements[task]
        out = sum(cost for (u, _), cost in plan.edge_egress.items() if u == task)
        full = cells(p, False)
        hours = (p.est_cost / p.price_per_hour) if p.est_cost and p.price_per_hour else None
        rows.append(
            [
                task,
                *full[1:5],
                full[7],
                "—" if hours is None else f"{hours:g}",
                full[8],
                _money(out),
                full[9],
            ]
        )
    widths = [max(len(_cut(r[i])) for r in rows) for i in range(len(DAG_COLUMNS))]
    lines = [
        "  ".join(_cut(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, plan.explain()])
