"""Configuration files: ``~/.jupyter_sky/config.yaml`` and ``<notebook dir>/jupyter_sky.yaml``.

Also the YAML reading shared with ``%%sky -f task.yaml`` (the task file's structure is checked in
taskfile.py, its values in checks.py with the same code as the flags).

Both files are optional YAML mappings of sections (``defaults:``, ``local:``). The file next to the
notebook is read last and wins per key. The sections and the checks of their values are
:mod:`jupyter_sky.config_sections`.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from jupyter_sky.config_sections import (  # noqa: F401 - Config, Defaults are imported from here
    CORE,
    Config,
    Defaults,
    _bad,
    sections,
)
from jupyter_sky.config_trust import check_project
from jupyter_sky.errors import ConfigError, SkyError

HOME_ENV = "JUPYTER_SKY_HOME"
USER_FILE = "config.yaml"
PROJECT_FILE = "jupyter_sky.yaml"


def sky_home() -> Path:
    """Return the jupyter-sky home directory without creating it.

    Returns
    -------
    Path
        ``$JUPYTER_SKY_HOME`` if set, else ``~/.jupyter_sky``.
    """
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".jupyter_sky"


def ensure_sky_home(home: Path | None = None) -> Path:
    """Create the home directory (mode 0700, it holds connection files) and return it.

    Parameters
    ----------
    home : Path, optional
        The directory to create; defaults to :func:`sky_home`.

    Returns
    -------
    Path
        The existing directory.

    Raises
    ------
    ConfigError
        If it cannot be created, or others may write to it (or it is not ours).
    """
    home = home or sky_home()
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = home.stat()
    except OSError as exc:
        raise ConfigError(
            f"The jupyter-sky home {home} cannot be created ({exc.strerror or exc}); "
            f"set {HOME_ENV} to a directory you can write."
        ) from None
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise ConfigError(
            f"The jupyter-sky home {home} can be written by other users, who could replace its "
            f"connection files; run chmod 700 {home} or set {HOME_ENV} to a private directory."
        )
    return home


def read_yaml(path: Path, label: str, error: type[SkyError]) -> Any:
    """Read one YAML file and turn read and syntax problems into a one-sentence ``error``.

    Parameters
    ----------
    path : Path
        The file to read; the caller decides what a missing file means.
    label : str
        How to name the file in messages, such as ``Task file task.yaml``.
    error : type of SkyError
        The exception class to raise.

    Returns
    -------
    Any
        The parsed document (None for an empty file).
    """
    import yaml  # here, not at module level: most cells never read YAML

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise error(
            f"{label} cannot be read ({reason}); check the path and its permissions."
        ) from None
    except UnicodeDecodeError as exc:
        raise error(
            f"{label} is not UTF-8 text (byte {exc.start + 1} is not); save it as UTF-8."
        ) from None
    try:
        # The pure-Python loader: its messages are clearer than libyaml's, and files are small.
        return yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise error(
            f"{label} is not valid YAML{where} ({problem}); fix the syntax there."
        ) from None


def _unknown_key(
    key: str, valid: Any, where: str, section: str = "", error: type[SkyError] = ConfigError
) -> SkyError:
    scope = f" in {section}" if section else ""
    prefix = f"{section}." if section else ""
    return error(
        f"Unknown key '{prefix}{key}' in {where}; valid keys{scope} are {', '.join(sorted(valid))}."
    )


def _check_section(name: str, cls: type, raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad(f"{name} in {where}", "a mapping of key: value lines", raw)
    if name == "prices":  # infra kinds are the keys: {local: {cpu: ...}}
        return {"by_infra": _check_prices(raw, where)}
    known = {f.name: f for f in fields(cls)}
    checked = {}
    for key, value in raw.items():
        if key not in known:
            raise _unknown_key(key, known, where, name)
        checked[key] = known[key].metadata["check"](value, f"{name}.{key} in {where}")
    return checked


def _check_prices(raw: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Prices of the infras that report live offerings (the others are in the catalog)."""
    from jupyter_sky.config_sections import pricing
    from jupyter_sky.infra.readiness import live_kinds

    valid = live_kinds()
    for key in raw:
        if key not in valid:
            raise _unknown_key(str(key), valid, where, "prices")
    return {str(k): pricing(v, f"prices.{k} in {where}") for k, v in raw.items()}


def _check_file(raw: Any, where: str) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad(f"Config file {where}", "a mapping of sections such as defaults:", raw)
    checked = {}
    known = sections()
    for name, section in raw.items():
        if name not in known:
            valid = ", ".join(sorted(known))
            raise ConfigError(f"Unknown section '{name}' in {where}; valid sections are {valid}.")
        checked[name] = _check_section(name, known[name], section, where)
    return checked


_cache: dict[Path, tuple[tuple[int, int], dict[str, dict[str, Any]]]] = {}


def _read_checked(path: Path) -> dict[str, dict[str, Any]] | None:
    """Return the checked content of one file, or None if it does not exist; cached by mtime."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # a symlink loop, a directory we may not enter
        raise ConfigError(
            f"Config file {path} cannot be read ({exc.strerror or exc}); "
            "check the path and its permissions."
        ) from None
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _cache.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    checked = _check_file(read_yaml(path, f"Config file {path}", ConfigError), str(path))
    _cache[path] = (stamp, checked)
    return checked


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(notebook_dir: Path | None = None) -> Config:
    """Read and merge the user and notebook configuration files.

    Parameters
    ----------
    notebook_dir : Path, optional
        The notebook's directory; its ``jupyter_sky.yaml`` overrides the user file per key.

    Returns
    -------
    Config
        Defaults for every missing key; ``sources`` names the files actually read.

    Raises
    ------
    ConfigError
        If a file is unreadable, not valid YAML, or holds an unknown or invalid key.
    """
    paths = [sky_home() / USER_FILE]
    if notebook_dir is not None:
        paths.append(Path(notebook_dir) / PROJECT_FILE)
    merged: dict[str, Any] = {}
    sources = []
    for path in paths:
        checked = _read_checked(path)
        if checked is not None:
            if path.name == PROJECT_FILE:
                check_project(checked, path, merged, paths[0])  # merged: the user's file
            merged = _merge(merged, checked)
            sources.append(path)
    core: dict[str, Any] = {}
    infras: dict[str, object] = {}
    for name, cls in sections().items():
        # null means "the default", which also lets a closer file undo a farther one.
        values = {k: v for k, v in merged.get(name, {}).items() if v is not None}
        if name in CORE:
            core[name] = cls(**values)
        elif values:  # an infra's section is kept only when a file sets it
            infras[name] = cls(**values)
    return Config(**core, infras=infras, sources=sources)
