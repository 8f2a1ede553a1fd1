"""``slurm:`` — Slurm clusters by name and the defaults of their allocations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jupyter_sky.config_sections import bad, mapping, optional_text
from jupyter_sky.infra.base import checked
from jupyter_sky.infra.slurm.records import parse_duration


def _duration(value: Any, label: str) -> float | None:
    """Minutes from ``90``, ``90m``, ``1.5h`` or Slurm's ``[D-]HH:MM:SS``; None stays None."""
    if value is None:
        return None
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
        raise bad(label, "a time limit such as 90 (minutes), 2h or 1-00:00:00", value)
    return minutes


_CLUSTER_KEYS = ("login", "partition", "account", "qos", "time")


def _clusters(value: Any, label: str) -> dict[str, Any]:
    """``{name: {login: alias, partition, account, qos, time}}``, each key optional."""
    out: dict[str, dict[str, Any]] = {}
    for name, entry in mapping(value, label).items():
        where = f"{label} (cluster '{name}')"
        entry = mapping(entry or {}, where)
        if not set(entry) <= set(_CLUSTER_KEYS):
            raise bad(where, f"a mapping of {', '.join(_CLUSTER_KEYS)}", entry)
        values: dict[str, Any] = {k: str(v) for k, v in entry.items() if k != "time" and v}
        values["time"] = _duration(entry.get("time"), f"{where} time")
        out[str(name)] = values
    return out


@dataclass(frozen=True)
class SlurmConfig:
    """``slurm:`` — Slurm clusters by name and the defaults of their allocations."""

    # Cluster for a bare ``--infra slurm``.
    cluster: str | None = field(default=None, metadata=checked(optional_text))
    # Default ``--time`` of an allocation, in minutes, when the cell gives no --time.
    time: float | None = field(default=None, metadata=checked(_duration))
    # name -> {login: ssh alias (default: the name), partition, account, qos, time}.
    clusters: dict[str, Any] = field(default_factory=dict, metadata=checked(_clusters))

    def cluster_entry(self, name: str) -> dict[str, Any]:
        """The named cluster's entry (empty when it has none: the name is its login alias)."""
        return dict(self.clusters.get(name) or {})
