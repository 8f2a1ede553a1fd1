"""Names users type: accelerators (from the generated ``accelerators.txt``) and infras.

Names follow SkyPilot's catalog (``A100``, ``A100-80GB``, ``H100``, ``tpu-v5p-8`` ...). Lookup is
case-insensitive because users type ``a100`` as often as ``A100``; code that compares a canonical
name with a catalog CSV value should compare case-insensitively too (some clouds write ``L40s``
where the canonical name is ``L40S``).
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jupyter_sky.errors import SpecError

NAMES_FILE = Path(__file__).with_name("accelerators.txt")


@lru_cache(maxsize=1)
def all_names() -> tuple[str, ...]:
    """Return every canonical accelerator name, sorted case-insensitively.

    Returns
    -------
    tuple of str
        The lines of ``accelerators.txt``.
    """
    text = NAMES_FILE.read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@lru_cache(maxsize=1)
def _by_lower() -> dict[str, str]:
    return {name.lower(): name for name in all_names()}


def canonical_name(name: str) -> str | None:
    """Return the canonical spelling of an accelerator name, or None if it is unknown.

    Parameters
    ----------
    name : str
        A name in any letter case, such as ``a100`` or ``h100-sxm``.

    Returns
    -------
    str or None
        The catalog spelling (``A100``), or None when the catalog has no such accelerator.
    """
    return _by_lower().get(name.strip().lower())


def close_names(name: str, limit: int = 3) -> list[str]:
    """Return up to ``limit`` canonical names that look like ``name``, best first.

    Parameters
    ----------
    name : str
        A misspelt accelerator name.
    limit : int
        How many suggestions to return at most.

    Returns
    -------
    list of str
        Canonical names, possibly empty.
    """
    lower = _by_lower()
    matches = difflib.get_close_matches(name.strip().lower(), list(lower), n=limit, cutoff=0.6)
    return [lower[m] for m in matches]


def unknown_accelerator(name: str) -> SpecError:
    """Build the one-sentence error for an accelerator name the catalog does not know."""
    close = close_names(name)
    if close:
        return SpecError(f"Unknown accelerator {name!r}; did you mean {', '.join(close)}?")
    return SpecError(
        f"Unknown accelerator {name!r}; use a catalog name such as A100, H100, L4 or T4."
    )


def parse_accelerator(value: object, label: str) -> tuple[str | None, int]:
    """Parse ``NAME``, ``NAME:N`` or ``N`` into (canonical name or None, count).

    Parameters
    ----------
    value : object
        The flag text, or a YAML scalar (an int means "N accelerators of any type").
    label : str
        How to name the value in an error, such as ``--gpus``.

    Returns
    -------
    tuple of (str or None, int)
        The canonical name (None for "any type") and a positive count.

    Raises
    ------
    SpecError
        If the text has the wrong shape, the count is not a positive integer, or the name is
        unknown.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _bad_accelerator(label, value)
    text = str(value).strip()
    name, sep, count_text = text.rpartition(":")
    if not sep:
        name, count_text = ("", text) if text.isdigit() else (text, "1")
    bad_count = not count_text.isdigit() or int(count_text) < 1
    if not text or bad_count or (sep and not name.strip()):
        raise _bad_accelerator(label, value)
    if not name:
        return None, int(count_text)
    canonical = canonical_name(name)
    if canonical is None:
        raise unknown_accelerator(name.strip())
    return canonical, int(count_text)


def one_accelerator(value: Any, label: str) -> Any:
    """Turn the YAML forms ``{A100: 2}`` and ``[A100:2]`` into ``A100:2`` for parse_accelerator.

    Parameters
    ----------
    value : Any
        A ``resources.accelerators`` value from a task YAML.
    label : str
        How to name the value in an error.

    Returns
    -------
    Any
        A string or int for :func:`parse_accelerator`; other values are returned unchanged.

    Raises
    ------
    SpecError
        If several accelerators are listed (choosing among them waits for the optimizer).
    """
    if isinstance(value, (list, tuple, set, dict)) and len(value) > 1:
        raise SpecError(
            f"{label} lists several accelerators, which is not available yet: "
            "choosing among them arrives with the optimizer."
        )
    if isinstance(value, dict) and value:
        name, count = next(iter(value.items()))
        return str(name) if count is None else f"{name}:{count}"
    if isinstance(value, (list, tuple)) and value:
        return value[0]
    return value


def check_cluster_name(value: Any, label: str) -> str:
    """Check a cluster name: a letter, then up to 39 letters, digits, ``-`` or ``_``.

    Parameters
    ----------
    value : Any
        The proposed name.
    label : str
        How to name the value in an error, such as ``--name``.

    Returns
    -------
    str
        The name, unchanged.

    Raises
    ------
    SpecError
        If the name has another shape.
    """
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,39}", value):
        raise SpecError(
            f"{label} must be a letter followed by up to 39 letters, digits, - or _, not {value!r}."
        )
    return value


def _bad_accelerator(label: str, value: object) -> SpecError:
    return SpecError(
        f"{label} must be NAME, NAME:N or N with N a positive whole number, "
        f"such as A100:1, not {value!r}."
    )
