"""Wheels of the notebook's own packages for a target Python, made on the notebook side.

Compute clusters often cannot reach PyPI, and the remote kernel must match the notebook's
versions anyway, so the wheels come from here, in this order:

1. the wheel cache (``$XDG_CACHE_HOME/jupyter_sky/wheels``; wheels hold no secrets);
2. the installed distribution itself, repacked (its files and dist-info, as pip installed
   them) when its wheel tags fit the target — no network at all;
3. ``pip download`` of the same version for the target's Python and platform.

jupyter_sky itself is packed from its source tree, versioned by a digest of that tree, so an
edited checkout reaches the remote on the next launch.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SKIP_DIST_INFO = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")


@dataclass(frozen=True)
class Target:
    """What a remote Python accepts, from :data:`jupyter_sky.transport.bootstrap.PROBE`."""

    markers: dict[str, str]
    tags: frozenset[str]
    python: str  # "3.11"
    abi: str  # "cp311"
    platforms: tuple[str, ...]


def target_from_probe(probe: dict[str, Any]) -> Target:
    """The :class:`Target` for a probe's facts (markers, abi, libc, machine)."""
    from packaging import tags

    version = tuple(int(x) for x in probe["markers"]["python_version"].split("."))
    platforms = _platforms(probe)
    # packaging treats an empty list as "this machine's platforms": name none that exists,
    # so only pure wheels fit a platform we cannot describe.
    named = platforms or ["unknown"]
    found = set()
    if probe["markers"]["implementation_name"] == "cpython":
        found |= {str(t) for t in tags.cpython_tags(version, [probe["abi"]], named)}
    interpreter = "cp" + "".join(map(str, version))
    found |= {str(t) for t in tags.compatible_tags(version, interpreter, named)}
    python = ".".join(map(str, version))
    return Target(probe["markers"], frozenset(found), python, probe["abi"], tuple(platforms))


