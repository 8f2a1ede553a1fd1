"""What the clouds hold of this user that this machine's state database does not know: a
notebook kernel killed mid-launch, another machine, a lost database. ``%sky status`` lists
them (``--infra KIND`` asks that infra even without credentials found locally), and
``%sky down NAME`` ends one by its cluster name."""

from __future__ import annotations

from jupyter_sky.errors import SkyError
from jupyter_sky.infra.base import Orphan


def orphans(kind: str | None, known: set[str]) -> tuple[list[Orphan], list[str]]:
    """Every cluster the infras that list orphans see and the state DB does not (``known``),
    and one line per infra that could not be asked. Without ``kind``, only infras whose
    credentials are found are asked."""
    from jupyter_sky.infra import classes, get_infra
    from jupyter_sky.infra.base import ListsOrphans

    found: list[Orphan] = []
    failed: list[str] = []
    for name, cls in sorted(classes().items()):
        if not issubclass(cls, ListsOrphans) or (kind and name != kind) or (not kind and cls.credentials()):
            continue
        try:
            listed = get_infra(name).orphans()  # type: ignore[attr-defined]
        except SkyError as exc:
            failed.append(f"{name}: could not list its clusters ({str(exc).rstrip('.')}).")
            continue
        found.extend(o for o in listed if o.cluster not in known)
    return found, failed


def rows(found: list[Orphan]) -> list[tuple[str, ...]]:
    return [(o.cluster, o.kind, o.state.upper(), o.where) for o in found]


def end(name: str) -> str | None:
    """End the orphans named ``name`` on every infra that sees one; None when none does."""
    found, _ = orphans(None, set())
    mine = [o for o in found if o.cluster == name]
    for orphan in mine:
        orphan.down()
    if not mine:
        return None
    return f"cluster '{name}' is down ({', '.join(o.where for o in mine)}; this machine's state did not know it)"


def end_left(name: str, kind: str) -> str | None:
    """End what a launch of cluster ``name`` on ``kind`` left behind when its notebook kernel
    died mid-launch (this machine's state knows the name, INIT, with no launcher alive); one
    line saying what was ended, None when it left nothing."""
    found, failed = orphans(kind, set())
    mine = [o for o in found if o.cluster == name]
    ended = []
    for orphan in mine:
        try:
            orphan.down()
        except Exception as exc:  # noqa: BLE001 - said, and the next status tries again
            failed.append(f"{orphan.where}: could not be ended ({str(exc).rstrip('.')}).")
            continue
        ended.append(orphan.where)
    lines = [f"cluster '{name}': its notebook died mid-launch; ended what the launch had "
             f"started ({', '.join(ended)})."] if ended else []  # fmt: skip
    lines += [f"cluster '{name}': its notebook died mid-launch; {line}" for line in failed]
    return "\n".join(lines) or None

