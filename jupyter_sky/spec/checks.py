"""Checks of ``%%sky`` flag values (also task-file values): each turns the text into its
value or raises one :class:`SpecError` sentence naming the flag and an example."""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable
from typing import Any

from jupyter_sky.catalog.names import check_cluster_name, parse_accelerator
from jupyter_sky.errors import SpecError
from jupyter_sky.infra import normalize_infra


def _bad(label: str, expected: str, value: Any) -> SpecError:
    return SpecError(f"{label} must be {expected}, not {value!r}.")


def _float(value: Any) -> float | None:
    try:
        number = None if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None


def _amount(value: Any, label: str, example: str) -> tuple[float, bool]:
    text = str(value).strip() if isinstance(value, (str, int, float)) else ""
    number = _float(text[:-1] if text.endswith("+") else text)
    if number is None or number <= 0 or isinstance(value, bool):
        raise _bad(label, f"a positive number such as {example}", value)
    return number, text.endswith("+")


def _number(expected: str, low: float = 0.0, strict: bool = True) -> Callable[[Any, str], float]:
    def check(value: Any, label: str) -> float:
        number = _float(value)
        if number is None or number < low or (strict and number == low):
            raise _bad(label, expected, value)
        return number

    return check


def _hours(value: Any, label: str) -> float:
    """``1.5`` or ``1.5h`` hours, ``90m`` minutes."""
    text = str(value).strip().lower()
    scale = 1 / 60 if text.endswith("m") else 1.0
    number = _float(text.rstrip("hm"))
    if number is None or number <= 0:
        raise _bad(label, "a positive run time such as 1.5, 90m or 2h", value)
    return number * scale


def _task_name(value: Any, label: str) -> str:
    if not isinstance(value, str) or not value.isidentifier():
        raise _bad(label, "a task name such as train (letters, digits and _)", value)
    return value


def _slurm_name(value: Any, label: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
        raise _bad(label, "a Slurm name such as gpu (letters, digits, _, ., -)", value)
    return value


def _count(value: Any, label: str) -> int:
    if not str(value).isdigit() or int(value) < 1:
        raise _bad(label, "a whole number of nodes of 1 or more, such as 2", value)
    return int(value)


def _pick(value: Any, label: str) -> int:
    if not str(value).isdigit() or int(value) < 1:
        raise _bad(label, "a row number of the placement table such as 2", value)
    return int(value)


def _instance_type(value: Any, label: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\S+", value):
        raise _bad(label, "an instance type such as p3.2xlarge", value)
    return value


def _names(value: str, label: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(","))
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise SpecError(
                f"{label} names {name!r}, which is not a Python variable name; "
                "use comma-separated names such as df,model."
            )
    return names


def env_pair(text: str, label: str) -> tuple[str, str]:
    key, sep, val = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise _bad(label, "KEY=VALUE with KEY made of letters, digits and _", text)
    return key, val


CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "time": _hours,
    "output_gb": _number("a number of GB of 0 or more, such as 5", strict=False),
    "pick": _pick,
    "num_nodes": lambda value, label: _count(value, label),
    "task": lambda value, label: _task_name(value, label),
    "after": _names,
    "infra": normalize_infra,
    "name": check_cluster_name,
    "gpus": parse_accelerator,
    "cpus": lambda value, label: _amount(value, label, "4 or 4+"),
    "memory": lambda value, label: _amount(value, label, "16 or 16+"),
    "instance_type": _instance_type,
    "max_price": _number("a price in dollars per hour of 0 or more, such as 2.5", strict=False),
    "push": _names,
    "pull": _names,
    "exclude": _names,
    "autostop": _number("a positive number of minutes such as 30"),
    "max_cost": _number("a positive number of dollars such as 5"),
}
