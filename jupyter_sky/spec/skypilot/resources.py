"""The ``resources:`` section of a SkyPilot task file, as its authors write it.

Values come back as ``{attribute: (value, label)}`` for :func:`jupyter_sky.spec.task.task_from_args`;
``label`` names the key in error messages. Accelerator sets (``{A100:1, V100:1}``), lists
(``[A100:8, H100:8]``) and dicts become resource alternatives (any_of, ordered), as SkyPilot does.
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

from jupyter_sky.catalog.names import canonical_name, parse_accelerator
from jupyter_sky.config import _unknown_key
from jupyter_sky.errors import SpecError

Fields = dict[str, tuple[Any, str]]

# resources key -> the parse_line attribute whose check applies to it
CHECKED_KEYS = {
    "accelerators": "gpus",
    "gpus": "gpus",
    "cpus": "cpus",
    "infra": "infra",
    "instance_type": "instance_type",
    "memory": "memory",
    "use_spot": "spot",
}
CARRIED_KEYS = ("ports", "disk_size", "disk_tier", "image_id", "network_tier")
LEGACY_KEYS = ("cloud", "region", "zone")
# keys accepted with a one-line note: what they do in SkyPilot has no meaning here yet
NOTED_KEYS = {
    "accelerator_args": "accelerator_args (TPU runtime options) are not applied yet",
    "labels": "labels are not applied to machines yet",
    "autostop": "resources.autostop is not read; use --autostop",
}
RECOVERY_KEYS = ("job_recovery", "spot_recovery")  # SkyPilot's recovery: --recover here
ALL_KEYS = (*CHECKED_KEYS, *CARRIED_KEYS, *LEGACY_KEYS, *NOTED_KEYS, *RECOVERY_KEYS, "any_of",
            "ordered")  # fmt: skip
DISK_TIERS = ("low", "medium", "high", "ultra", "best")
NETWORK_TIERS = ("standard", "best")


def bad(label: str, expected: str, value: Any) -> SpecError:
    return SpecError(f"{label} must be {expected}, not {reprlib.repr(value)}.")


def read_resources(raw: Any, where: str, notes: list[str]) -> Fields:
    """Check ``resources`` of ``where``; accelerator sets and any_of/ordered become alternatives."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad(f"resources in {where}", "a mapping such as {accelerators: A100:1}", raw)
    raw = dict(raw)
    modes = [key for key in ("any_of", "ordered") if key in raw]
    if len(modes) > 1:
        raise SpecError(f"resources in {where} has both any_of and ordered; keep one of them.")
    alternatives = _alternatives(raw.pop(modes[0]), where, modes[0], notes) if modes else []
    out = _plain(raw, where, notes)
    choices = out.pop("gpu_choices", None)
    if choices is not None:
        values, ordered = choices[0]
        picks = [{"gpus": (v, choices[1])} for v in values]
        alternatives = [{**p, **a} for a in alternatives or [{}] for p in picks]
        modes = modes or ["ordered" if ordered else "any_of"]
    if alternatives:
        out["alternatives"] = (alternatives, modes[0])
    return out


def _plain(raw: dict[str, Any], where: str, notes: list[str]) -> Fields:
    out: Fields = {}
    for key, value in raw.items():
        label = f"resources.{key} in {where}"
        if key not in ALL_KEYS:
            raise _unknown_key(key, ALL_KEYS, where, "resources", SpecError)
        if value is None:
            continue
        if key in NOTED_KEYS:
            notes.append(f"{NOTED_KEYS[key]} ({where}).")
        elif key in RECOVERY_KEYS:
            notes.append(f"{key}: a preempted cell is relaunched and rerun once, as with "
                         f"--recover; its strategy is not applied ({where}).")  # fmt: skip
            out["recover"] = (True, label)
        elif key in ("accelerators", "gpus"):
            out.update(_accelerators(value, label, notes))
        elif key == "use_spot":
            if not isinstance(value, bool):
                raise bad(label, "true or false", value)
            out["spot"] = (value, label)
        elif key in CARRIED_KEYS:
            out[key] = (CARRIED[key](value, label), label)
        elif key not in LEGACY_KEYS:
            out[CHECKED_KEYS[key]] = (value, label)
    legacy = _legacy_infra(raw, where)
    if legacy:
        if "infra" in out:
            raise SpecError(
                f"resources in {where} sets both infra and cloud/region/zone; keep infra."
            )
        out["infra"] = legacy
    _live_names(out)
    _tpu_host(out, notes)
    return out


def _tpu_host(out: Fields, notes: list[str]) -> None:
    """A TPU with an ``instance_type`` (a TPU node): that type is the TPU's host VM, which
    the catalog does not sell with the TPU; the TPU slice is planned, the host is noted."""
    gpus = str(out.get("gpus", ("",))[0]).lower()
    if gpus.startswith("tpu-") and "instance_type" in out:
        host, label = out.pop("instance_type")
        notes.append(f"{label}: {host} is the TPU host VM; the plan prices the TPU slice only.")