def _platforms(probe: dict[str, Any]) -> list[str]:
    from packaging import tags

    machine = probe["markers"]["platform_machine"]
    if probe["markers"]["sys_platform"] == "darwin":
        major, minor = (int(x) for x in probe.get("mac", "11.0").split(".")[:2])
        return list(tags.mac_platforms((major, minor), machine))
    if probe["markers"]["sys_platform"] != "linux":
        return []
    out = [f"linux_{machine}"]
    glibc = probe.get("glibc") or ""
    if glibc.count(".") == 1:
        major, minor = (int(x) for x in glibc.split("."))
        out += [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 4, -1)]
        legacy = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
        out += [f"{name}_{machine}" for name, need in legacy.items() if minor >= need]
    return out


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    path = Path(base) / "jupyter_sky" / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- what to install ------------------------------------------------------------------
def pinned_closure(markers: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """jupyter_sky's dependencies and theirs, pinned to the versions installed here.

    Parameters
    ----------
    markers : dict
        The target's marker environment (``python_version``, ``sys_platform``, ...).

    Returns
    -------
    (dict, list)
        ``{distribution name: version}`` for everything installed here, and the requirement
        strings the target needs that this environment lacks (resolved remotely).
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    absent: list[str] = []
    todo: list[tuple[str, tuple[str, ...]]] = [(r, ()) for r in _sky_requires()]
    while todo:
        text, extras = todo.pop()
        req = Requirement(text)
        if req.marker and not any(
            req.marker.evaluate({**markers, "extra": e}) for e in ("", *extras)
        ):
            continue
        name = canonicalize_name(req.name)
        if name in pins:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            absent.append(f"{req.name}{req.specifier}")
            continue
        pins[name] = dist.version
        todo += [(r, tuple(req.extras)) for r in dist.requires or []]
    return pins, sorted(set(absent))


def _sky_requires() -> list[str]:
    try:
        requires = md.distribution("jupyter-sky").requires or []
    except md.PackageNotFoundError:  # running from a bare checkout
        requires = ["ipykernel>=6.29", "cloudpickle>=3.0", "xxhash>=3.0", "pyyaml>=6.0"]
    return [r for r in requires if "extra ==" not in r]


# ---- where each wheel comes from ------------------------------------------------------
def wheel_for(name: str, version: str, target: Target, cache: Path) -> Path | None:
    """A wheel of ``name==version`` the target accepts, or None (PyPI on the host decides)."""
    stem = f"{_escape_name(name)}-{_escape_version(version)}-"
    for path in sorted(cache.glob(stem + "*.whl")):
        if fits(path.name, target):
            return path
    repacked = repack(name, target, cache)
    return repacked or _pip_download(name, version, target, cache)


def fits(filename: str, target: Target) -> bool:
    """Does the wheel's filename carry a tag the target accepts?"""
    parts = filename[: -len(".whl")].split("-")
    py, abi, plat = parts[-3:]
    return any(
        f"{p}-{a}-{pl}" in target.tags
        for p in py.split(".")
        for a in abi.split(".")
        for pl in plat.split(".")
    )


def repack(name: str, target: Target, cache: Path) -> Path | None:
    """Zip an installed distribution back into its wheel, if its tags fit the target."""
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return None
    tag_lines = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    if not tag_lines or dist.files is None or not any(t in target.tags for t in tag_lines):
        return None
    root = Path(str(dist.locate_file("")))
    entries = []
    for rel in dist.files:
        text = str(rel)
        if text.startswith(("..", "/")) or "__pycache__" in text or text.endswith(".pyc"):
            continue  # scripts and data outside site-packages: pip regenerates the scripts
        if ".dist-info/" in text and text.rsplit("/", 1)[1] in SKIP_DIST_INFO:
            continue
        path = root / text
        if not path.is_file():
            return None  # damaged install: let pip download it instead
        entries.append((text, path))
    info_dir = next((t.split("/")[0] for t, _ in entries if ".dist-info/" in t), None)
    if info_dir is None:
        return None  # egg-info or editable install: nothing to repack
    tag = _compress_tags(tag_lines)
    out = cache / f"{_escape_name(name)}-{_escape_version(dist.version)}-{tag}.whl"
    write_wheel(out, entries, info_dir)
    return out


def _pip_download(name: str, version: str, target: Target, cache: Path) -> Path | None:
    if not target.platforms:
        return None
    before = set(cache.glob("*.whl"))
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    argv += ["--disable-pip-version-check", "-q", "--dest", str(cache)]
    argv += ["--python-version", target.python, "--abi", target.abi, "--implementation", "cp"]
    for plat in target.platforms:
        argv += ["--platform", plat]
    argv.append(f"{name}=={version}")
    try:
        subprocess.run(argv, capture_output=True, timeout=300, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    new = [p for p in set(cache.glob("*.whl")) - before if fits(p.name, target)]
    return new[0] if new else None


# ---- jupyter_sky itself ---------------------------------------------------------------
def package_digest(root: Path) -> str:
    """A digest of a package tree's files (the same code runs on the host, see PROBE)."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def sky_wheel(cache: Path) -> tuple[Path, str]:
    """A wheel of the jupyter_sky this notebook runs, and its tree digest."""
    import jupyter_sky

    root = Path(jupyter_sky.__file__).parent
    digest = package_digest(root)
    version = f"{jupyter_sky.__version__}+{digest}"
    out = cache / f"jupyter_sky-{version}-py3-none-any.whl"
    if out.is_file():
        return out, digest
    entries = [
        (f"jupyter_sky/{p.relative_to(root).as_posix()}", p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    info_dir = f"jupyter_sky-{version}.dist-info"
    requires = "".join(f"Requires-Dist: {r}\n" for r in _sky_requires())
    meta = f"Metadata-Version: 2.1\nName: jupyter-sky\nVersion: {version}\n{requires}"
    wheel = "Wheel-Version: 1.0\nGenerator: jupyter-sky\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    extra = [(f"{info_dir}/METADATA", meta.encode()), (f"{info_dir}/WHEEL", wheel.encode())]
    write_wheel(out, [*entries, *extra], info_dir)
    return out, digest


# ---- zip writing ----------------------------------------------------------------------
def write_wheel(out: Path, entries: Iterable[tuple[str, Path | bytes]], info_dir: str) -> None:
    """Write a wheel (with a fresh RECORD) atomically: concurrent launches share the cache."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    record = []
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for arcname, src in entries:
            data = src if isinstance(src, bytes) else src.read_bytes()
            zf.writestr(_zipinfo(arcname, src), data)
            b64 = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{arcname},sha256={b64},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        zf.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    os.replace(tmp, out)


def _zipinfo(arcname: str, src: Path | bytes) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
    mode = 0o644 if isinstance(src, bytes) else (src.stat().st_mode & 0o777) | 0o644
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _escape_name(name: str) -> str:
    # Wheel file names: runs of -_. become _ (a dash would split the fields).
    import re

    return re.sub(r"[-_.]+", "_", name).lower()


def _escape_version(version: str) -> str:
    return version.replace("-", "_")


def _compress_tags(lines: list[str]) -> str:
    parts: list[list[str]] = [[], [], []]
    for line in lines:
        for i, piece in enumerate(line.split("-")):
            if piece not in parts[i]:
                parts[i].append(piece)
    return "-".join(".".join(p) for p in parts)
