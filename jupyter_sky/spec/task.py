"""The ``%%sky`` line: flag table, parsing and the resulting Task and Resources.

Values are checked (:mod:`jupyter_sky.spec.checks`), so a typo fails with one sentence before any
machine starts.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_sky.errors import SpecError
from jupyter_sky.spec.checks import CHECKS, env_pair
from jupyter_sky.spec.flags import (  # noqa: F401 - re-exported
    FLAGS,
    RESERVED,
    all_flag_names,
    apply_flags,
    examples,
    parser,
    tidy_words,
)

if TYPE_CHECKING:
    from jupyter_sky.config import Defaults

F = TypeVar("F", bound=Callable[..., Any])


def parse_line(line: str) -> argparse.Namespace:
    """Parse and check a ``%%sky`` line (see :func:`_parse_line`); a copy, cached by text.

    The same line is parsed again and again when a cell is re-run; caching saves ~0.3 ms of
    every warm cell. Errors are not cached.
    """
    from jupyter_sky.infra import version

    parsed = _parse_cached(line, version())
    return argparse.Namespace(**{**vars(parsed), "infra_options": dict(parsed.infra_options)})


@functools.lru_cache(maxsize=256)
def _parse_cached(line: str, registry_version: int) -> argparse.Namespace:
    return _parse_line(line, registry_version)


def _parse_line(line: str, registry_version: int = -1) -> argparse.Namespace:
    """Parse and check a ``%%sky`` line.

    Parameters
    ----------
    line : str
        Everything after ``%%sky``, split like a shell command.

    Returns
    -------
    argparse.Namespace
        Checked values: ``infra`` (normalised str), ``name``, ``gpus`` ((name or None, count)),
        ``cpus`` / ``memory`` ((number, at_least)), ``spot``, ``instance_type``, ``max_price``,
        ``push`` / ``pull`` (tuples or None), ``no_pull``, ``exclude`` (tuple), ``env`` (dict),
        ``workdir`` and ``file`` (strings, checked by :func:`task_from_args`), ``autostop``,
        and ``infra_options`` (the values of infras' own flags, by ``dest``).

    Raises
    ------
    SpecError
        One sentence for an unknown, reserved, misused or malformed flag.
    """
    try:
        words = shlex.split(line)
    except ValueError:
        raise SpecError("The %%sky line has an unclosed quote; close it or remove it.") from None
    try:
        from jupyter_sky.infra import version

        ns, extra = parser(version()).parse_known_args(tidy_words(words))
    except argparse.ArgumentError as exc:
        raise _argparse_error(exc) from None
    if extra:
        raise _unknown(extra[0])
    for flag, sentence in RESERVED.items():
        if getattr(ns, flag[2:].replace("-", "_")) not in (None, False):
            raise SpecError(sentence)
    _check_flags(ns)
    return ns


def _argparse_error(exc: argparse.ArgumentError) -> SpecError:
    flag = (exc.argument_name or "").split("/")[-1]
    known = examples()
    if "expected one argument" in exc.message and flag in known:
        return SpecError(f"{flag} needs a value, such as {flag} {known[flag]}.")
    if "ignored explicit argument" in exc.message:
        return SpecError(f"{flag} takes no value; write {flag} alone.")
    return SpecError(f"The %%sky line is invalid ({exc}); run %%sky? to see the flags.")


def _unknown(word: str) -> SpecError:
    if not word.startswith("-"):
        return SpecError(
            f"Unexpected word {word!r} on the %%sky line; every value needs a flag before it, "
            "such as --gpus A100:1."
        )
    flag = word.split("=", 1)[0]
    close = difflib.get_close_matches(flag, all_flag_names(), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "run %%sky? to see the flags."
    return SpecError(f"Unknown flag {flag}; {hint}")


def _check_flags(ns: argparse.Namespace) -> None:
    for dest, check in CHECKS.items():
        if getattr(ns, dest) is not None:
            setattr(ns, dest, check(getattr(ns, dest), "--" + dest.replace("_", "-")))
    if ns.pull is not None and ns.no_pull:
        raise SpecError("--pull and --no-pull contradict each other; keep one of them.")
    ns.infra_options = _infra_options(ns)
    ns.exclude = ns.exclude or ()
    ns.env = dict(env_pair(text, "--env") for text in ns.env or [])


def _infra_options(ns: argparse.Namespace) -> dict[str, str]:
    """Take the infras' own flags off the namespace, checked, as ``{dest: value}``."""
    from jupyter_sky.infra import infra_flags

    options: dict[str, str] = {}
    for flag in {f.flag: f for _, f in infra_flags()}.values():  # shared flags checked once
        value = getattr(ns, flag.dest, None)
        if hasattr(ns, flag.dest):
            delattr(ns, flag.dest)
        if value is not None:
            options[flag.dest] = flag.check(value, flag.flag) if flag.check else value
    return options


@dataclass(frozen=True)
class Resources:
    """What a cell needs; None or 0 means "no requirement"."""

    infra: str | None = None
    accelerator: str | None = None  # canonical name; None with a count means any type
    accelerator_count: int = 0
    cpus: float | None = None
    cpus_plus: bool = False
    memory_gb: float | None = None
    memory_plus: bool = False
    spot: bool = False
    instance_type: str | None = None
    max_price: float | None = None
    num_nodes: int = 1  # each row's price counts every node
    ports: tuple[str, ...] = ()  # ports, disk and image: carried to infras that have them
    disk_size: int | None = None
    disk_tier: str | None = None
    image_id: str | tuple[tuple[str, str], ...] | None = None  # one image, or region -> image
    network_tier: str | None = None

    def describe(self) -> str:
        """Return a short summary such as ``A100:1, 4+ CPUs, 16+ GB, spot`` (infra not included)."""
        parts = []
        if self.accelerator_count:
            parts.append(f"{self.accelerator or 'any accelerator'}:{self.accelerator_count}")
        if self.cpus is not None:
            parts.append(f"{self.cpus:g}{'+' if self.cpus_plus else ''} CPUs")
        if self.memory_gb is not None:
            parts.append(f"{self.memory_gb:g}{'+' if self.memory_plus else ''} GB")
        if self.instance_type:
            parts.append(self.instance_type)
        if self.spot:
            parts.append("spot")
        if self.max_price is not None:
            parts.append(f"at most ${self.max_price:g}/h")
        if self.num_nodes > 1:
            parts.append(f"{self.num_nodes} nodes")
        return ", ".join(parts) or "any resources"


@dataclass(frozen=True)
class Task:
    """One ``%%sky`` cell: where it runs, what moves, and the cell source as ``run``."""

    resources: Resources
    cluster: str | None = None
    push: tuple[str, ...] | None = None
    pull: tuple[str, ...] | None = None
    no_pull: bool = False
    exclude: tuple[str, ...] = ()
    envs: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    autostop_minutes: float | None = None
    max_cost: float | None = None  # --max-cost: dollars this cell may spend
    recover: bool = False  # --recover: relaunch a preempted cluster and rerun the cell once
    setup: str | None = None
    run: str = ""
    hours: float | None = None  # runtime estimate for the plan (--time)
    output_gb: float = 0.0  # what the cell brings home, priced as egress
    confirm: bool = False
    pick: int | None = None
    replan: bool = False
    alternatives: tuple[Resources, ...] = ()  # task.yaml resources.any_of / ordered
    ordered: bool = False  # alternatives in order of preference (ordered), else cheapest
    infra_options: dict[str, str] = field(default_factory=dict)  # an infra's own flags, by dest
    num_nodes: int = 1  # nodes of the cluster (infras that span nodes); the kernel runs on the first
    detach: bool = False  # --detach: a batch job that records its output (infras that run detached)
    task_name: str | None = None  # --task: this cell is a task of the notebook's pipeline
    after: tuple[str, ...] = ()
    file_run: str | None = None  # -f file's run, run as shell when the cell is empty
    notes: tuple[str, ...] = ()  # one line each: task-file fields accepted but not applied
    refusals: tuple[str, ...] = ()  # why this task file cannot launch (it can still be planned)
    file_mounts: dict[str, str] = field(default_factory=dict)  # remote -> local path
    secret_names: tuple[str, ...] = ()  # envs never stored or printed


def task_from_args(
    args: argparse.Namespace,
    cell: str,
    cwd: Path,
    defaults: Defaults | None = None,
    planning: bool = False,
) -> Task:
    """Build the Task for a cell from :func:`parse_line` output, ``-f`` YAML and config defaults.

    Parameters
    ----------
    args : argparse.Namespace
        The result of :func:`parse_line`.
    cell : str
        The cell body, which becomes ``Task.run``.
    cwd : Path
        The notebook's directory; relative ``-f`` and ``--workdir`` paths start here.
    defaults : config.Defaults, optional
        Supplies ``infra`` and ``autostop_minutes`` when neither flags nor YAML set them.

    planning : bool
        Only planning (``%sky plan``): local paths, missing envs and refused fields of a task
        file are not checked.

    Returns
    -------
    Task
        The merged task; flags win over the YAML file, which wins over ``defaults``. The YAML
        ``name`` (a SkyPilot task name) is ignored: only ``--name`` names the cluster.

    Raises
    ------
    SpecError
        For a missing or invalid task file, or a workdir that does not exist.
    """
    from jupyter_sky.spec.filetask import file_parts, read_file_fields

    cwd = Path(cwd)
    raw = read_file_fields(args.file, cwd, getattr(args, "document", None)) if args.file else {}
    alternatives, mode = raw.pop("alternatives", ([], ""))
    file = _checked(raw)
    parts = file_parts(file, args, cell, cwd, planning)
    given = {key: value for key, value in vars(args).items() if value is not None}
    merged = {**file, **given, "spot": bool(args.spot or file.get("spot"))}
    workdir_label = "--workdir" if args.workdir is not None else raw.get("workdir", ("", ""))[1]
    autostop = args.autostop
    if autostop is None and defaults is not None:
        autostop = defaults.autostop_minutes
    return Task(
        resources=_resources(merged, defaults),
        cluster=args.name,
        push=args.push,
        pull=args.pull,
        no_pull=args.no_pull,
        exclude=args.exclude,
        envs=parts.envs,
        workdir=_workdir(merged.get("workdir"), cwd, workdir_label, planning),
        autostop_minutes=autostop,
        max_cost=getattr(args, "max_cost", None),
        recover=bool(getattr(args, "recover", False) or file.get("recover")),
        setup=file.get("setup"),
        run=cell,
        hours=args.time,
        output_gb=args.output_gb or 0.0,
        confirm=bool(args.confirm or (defaults is not None and defaults.confirm)),
        pick=args.pick,
        replan=bool(args.replan),
        alternatives=tuple(
            _resources({**merged, **_checked(alt)}, defaults) for alt in alternatives
        ),
        ordered=mode == "ordered",
        infra_options=dict(getattr(args, "infra_options", {})),
        num_nodes=merged.get("num_nodes") or 1,
        detach=bool(args.detach),
        task_name=args.task,
        after=args.after or (),
        file_run=parts.file_run,
        notes=parts.notes,
        refusals=parts.refusals,
        file_mounts=parts.file_mounts,
        secret_names=parts.secret_names,
    )


def _checked(raw: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    """Task-file values through the same checks as the flags (``{attr: (value, label)}``)."""
    return {
        key: CHECKS[key](v, label) if key in CHECKS and not isinstance(v, tuple) else v
        for key, (v, label) in raw.items()
    }


def _placed_infra(
    infra: str | None, options: dict[str, str], detach: bool
) -> str | None:
    """Let the infra fold its own flags into the path (``--partition`` into
    ``slurm/<cluster>/<partition>``), and refuse flags the infra has no use for. (What an
    infra cannot honour, such as ``--num-nodes``, the planner explains per row.)"""
    from jupyter_sky.infra import classes, infra_flags, parse_infra
    from jupyter_sky.infra.base import RunsDetached

    kind = (infra or "").partition("/")[0]
    taken = {f.dest for o, f in infra_flags() if o.kind == kind}
    owners: dict[str, list[str]] = {}
    for owner, flag in infra_flags():
        if flag.dest in options and flag.dest not in taken:
            owners.setdefault(flag.flag, []).append(owner.path_shape or owner.kind)
    for name, shapes in owners.items():
        raise SpecError(f"{name} goes with --infra {' or --infra '.join(shapes)}.")
    cls = classes().get(kind)
    if detach and (cls is None or not issubclass(cls, RunsDetached)):
        runs = [c.kind for c in classes().values() if issubclass(c, RunsDetached)]
        where = f"--infra {kind}" if kind else "no --infra"
        raise SpecError(f"--detach does not work with {where}; it needs --infra {' or '.join(runs)}.")
    if cls is None or not infra:
        return infra
    return cls.fold_options(parse_infra(infra, "--infra"), options).text


def _resources(merged: dict[str, Any], defaults: Defaults | None) -> Resources:
    gpus = merged.get("gpus") or (None, 0)
    cpus = merged.get("cpus") or (None, False)
    memory = merged.get("memory") or (None, False)
    infra = merged.get("infra") or (defaults.infra if defaults else None)
    return Resources(
        infra=_placed_infra(
            infra,
            merged.get("infra_options") or {},
            bool(merged.get("detach")),
        ),
        accelerator=gpus[0],
        accelerator_count=gpus[1],
        cpus=cpus[0],
        cpus_plus=cpus[1],
        memory_gb=memory[0],
        memory_plus=memory[1],
        spot=merged["spot"],
        instance_type=merged.get("instance_type"),
        max_price=merged.get("max_price"),
        num_nodes=merged.get("num_nodes") or 1,
        ports=merged.get("ports") or (),
        disk_size=merged.get("disk_size"),
        disk_tier=merged.get("disk_tier"),
        image_id=merged.get("image_id"),
        network_tier=merged.get("network_tier"),
    )


def _workdir(value: str | None, cwd: Path, label: str, planning: bool = False) -> str | None:
    if value is None:
        return None
    path = (cwd / Path(value).expanduser()).resolve()
    if not path.is_dir() and not planning:
        raise SpecError(f"{label} {path} is not an existing directory; create it or fix the path.")
    return str(path)