def _live_names(out: Fields) -> None:
    """On an infra that reports its own hardware (ssh, slurm, k8s: the registry's live
    kinds), a GPU name the catalog
    does not know (``MI300``) is kept as written: that infra's offerings decide."""
    from jupyter_sky.infra import canonical_kind
    from jupyter_sky.infra.readiness import live_kinds

    kind = canonical_kind(str(out.get("infra", ("",))[0]).split("/")[0])
    if kind not in live_kinds() or "gpus" not in out:
        return
    text, label = out["gpus"]
    name, _, count = str(text).partition(":")
    if name and not name.isdigit() and canonical_name(name) is None:
        if count and not count.isdigit():
            raise bad(label, "NAME:N with N a positive whole number", text)
        out["gpus"] = ((name.strip(), int(count or 1)), label)


def _legacy_infra(raw: dict[str, Any], where: str) -> tuple[str, str] | None:
    cloud, region, zone = (raw.get(key) for key in LEGACY_KEYS)
    if cloud is None and region is None and zone is None:
        return None
    parts = [str(cloud or "*"), str(region or "*")] + ([str(zone)] if zone else [])
    while parts and parts[-1] == "*":
        parts.pop()
    return "/".join(parts) or "*", f"resources.cloud/region/zone in {where}"


def _accelerators(value: Any, label: str, notes: list[str]) -> Fields:
    """One accelerator -> ``gpus``; a set, list or dict -> ``gpu_choices`` (texts, ordered)."""
    if isinstance(value, dict):
        texts = [str(k) if v is None else f"{k}:{v}" for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        texts = [str(item) for item in value]
    elif isinstance(value, str) and value.strip().startswith("{"):
        texts = [part.strip() for part in value.strip().strip("{}").split(",") if part.strip()]
    else:
        return {"gpus": (_fraction_checked(value, label), label)}
    if not texts:
        raise bad(label, "an accelerator such as A100:1 or a set of them", value)
    known = []
    for text in texts:
        name = text.rpartition(":")[0] if ":" in text else text
        if canonical_name(name) is None and not name.isdigit():
            notes.append(f"{label} names {name!r}, which no catalog knows; skipped.")
            continue
        known.append(_fraction_checked(text, label))
    if not known:
        parse_accelerator(texts[0], label)  # raises the unknown-name sentence
    if len(known) == 1:
        return {"gpus": (known[0], label)}
    return {"gpu_choices": ((known, isinstance(value, (list, tuple))), label)}


def _fraction_checked(value: Any, label: str) -> Any:
    match = re.fullmatch(r"\s*(\S+?)\s*:\s*(\d*\.\d+)\s*", str(value))
    if match and float(match.group(2)) != int(float(match.group(2))):
        name, share = match.group(1), float(match.group(2))
        raise SpecError(
            f"{label} asks for {share:g} of a {name} GPU; no infra here can share a GPU "
            f"between tasks yet: ask for {name}:1."
        )
    if match:  # "A100:1.0"
        return f"{match.group(1)}:{int(float(match.group(2)))}"
    return value


def _ports(value: Any, label: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        text = str(item).strip()
        if isinstance(item, bool) or not re.fullmatch(r"\d{1,5}(-\d{1,5})?", text):
            raise bad(label, "a port such as 8080, a range such as 8000-8010, or a list", value)
        out.append(text)
    return tuple(out)


def _disk_size(value: Any, label: str) -> int:
    text = str(value).strip().upper().removesuffix("GB").strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise bad(label, "a disk size in GB such as 256", value)
    return int(text)


def _choice(options: tuple[str, ...]) -> Any:
    def check(value: Any, label: str) -> str:
        if str(value).lower() not in options:
            raise bad(label, "one of " + ", ".join(options), value)
        return str(value).lower()

    return check


def _image_id(value: Any, label: str) -> str | tuple[tuple[str, str], ...]:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
        return tuple((str(k), v) for k, v in value.items())
    raise bad(label, "an image such as docker:ubuntu:22.04, or {region: image}", value)


CARRIED = {
    "ports": _ports,
    "disk_size": _disk_size,
    "disk_tier": _choice(DISK_TIERS),
    "network_tier": _choice(NETWORK_TIERS),
    "image_id": _image_id,
}


def _alternatives(raw: Any, where: str, mode: str, notes: list[str]) -> list[Fields]:
    label = f"resources.{mode} in {where}"
    if not isinstance(raw, list) or not raw or not all(isinstance(r, dict) for r in raw):
        raise bad(label, "a non-empty list of mappings such as - accelerators: A100:1", raw)
    if any("any_of" in item or "ordered" in item for item in raw):
        raise SpecError(f"{label} cannot nest any_of or ordered; list plain resources.")
    out = []
    for i, item in enumerate(raw):
        fields = _plain(dict(item), f"{where} ({mode}[{i}])", notes)
        if "gpu_choices" in fields:
            raise SpecError(f"{label} item {i} lists several accelerators; give each its own item.")
        out.append(fields)
    return out
