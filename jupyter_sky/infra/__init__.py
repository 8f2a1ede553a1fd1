"""Infras by name, in a registry (fsspec's pattern): each infra class describes itself (see
:class:`jupyter_sky.infra.base.Infra`), and the flag table, the config reader, ``%sky check``
and the planner's inputs are derived from those descriptions.

Importing this module imports no infra. A built-in infra's module is imported when its
description is first needed; that import is cheap, because an infra imports its SDK (boto3,
kubernetes, ...) only inside the functions that use it. A missing SDK then turns into an
install hint. Third parties (and tests) add infras with :func:`register` or the
``jupyter_sky.infras`` entry-point group.
"""

from __future__ import annotations

import importlib
import re
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from jupyter_sky.errors import InfraError, SpecError

if TYPE_CHECKING:
    from jupyter_sky.infra.base import AnyInfra, InfraFlag, InfraPath

#: The built-in infras, "module:Class" each: adding one is one line here.
BUILTIN: tuple[str, ...] = (
    "jupyter_sky.infra.local:LocalInfra",
    "jupyter_sky.infra.ssh:SshInfra",
    "jupyter_sky.infra.slurm:SlurmInfra",
    "jupyter_sky.infra.aws:AwsInfra",
    "jupyter_sky.infra.gcp:GcpInfra",
    "jupyter_sky.infra.kubernetes:KubernetesInfra",
    "jupyter_sky.infra.azure:AzureInfra",
)

#: Kinds the catalog prices whose launcher is not in this version (shown as "no launcher yet").
PLANNED: tuple[str, ...] = ()
#: Planned kinds that will report live offerings rather than be priced from the catalog.
PLANNED_LIVE: frozenset[str] = frozenset()

#: A priced cloud's path: /region[/zone]; ``*`` is any region.
_CLOUD_PATH = r"(/([a-z0-9-]+|\*)(/[a-z0-9-]+)?)?"

_classes: dict[str, type[AnyInfra]] = {}
_loaded: dict[str, AnyInfra] = {}
_ready = False
_version = 0  # bumped on every change, so derived tables (the flag parser) are rebuilt


def version() -> int:
    """A number that changes whenever an infra is registered or unregistered."""
    return _version


def register(infra: type[AnyInfra] | str) -> None:
    """Add an infra class (or ``"module:Class"``); it replaces one of the same kind."""
    global _version
    cls = _import(infra) if isinstance(infra, str) else infra
    _ensure()
    _classes[cls.kind] = cls
    _loaded.pop(cls.kind, None)
    _version += 1


def unregister(kind: str) -> None:
    """Forget an infra (tests that register their own)."""
    global _version
    _classes.pop(kind, None)
    _loaded.pop(kind, None)
    _version += 1


def _import(target: str) -> type[AnyInfra]:
    module_name, _, class_name = target.partition(":")
    cls: type[AnyInfra] = getattr(importlib.import_module(module_name), class_name)
    return cls


def _ensure() -> None:
    global _ready
    if _ready:
        return
    _ready = True
    for target in BUILTIN:
        cls = _import(target)
        _classes.setdefault(cls.kind, cls)
    for ep in entry_points(group="jupyter_sky.infras"):
        try:
            cls = _import(ep.value)
        except Exception:  # noqa: BLE001 - a broken plug-in must not break the built-ins
            continue
        _classes.setdefault(cls.kind, cls)


def classes() -> dict[str, type[AnyInfra]]:
    """Every infra class that can run cells here, by kind."""
    _ensure()
    return dict(_classes)


def planned() -> tuple[str, ...]:
    """Kinds priced or named but without a launcher in this version (shown as such)."""
    return tuple(kind for kind in PLANNED if kind not in classes())


def kinds() -> list[str]:
    """Every infra kind that can run cells here (built in, registered, entry points)."""
    return sorted(classes())


