"""``%sky gpus [NAME[:N]] [--infra CLOUD]`` and ``%sky plan FLAGS``: prices before launching."""

from __future__ import annotations

from typing import Any

from jupyter_sky.errors import SpecError

MAX_ROWS = 30


def gpus_table(words: list[str]) -> str:
    """Where an accelerator exists, cheapest first; without a name, every accelerator."""
    from jupyter_sky.catalog.names import parse_accelerator

    cloud = _infra_option(words)
    if not words:
        return _summary(cloud)
    name, count = parse_accelerator(words[0], "%sky gpus")
    explicit = ":" in words[0]
    return _offers(name, count if explicit else None, cloud)


def _infra_option(words: list[str]) -> str | None:
    if "--infra" not in words:
        return None
    at = words.index("--infra")
    if at + 1 >= len(words):
        raise SpecError("--infra needs a value, such as --infra aws.")
    cloud = words[at + 1].split("/")[0]
    del words[at : at + 2]
    return cloud


def _offers(name: str | None, count: int | None, cloud: str | None) -> str:
    from jupyter_sky.catalog.offers import offers_for, source_ages

    offers = offers_for(name, count, cloud)
    if not offers:
        where = f" on {cloud}" if cloud else ""
        return f"No catalog offer has {name}{f':{count}' if count else ''}{where}."
    ages = source_ages()
    offers.sort(key=lambda o: o.price if o.price is not None else float("inf"))
    rows: list[tuple[str, ...]] = [
        ("INFRA", "REGION", "INSTANCE", "COUNT", "VCPUS", "MEMORY", "$/H", "SPOT $/H", "AGE")
    ]
    for o in offers[:MAX_ROWS]:
        rows.append(
            (o.cloud, f"{o.region}/{o.zone}" if o.zone else o.region, o.instance_type, f"{o.accelerator_count:g}",
             _num(o.vcpus), _num(o.memory_gb, " GB"), _money(o.price), _money(o.spot_price),
             f"{ages.get(o.cloud, 0)} d")
        )  # fmt: skip
    more = (
        f"\n… and {len(offers) - MAX_ROWS} more (narrow with NAME:N or --infra)"
        if len(offers) > MAX_ROWS
        else ""
    )
    flagged = [o for o in offers_for(name, count, cloud, include_flagged=True) if o.flags]
    if flagged:
        notes = sorted({o.note for o in flagged})
        more += f"\n{len(flagged)} rows kept out: their prices fail the sanity rule ({'; '.join(notes)})."
    return _table(rows) + more


def _summary(cloud: str | None) -> str:
    from jupyter_sky.catalog.offers import load_offers

    best: dict[str, tuple[float, set[str]]] = {}
    for o in load_offers():
        if not o.accelerator or o.price is None or o.flags or (cloud and o.cloud != cloud):
            continue
        per_unit = o.price / (o.accelerator_count or 1)
        low, clouds = best.get(o.accelerator, (per_unit, set()))
        best[o.accelerator] = (min(low, per_unit), clouds | {o.cloud})
    rows: list[tuple[str, ...]] = [("ACCELERATOR", "FROM $/H EACH", "CLOUDS")]
    for name in sorted(best, key=str.lower):
        low, clouds = best[name]
        rows.append((name, _money(low), ", ".join(sorted(clouds))))
    return _table(rows)


def plan_text(line: str) -> Any:
    """The ranked placements for the flags of a ``%%sky`` line, without launching anything."""
    from pathlib import Path

    from jupyter_sky.config import load_config
    from jupyter_sky.notebook.placement import make_plan
    from jupyter_sky.spec import task as spec

    config = load_config(Path.cwd())
    task = spec.task_from_args(spec.parse_line(line), "", Path.cwd(), config.defaults)
    return make_plan(task)


def _num(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:g}{unit}"


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.4f}" if value < 0.1 else f"${value:,.2f}"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
