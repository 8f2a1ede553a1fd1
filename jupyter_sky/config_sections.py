"""The sections of the configuration files (``defaults:``, ``local:``, ``ssh:``, ``slurm:``,
``gcp:``, ``optimizer:``, ``prices:``) and the checks of their values.

Each section is a plain dataclass whose fields carry a checker in their metadata; to add a
section, write its dataclass, list it in ``SECTIONS`` and add a field of that name to
``Config``. Reading and merging the files is :mod:`jupyter_sky.config`.
"""

from __future__ import annotations

import math
import reprlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_sky.catalog.names import normalize_infra
from jupyter_sky.errors import ConfigError, SpecError

Check = Callable[[Any, str], Any]


def _bad(label: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{label} must be {expected}, not {reprlib.repr(value)}.")


def _minutes(value: Any, label: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise _bad(label, "a positive number of minutes such as 60", value)
    return float(value)


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
        return normalize_infra(value, label)
    except SpecError as exc:
        raise ConfigError(str(exc)) from None


def _check(check: Check) -> dict[str, Check]:
    return {"check": check}


@dataclass(frozen=True)
class Defaults:
    """``defaults:`` — used when a ``%%sky`` line does not say otherwise."""

    infra: str | None = field(default=None, metadata=_check(_infra))
    # The remote kernel ends after this long with no notebook client attached.
    idle_minutes: float = field(default=60.0, metadata=_check(_minutes))
    autostop_minutes: float | None = field(default=None, metadata=_check(_optional_minutes))
    confirm: bool = field(default=False, metadata=_check(_boolean))


@dataclass(frozen=True)
class LocalConfig:
    """``local:`` — settings of the ``local`` infra."""

    # Interpreter that runs local remote kernels; null means the notebook's own interpreter.
    python: str = field(default_factory=lambda: sys.executable, metadata=_check(_optional_text))


def _mapping(value: Any, label: str) -> dict:
    if not isinstance(value, dict):
        raise _bad(label, "a mapping", value)
    return value


@dataclass(frozen=True)
class SshConfig:
    """``ssh:`` — hosts and pools for ``--infra ssh/<host-or-pool>`` (see infra/ssh.py)."""

    config_file: str | None = field(default=None, metadata=_check(_optional_text))
    known_hosts: str | None = field(default=None, metadata=_check(_optional_text))
    python: str | None = field(default=None, metadata=_check(_optional_text))
    bootstrap: bool = field(default=True, metadata=_check(_boolean))
    hosts: dict = field(default_factory=dict, metadata=_check(_mapping))
    pools: dict = field(default_factory=dict, metadata=_check(_mapping))


def _duration(value: Any, label: str) -> float | None:
    """Minutes from ``90``, ``90m``, ``1.5h`` or Slurm's ``[D-]HH:MM:SS``; None stays None."""
    if value is None:
        return None
    from jupyter_sky.infra.slurm.records import parse_duration

    text = str(value).strip().lower()
    seconds = parse_duration(text)
    if seconds is not None and seconds > 0:
        return seconds / 60
    scale = 60.0 if text.endswith("h") else 1.0
    try:
        minutes = float(text.rstrip("hm")) * scale
    except ValueError:
        minutes = 0.0
    if isinstance(value, bool) or not minutes > 0:
        raise _bad(label, "a time limit such as 90 (minutes), 2h or 1-00:00:00", value)
    return minutes


_CLUSTER_KEYS = ("login", "partition", "account", "qos", "time")


def _clusters(value: Any, label: str) -> dict:
    """``{name: {login: alias, partition, account, qos, time}}``, each key optional."""
    out: dict[str, dict[str, Any]] = {}
    for name, entry in _mapping(value, label).items():
        where = f"{label} (cluster '{name}')"
        entry = _mapping(entry or {}, where)
        if not set(entry) <= set(_CLUSTER_KEYS):
            raise _bad(where, f"a mapping of {', '.join(_CLUSTER_KEYS)}", entry)
        checked: dict[str, Any] = {k: str(v) for k, v in entry.items() if k != "time" and v}
        checked["time"] = _duration(entry.get("time"), f"{where} time")
        out[str(name)] = checked
    return out


@dataclass(frozen=True)
class SlurmConfig:
    """``slurm:`` — Slurm clusters by name and the defaults of their allocations."""

    # Cluster for a bare ``--infra slurm``.
    cluster: str | None = field(default=None, metadata=_check(_optional_text))
    # Default ``--time`` of an allocation, in minutes, when the cell gives no --time.
    time: float | None = field(default=None, metadata=_check(_duration))
    # name -> {login: ssh alias (default: the name), partition, account, qos, time}.
    clusters: dict = field(default_factory=dict, metadata=_check(_clusters))

    def cluster_entry(self, name: str) -> dict[str, Any]:
        """The named cluster's entry (empty when it has none: the name is its login alias)."""
        return dict(self.clusters.get(name) or {})


@dataclass(frozen=True)
class GcpConfig:
    """``gcp:`` — the Cloud Billing Catalog API key used by ``jupyter-sky catalog refresh``."""

    api_key: str | None = field(default=None, metadata=_check(_optional_text))


def _speeds(value: Any, label: str) -> dict:
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
        for k, v in value.items()
    )
    if not ok:
        raise _bad(label, "a mapping of accelerator name to a positive relative speed", value)
    return {str(k).lower(): float(v) for k, v in value.items()}


@dataclass(frozen=True)
class OptimizerConfig:
    """``optimizer:`` — relative speed per accelerator, for ``%sky plan --minimize time``."""

    speed: dict = field(default_factory=dict, metadata=_check(_speeds))


def _pricing(value: Any, label: str) -> dict:
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

    local: dict = field(default_factory=dict, metadata=_check(_pricing))
    ssh: dict = field(default_factory=dict, metadata=_check(_pricing))
    slurm: dict = field(default_factory=dict, metadata=_check(_pricing))
    k8s: dict = field(default_factory=dict, metadata=_check(_pricing))

    @property
    def infras(self) -> dict[str, dict]:
        """Infra kind -> its pricing, for the infras that have one."""
        return {k: v for k, v in vars(self).items() if v}


SECTIONS: dict[str, type] = {
    "defaults": Defaults,
    "local": LocalConfig,
    "ssh": SshConfig,
    "slurm": SlurmConfig,
    "gcp": GcpConfig,
    "optimizer": OptimizerConfig,
    "prices": PricesConfig,
}


@dataclass(frozen=True)
class Config:
    """The merged configuration; ``sources`` lists the files read, farthest first."""

    defaults: Defaults = field(default_factory=Defaults)
    local: LocalConfig = field(default_factory=LocalConfig)
    ssh: SshConfig = field(default_factory=SshConfig)
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    gcp: GcpConfig = field(default_factory=GcpConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    prices: PricesConfig = field(default_factory=PricesConfig)
    sources: list[Path] = field(default_factory=list)