def infra_class(kind: str) -> type[AnyInfra]:
    """The class of ``kind``, or one sentence saying there is none."""
    found = classes().get(canonical_kind(kind))
    if found is None:
        if kind in PLANNED:
            raise InfraError(
                f"The {kind} infra cannot run cells yet in this version of jupyter-sky; "
                "use --infra local."
            )
        raise InfraError(f"Unknown infra '{kind}'; known infras: {', '.join(kinds())}.")
    return found


def canonical_kind(kind: str) -> str:
    """The kind an alias stands for (``kubernetes`` -> ``k8s``)."""
    low = kind.lower()
    for cls in classes().values():
        if low == cls.kind or low in cls.aliases:
            return cls.kind
    return {"kubernetes": "k8s"}.get(low, low)


def get_infra(kind: str) -> AnyInfra:
    """The infra object for ``kind`` (``local``, ``ssh``, ...), created on first use."""
    kind = canonical_kind(kind)
    if kind in _loaded:
        return _loaded[kind]
    cls = infra_class(kind)
    problem = missing_sdk(cls)
    if problem:
        raise InfraError(problem)
    infra = cls()
    _loaded[kind] = infra
    return infra


def missing_sdk(cls: type[AnyInfra]) -> str:
    """One sentence with the install hint when the infra's extra is not installed, else ""."""
    from importlib.util import find_spec

    for module in cls.sdk_modules:
        if find_spec(module) is None:
            hint = f"pip install 'jupyter-sky[{cls.extra}]'" if cls.extra else "reinstall jupyter-sky"
            return f"The {cls.kind} infra needs {module}, which is not installed; run {hint}."
    return ""


def split_infra(value: str) -> tuple[str, str]:
    """``'slurm/lab/gpu'`` -> ``('slurm', 'lab/gpu')``."""
    kind, _, rest = value.partition("/")
    return kind, rest


def parse_infra(value: object, label: str) -> InfraPath:
    """Check an ``--infra`` value against its infra's own path rule.

    Parameters
    ----------
    value : object
        Such as ``aws/us-east-1``, ``k8s/my-context`` or ``slurm/hpc/gpu``.
    label : str
        How to name the value in an error, such as ``--infra``.

    Returns
    -------
    InfraPath
        Its ``text`` is the normalised value (kind in lower case, aliases resolved).

    Raises
    ------
    SpecError
        If the kind is unknown or the rest does not fit the kind's shape.
    """
    from jupyter_sky.catalog.names import catalog_clouds
    from jupyter_sky.infra.base import InfraPath

    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{label} must be one of {shapes()}, not {value!r}.")
    kind, rest = split_infra(value.strip())
    kind = canonical_kind(kind)
    found = classes().get(kind)
    if found is None:
        if kind == "k8s":  # planned, not launchable yet: only the shape is checked
            return InfraPath(f"k8s/{rest}" if rest else kind)
        if kind == "*" or kind in catalog_clouds():  # priced only: planned, never launched
            if not re.fullmatch(_CLOUD_PATH, f"/{rest.lower()}" if rest else ""):
                raise SpecError(
                    f"{label} must be {kind}, {kind}/<region> or {kind}/<region>/<zone>, not {value!r}."
                )
            return InfraPath(f"{kind}/{rest.lower()}" if rest else kind)
        valid = ", ".join(sorted({*kinds(), *PLANNED}))
        raise SpecError(
            f"{label} names unknown infra {kind!r}; valid kinds are {valid} and the catalog's "
            "clouds (%sky gpus lists them)."
        )
    try:
        return found.parse_path(rest)
    except SpecError as exc:
        raise SpecError(f"{label} {exc}") from None


def shapes() -> str:
    """Every infra's ``--infra`` shape, for messages."""
    return ", ".join(cls.path_shape or cls.kind for _, cls in sorted(classes().items()))


def normalize_infra(value: object, label: str) -> str:
    """The normalised ``--infra`` text (see :func:`parse_infra`)."""
    return parse_infra(value, label).text


def infra_flags() -> list[tuple[type[AnyInfra], InfraFlag]]:
    """Every infra's own ``%%sky`` flags, with the infra they belong to."""
    return [(cls, flag) for _, cls in sorted(classes().items()) for flag in cls.flags]
