"""The sections of the configuration files and the checks of their values.

The core sections (``defaults:``, ``budget:``, ``optimizer:``, ``prices:``, ``trust:``) are here; every infra
brings its own (``local:``, ``ssh:``, ``slurm:``, ...) as the ``config_section`` of its class.
Each section is a plain dataclass whose fields carry a checker in their metadata. Reading and
merging the files is :mod:`jupyter_sky.config`.
"""

from __future__ import annotations

import ipaddress
import math
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from jupyter_sky.errors import ConfigError, SpecError

Check = Callable[[Any, str], Any]


def _bad(label: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{label} must be {expected}, not {reprlib.repr(value)}.")


def _minutes(value: Any, label: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise _bad(label, "a positive number of minutes such as 60", value)
    return float(value)


def _attempts(value: Any, label: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _bad(label, "a whole number of launch attempts of 1 or more, such as 10", value)
    return value


def _optional_minutes(value: Any, label: str) -> float | None:
    return None if value is None else _minutes(value, label)


def _boolean(value: Any, label: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(label, "true or false", value)
    return value


def _optional_text(value: Any, label: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise _bad(label, "a non-empty string or null", value)
    return value


def _infra(value: Any, label: str) -> str | None:
    if value is None:
        return None
    try:
        from jupyter_sky.infra import parse_infra

        return parse_infra(value, label).text
    except SpecError as exc:
        raise ConfigError(str(exc)) from None


def _mapping(value: Any, label: str) -> dict:
    if not isinstance(value, dict):
        raise _bad(label, "a mapping", value)
    return value


def _check(check: Check) -> dict[str, Check]:
    return {"check": check}


# ---- checkers the infras' sections share ----------------------------------------------------
def cidr(value: object, label: str) -> str | None:
    """An IPv4/IPv6 network that is not everyone (``/0``)."""
    if value is None:
        return None
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise _bad(label, "an address range such as 203.0.113.7/32", value) from None
    if net.prefixlen == 0:
        raise _bad(label, "a range narrower than /0 (SSH is never opened to everyone)", value)
    return str(net)


def gigabytes(value: object, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 8 <= value <= 16384:
        raise _bad(label, "a disk size in GB from 8 to 16384", value)
    return value


def seconds(value: object, label: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:  # type: ignore[arg-type]
        raise _bad(label, "a positive number of seconds such as 300", value)
    return float(value)  # type: ignore[arg-type]


def env_names(value: object, label: str) -> dict[str, str]:
    raw = _mapping(value, label)
    if not all(isinstance(k, str) and re.fullmatch(r"[A-Z_][A-Z0-9_]*", k) for k in raw):
        raise _bad(label, "a mapping of environment variable names to values", value)
    return {str(k): str(v) for k, v in raw.items()}


# The checkers an infra's own section uses (``field(metadata=checked(boolean))``).
boolean, optional_text, mapping, positive_minutes, bad = (
    _boolean, _optional_text, _mapping, _minutes, _bad
)


@dataclass(frozen=True)
class Defaults:
    """``defaults:`` — used when a ``%%sky`` line does not say otherwise."""

    infra: str | None = field(default=None, metadata=_check(_infra))
    # The remote kernel ends after this long with no notebook client attached.
    idle_minutes: float = field(default=60.0, metadata=_check(_minutes))
    autostop_minutes: float | None = field(default=None, metadata=_check(_optional_minutes))
    # A priced cluster launched without --autostop (and no autostop_minutes) stops after this.
    autostop_minutes_priced: float = field(default=60.0, metadata=_check(_minutes))
    confirm: bool = field(default=False, metadata=_check(_boolean))
    # Failover tries at most this many launches for one cell (zones and placements together).
    max_launch_attempts: int = field(default=10, metadata=_check(_attempts))


def _speeds(value: Any, label: str) -> dict:
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
        for k, v in value.items()
    )
    if not ok:
        raise _bad(label, "a mapping of accelerator name to a positive relative speed", value)
    return {str(k).lower(): float(v) for k, v in value.items()}


def _dollars(value: Any, label: str) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:
        raise _bad(label, "a positive number of dollars such as 50", value)
    return float(value)


@dataclass(frozen=True)
class BudgetConfig:
    """``budget:`` — dollars the clusters may spend over their UP time, idle or running cells
    (spend records of the state DB): per cluster, per calendar day (local time) and in total;
    unset means no limit."""

    per_cluster: float | None = field(default=None, metadata=_check(_dollars))
    per_day: float | None = field(default=None, metadata=_check(_dollars))
    total: float | None = field(default=None, metadata=_check(_dollars))


@dataclass(frozen=True)
class OptimizerConfig:
    """``optimizer:`` — relative speed per accelerator, for ``%sky plan --minimize time``."""

    speed: dict = field(default_factory=dict, metadata=_check(_speeds))


def pricing(value: Any, label: str) -> dict:
    """SkyPilot's ``kubernetes.pricing`` shape: ``{cpu: $/vCPU-h, memory: $/GB-h,
    accelerators: {NAME: $/h}}``, every price 0 or more."""

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0

    accs = value.get("accelerators", {}) if isinstance(value, dict) else None
    ok = (
        isinstance(value, dict)
        and set(value) <= {"cpu", "memory", "accelerators"}
        and all(number(value[k]) for k in ("cpu", "memory") if k in value)
        and isinstance(accs, dict)
        and all(number(v) for v in accs.values())
    )
    if not ok:
        raise _bad(
            label, "a mapping such as {cpu: 0.02, memory: 0.003, accelerators: {A100: 1.5}}", value
        )
    return value


@dataclass(frozen=True)
class PricesConfig:
    """``prices:`` — what live infras cost (shown as "$0 (unpriced)" when not set)."""

    by_infra: dict[str, dict] = field(default_factory=dict)  # checked by config._check_prices

    @property
    def infras(self) -> dict[str, dict]:
        """Infra kind -> its pricing, for the infras that have one."""
        return {k: v for k, v in self.by_infra.items() if v}


def _paths(value: Any, label: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(label, "a list of directories", value)
    return tuple(value)


@dataclass(frozen=True)
class TrustConfig:
    """``trust:`` — project directories whose ``jupyter_sky.yaml`` may choose interpreters,
    hosts and infras (see :mod:`jupyter_sky.config_trust`); read from the user's file only."""

    projects: tuple = field(default=(), metadata=_check(_paths))


#: The sections every installation has; each infra adds its own (see :func:`sections`).
CORE: dict[str, type] = {
    "budget": BudgetConfig,
    "defaults": Defaults,
    "optimizer": OptimizerConfig,
    "prices": PricesConfig,
    "trust": TrustConfig,
}

T = TypeVar("T")


def sections() -> dict[str, type]:
    """Every config section by name: the core ones and each registered infra's own."""
    from jupyter_sky.infra import classes  # the registry imports no infra SDK

    found = dict(CORE)
    for kind, cls in classes().items():
        if cls.config_section is not None:
            found[kind] = cls.config_section
            found.update(dict.fromkeys(cls.aliases, cls.config_section))  # kubernetes: = k8s:
    return found


@dataclass(frozen=True)
class Config:
    """The merged configuration; ``sources`` lists the files read, farthest first.

    The core sections are attributes; an infra's own section is ``config.of(SectionClass)``.
    """

    defaults: Defaults = field(default_factory=Defaults)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    prices: PricesConfig = field(default_factory=PricesConfig)
    infras: dict[str, object] = field(default_factory=dict)
    trust: TrustConfig = field(default_factory=TrustConfig)
    sources: list[Path] = field(default_factory=list)

    def of(self, section: type[T]) -> T:
        """An infra's section (its defaults when no file sets it)."""
        for value in self.infras.values():
            if isinstance(value, section):
                return value
        return section()
