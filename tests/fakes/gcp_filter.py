"""The subset of the Compute Engine list ``filter`` language the simulated GCP understands.

Follows https://cloud.google.com/compute/docs/reference/rest/v1/instances/list (``filter``):
comparisons ``field = value`` / ``field != value`` (exact) and ``field eq regex`` /
``field ne regex`` (RE2 full match), on top-level fields or ``labels.KEY``, joined by ``AND``
(or by juxtaposed parenthesised terms). Anything else is refused with a ValueError, so a caller
using more of the language than the fake knows fails loudly instead of matching wrongly.
"""

from __future__ import annotations

import re

from fakes.base import Json

TERM = re.compile(r'^\(?\s*([\w.\-]+)\s*(=|!=|eq|ne)\s*"?([^"()]*?)"?\s*\)?$')


def terms(expr: str) -> list[tuple[str, str, str]]:
    """Split a filter into (field, operator, value) terms."""
    expr = expr.strip()
    if not expr:
        return []
    parts = re.split(r"\s+AND\s+|\)\s*\(", expr, flags=re.IGNORECASE)
    out = []
    for part in parts:
        found = TERM.match(part.strip())
        if not found:
            raise ValueError(f"Invalid value for field 'filter': '{expr}'. The simulated API does not understand '{part}'.")
        out.append((found[1], found[2], found[3]))
    return out


def _field(resource: Json, name: str) -> str:
    if name.startswith("labels."):
        return str((resource.get("labels") or {}).get(name[len("labels."):], ""))
    value = resource.get(name, "")
    text = str(value) if value is not None else ""
    return text.rsplit("/", 1)[-1] if name in ("zone", "machineType", "network") else text


def matches(expr: str, resource: Json) -> bool:
    """Return True if the REST JSON ``resource`` satisfies every term of ``expr``."""
    for name, op, want in terms(expr):
        have = _field(resource, name)
        hit = have == want if op in ("=", "!=") else re.fullmatch(want, have) is not None
        if hit != (op in ("=", "eq")):
            return False
    return True
