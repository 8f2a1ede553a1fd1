"""Top-level fields of a SkyPilot task: text sections, envs and secrets, file mounts."""

from __future__ import annotations

import re
from typing import Any

from jupyter_sky.spec.skypilot.resources import bad

BUCKET = re.compile(r"^[a-z0-9]+://", re.I)


def text_of(value: Any, label: str, expected: str) -> str:
    if not isinstance(value, str):
        raise bad(label, expected, value)
    return value


def envs_of(raw: Any, section: str, where: str) -> dict[str, str | None]:
    """``NAME: value`` pairs; a null value means "take it from the environment or --env"."""
    label = f"{section} in {where}"
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad(label, "a mapping of NAME: value", raw)
    out: dict[str, str | None] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise bad(f"Each name in {label}", "letters, digits and _", key)
        if isinstance(value, bool):
            value = str(value).lower()
        elif value is not None and not isinstance(value, (str, int, float)):
            raise bad(f"{section}.{key} in {where}", "a string or a number", value)
        out[key] = None if value is None else str(value)
    return out


def file_mounts_of(raw: Any, label: str, refusals: list[str]) -> dict[str, str]:
    """Remote path -> local path; bucket mounts are refused (before a launch) in one sentence."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad(label, "a mapping of remote path: local path", raw)
    out: dict[str, str] = {}
    buckets = []
    for remote, local in raw.items():
        if not isinstance(remote, str) or not remote.strip():
            raise bad(f"Each target in {label}", "a remote path", remote)
        if isinstance(local, dict) or (isinstance(local, str) and BUCKET.match(local)):
            buckets.append(remote)
        elif isinstance(local, str) and local.strip():
            out[remote] = local
        else:
            raise bad(f"{remote} in {label}", "a local path or a bucket", local)
    if buckets:
        refusals.append(
            f"{label} mounts buckets at {', '.join(buckets)}; bucket mounts are not available "
            "yet: copy the data in setup (aws s3 sync, gsutil rsync)."
        )
    return out
