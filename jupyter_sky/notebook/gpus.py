"""``%sky gpus [NAME[:N]] [--infra CLOUD]`` and ``%sky plan FLAGS``: prices before launching."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import SpecError

if TYPE_CHECKING:
    from jupyter_sky.offering import Offering


Rows = list[tuple[str, ...]]


def gpus_table(words: list[str]) -> str:
    """Like ``sky show-gpus``: without a name, each accelerator with its counts and clouds;
    with one, a row per (cloud, instance type, count) at its cheapest region, with the number
    of regions and the spot price (``--all-regions``: a row per region, cheapest first)."""
    rows, note = gpus_rows(words)
    return f"{_table(rows)}{note}" if len(rows) > 1 else note.strip()


def gpus_rows(words: list[str]) -> tuple[Rows, str]:
    """The ``%sky gpus`` table as rows (the first is the header) and a note to print under it."""
    from jupyter_sky.catalog.names import parse_accelerator

    words = list(words)
    all_regions = "--all-regions" in words
    words = [w for w in words if w != "--all-regions"]
    cloud = _infra_option(words)
    if not words:
        return _summary(cloud), ""
    name, count = parse_accelerator(words[0], "%sky gpus")
    explicit = ":" in words[0]
    return _offers(name, count if explicit else None, cloud, all_regions)


def _infra_option(words: list[str]) -> str | None:
    if "--infra" not in words:
        return None
    at = words.index("--infra")
    if at + 1 >= len(words):
        raise SpecError("--infra needs a value, such as --infra aws.")
    cloud = words[at + 1].split("/")[0]
    del words[at : at + 2]
    return cloud


def _offers(
    name: str | None, count: int | None, cloud: str | None, all_regions: bool
) -> tuple[Rows, str]:
    from jupyter_sky.catalog.offers import offers_for

    offers = offers_for(name, count, cloud)
    if not offers:
        where = f" on {cloud}" if cloud else ""
        return [], f"No catalog offer has {name}{f':{count}' if count else ''}{where}."
    rows = _per_region(offers) if all_regions else _per_instance(offers)
    note = "" if all_regions else "\n(--all-regions: every region; %sky plan --gpus NAME:N ranks them)"
    flagged = [o for o in offers_for(name, count, cloud, include_flagged=True) if o.flags]
    if flagged:
        notes = sorted({o.flag_note for o in flagged})
        note += f"\n{len(flagged)} rows kept out: their prices fail the sanity rule ({'; '.join(notes)})."
    return rows, note


def _price(o: Offering) -> float:
    return o.price if o.price is not None else float("inf")


def _per_instance(offers: list[Offering]) -> Rows:
    """One row per (cloud, count): its cheapest instance type and region, how many types and
    regions offer it, and the cheapest spot price, so every cloud fits one screen."""
    groups: dict[tuple[str, float], list[Offering]] = {}
    for o in offers:
        groups.setdefault((o.infra, o.accelerator_count), []).append(o)
    rows: list[tuple[str, ...]] = [
        ("INFRA", "COUNT", "CHEAPEST INSTANCE", "TYPES", "VCPUS", "MEMORY", "$/H",
         "CHEAPEST REGION", "REGIONS", "SPOT $/H")
    ]  # fmt: skip
    best = [(min(g, key=_price), g) for g in groups.values()]
    best.sort(key=lambda pair: (pair[0].accelerator_count, _price(pair[0])))
    for o, group in best:
        spots = [x.spot_price for x in group if x.spot_price is not None]
        rows.append(
            (o.infra, f"{o.accelerator_count:g}", o.instance_type,
             str(len({x.instance_type for x in group})), _num(o.vcpus), _num(o.memory_gb, " GB"),
             _money(o.price), o.region, str(len({x.region for x in group})),
             _money(min(spots) if spots else None))
        )  # fmt: skip
    return rows


def _per_region(offers: list[Offering]) -> Rows:
    from jupyter_sky.catalog.offers import source_ages

    ages = source_ages()
    rows: list[tuple[str, ...]] = [
        ("INFRA", "REGION", "INSTANCE", "COUNT", "VCPUS", "MEMORY", "$/H", "SPOT $/H", "AGE")
    ]
    for o in sorted(offers, key=_price):
        rows.append(
            (o.infra, f"{o.region}/{o.zone}" if o.zone else o.region, o.instance_type, f"{o.accelerator_count:g}",
             _num(o.vcpus), _num(o.memory_gb, " GB"), _money(o.price), _money(o.spot_price),
             f"{ages.get(o.infra, 0)} d")
        )  # fmt: skip
    return rows


def _summary(cloud: str | None) -> Rows:
    from jupyter_sky.catalog.offers import load_offers

    best: dict[str, tuple[float, set[float], set[str]]] = {}
    for o in load_offers():
        if not o.accelerator or o.price is None or o.flags or (cloud and o.infra != cloud):
            continue
        per_unit = o.price / (o.accelerator_count or 1)
        low, counts, clouds = best.get(o.accelerator, (per_unit, set(), set()))
        best[o.accelerator] = (
            min(low, per_unit),
            counts | {o.accelerator_count},
            clouds | {o.infra},
        )
    rows: list[tuple[str, ...]] = [("ACCELERATOR", "COUNTS", "FROM $/H EACH", "CLOUDS")]
    for name in sorted(best, key=str.lower):
        low, counts, clouds = best[name]
        shown = sorted(counts)
        text = ", ".join(f"{c:g}" for c in shown[:8]) + (", …" if len(shown) > 8 else "")
        rows.append((name, text, _money(low),
                     ", ".join(sorted(clouds))))  # fmt: skip
    return rows


def plan_text(line: str) -> Any:
    """The ranked placements for the flags of a ``%%sky`` line, without launching anything."""
    from pathlib import Path

    from jupyter_sky.config import load_config
    from jupyter_sky.pipeline.plan import make_plan
    from jupyter_sky.spec import task as spec

    config = load_config(Path.cwd())
    args = spec.parse_line(line)
    if args.file:
        from jupyter_sky.notebook.planfile import plan_file

        return plan_file(args.file, Path.cwd(), _without_file(line))
    task = spec.task_from_args(args, "", Path.cwd(), config.defaults, planning=True)
    return make_plan(task)


def _without_file(line: str) -> str:
    import shlex

    words = shlex.split(line)
    for flag in ("-f", "--file"):
        while flag in words:
            at = words.index(flag)
            del words[at : at + 2]
    return shlex.join(words)


def _num(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:g}{unit}"


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.4f}" if value < 0.1 else f"${value:,.2f}"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
