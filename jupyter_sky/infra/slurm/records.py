"""Slurm's separator-delimited output parsed into typed records, and the GRES a cell asks for.

Only machine formats are read (``sinfo -h -o '%P|...'``, ``squeue -h -o '%T|%r|%N'``,
``scontrol show job -o``); human tables are never scraped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jupyter_sky.errors import InfraError
from jupyter_sky.offering import Offering

if TYPE_CHECKING:
    from jupyter_sky.spec.task import Resources

#: ``sinfo`` format of one partition's node group: name, CPUs, memory (MB), GRES, availability,
#: node state (short) and how many nodes are in it. One row per state; rows are merged.
SINFO_FORMAT = "%P|%c|%m|%G|%a|%t|%D"
#: Short node states as said in the placement table (others, such as drain or down, as is).
NODE_STATES = {"idle": "idle", "mix": "mixed", "alloc": "allocated"}
#: ``squeue`` format of one job: state, reason, node list, time left.
SQUEUE_FORMAT = "%T|%r|%N|%L"

#: Job states that end a job, with how to say why.
END_REASONS = {
    "TIMEOUT": "the job hit its time limit",
    "CANCELLED": "the job was cancelled (scancel)",
    "PREEMPTED": "the job was preempted",
    "NODE_FAIL": "the job's node failed",
    "OUT_OF_MEMORY": "the job ran out of memory",
    "FAILED": "the job failed",
    "DEADLINE": "the job hit its deadline",
    "TimeLimit": "the job hit its time limit",  # scontrol's Reason while COMPLETING
}
#: States of a job that has not reached its final state yet.
STILL_GOING = ("RUNNING", "COMPLETING", "CONFIGURING", "STOPPED", "SUSPENDED")


@dataclass(frozen=True)
class NodeGroup:
    """One ``sinfo`` row: nodes of a partition with the same CPUs, memory and GRES."""

    partition: str
    default: bool
    cpus: int
    memory_mb: int
    gpus: dict[str, int] = field(default_factory=dict)  # type (lower case, "" untyped) -> count
    up: bool = True
    nodes: dict[str, int] = field(default_factory=dict, compare=False)  # state -> how many

    @property
    def gpu_count(self) -> int:
        return sum(self.gpus.values())

    def describe_nodes(self) -> str:
        """``nodes: 1 idle, 1 mixed`` (idle first), or "" when sinfo said nothing."""
        order = sorted(self.nodes, key=lambda st: (st != "idle", st != "mixed", st))
        return "nodes: " + ", ".join(f"{self.nodes[st]} {st}" for st in order) if order else ""


@dataclass(frozen=True)
class JobState:
    """One ``squeue`` row for a job; ``state`` is "" once the job has left the queue."""

    state: str
    reason: str = ""
    nodes: str = ""
    seconds_left: float | None = None  # None: no time limit (or not known)

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"


def parse_gres(text: str) -> dict[str, int]:
    """``gpu:a100:1,gpu:t4:1(S:0)`` -> ``{"a100": 1, "t4": 1}``; ``gpu:2`` -> ``{"": 2}``."""
    out: dict[str, int] = {}
    for item in re.sub(r"\([^)]*\)", "", text).split(","):
        parts = item.strip().split(":")
        if not parts or parts[0] != "gpu" or len(parts) < 2:
            continue
        kind, count = (parts[1], parts[2]) if len(parts) >= 3 else ("", parts[1])
        digits = re.match(r"\d+", count)
        out[kind.lower()] = out.get(kind.lower(), 0) + (int(digits.group()) if digits else 1)
    return out


def parse_sinfo(text: str) -> list[NodeGroup]:
    """Rows of ``sinfo -h -o SINFO_FORMAT`` as :class:`NodeGroup` records, one per partition
    and node shape, with the node count per state summed over the rows."""
    groups: dict[tuple[str, int, int, tuple[tuple[str, int], ...]], NodeGroup] = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) not in (5, 7):
            continue
        name, cpus, mem, gres, avail = fields[:5]
        group = NodeGroup(
            partition=name.rstrip("*"),
            default=name.endswith("*"),
            cpus=int(re.sub(r"\D", "", cpus) or 0),
            memory_mb=int(re.sub(r"\D", "", mem) or 0),
            gpus=parse_gres(gres),
            up=avail.strip() == "up",
        )
        key = (group.partition, group.cpus, group.memory_mb, tuple(sorted(group.gpus.items())))
        group = groups.setdefault(key, group)
        if len(fields) == 7:
            short = fields[5].rstrip("*~#!%$@^-")  # flags: not responding, powered down ...
            state = NODE_STATES.get(short, short)
            group.nodes[state] = group.nodes.get(state, 0) + int(fields[6] or 0)
    return list(groups.values())


def parse_squeue(text: str) -> JobState:
    """The first row of ``squeue -h -j JOB -o SQUEUE_FORMAT`` (empty: the job is gone)."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    if not line:
        return JobState("")
    state, reason, nodes, left = (line.strip().split("|") + ["", "", ""])[:4]
    return JobState(state, "" if reason == "None" else reason, nodes, parse_duration(left))


def parse_duration(text: str) -> float | None:
    """Slurm's ``[days-]hours:minutes:seconds`` (or ``minutes:seconds``) in seconds.

    ``UNLIMITED``, ``NOT_SET``, ``INVALID`` and anything else not a duration give None.
    """
    match = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)", text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def parse_scontrol(text: str) -> dict[str, str]:
    """``scontrol show job -o JOB`` as a dict of its ``Key=Value`` fields."""
    return dict(kv.split("=", 1) for kv in text.split() if "=" in kv)


def gres_flag(resources: Resources, groups: list[NodeGroup], cluster: str) -> str:
    """The ``--gres`` value for the cell's GPUs, in the cluster's own spelling.

    Parameters
    ----------
    resources : Resources
        What the cell asks for.
    groups : list of NodeGroup
        The cluster's node groups (of the chosen partition).
    cluster : str
        For the error message.

    Returns
    -------
    str
        ``""`` without GPUs, ``gpu:N`` untyped, ``gpu:<type>:N`` typed.

    Raises
    ------
    InfraError
        When the cluster has no GPU of the asked type.
    """
    count = resources.accelerator_count
    if not count:
        return ""
    if not resources.accelerator:
        return f"gpu:{count}"
    wanted = resources.accelerator.lower()
    types = sorted({t for g in groups for t in g.gpus if t})
    if wanted not in types:
        have = ", ".join(types) if types else "no typed GPUs"
        raise InfraError(
            f"Slurm cluster '{cluster}' has no {resources.accelerator} GPUs (it declares "
            f"{have}); choose one of those in --gpus or drop the type."
        )
    return f"gpu:{wanted}:{count}"


def missing(resources: Resources, group: NodeGroup) -> str:
    """What one node group lacks for ``resources``, as the end of a sentence, or ``""``."""
    count = resources.accelerator_count
    wanted = (resources.accelerator or "").lower()
    have = group.gpus.get(wanted, 0) if wanted else group.gpu_count
    if count and have < count:
        kind = f"{resources.accelerator} " if wanted else ""
        return f"has at most {have} {kind}GPUs per node"
    if resources.cpus and resources.cpus > group.cpus:
        return f"has at most {group.cpus} CPUs per node; lower --cpus"
    if resources.memory_gb and resources.memory_gb * 1024 > group.memory_mb:
        return f"has at most {group.memory_mb / 1024:g} GB of memory per node; lower --memory"
    if resources.spot:
        return "has no spot capacity; drop --spot"
    if resources.instance_type:
        return "has no instance types; drop --instance-type"
    return ""

def time_left(seconds: float) -> str:
    """The allocation's remaining time: ``1 h 05 min``, ``12 min``, ``40 s``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def size_key(resources: Resources) -> Callable[[NodeGroup], tuple[int, int, int]]:
    wanted = (resources.accelerator or "").lower()

    def size(g: NodeGroup) -> tuple[int, int, int]:
        gpus = g.gpus.get(wanted, 0) if wanted else g.gpu_count
        return (-gpus, -g.cpus, -g.memory_mb)

    return size


def offering_of(cluster: str, group: NodeGroup) -> Offering:
    typed = {t: n for t, n in group.gpus.items() if t}
    top = max(typed, key=lambda t: typed[t]) if typed else None
    return Offering(
        infra="slurm",
        region=cluster,
        instance_type=group.partition,
        vcpus=float(group.cpus),
        memory_gb=round(group.memory_mb / 1024, 1),
        accelerator=top.upper() if top else None,
        accelerator_count=typed[top] if top else group.gpu_count,
        note=group.describe_nodes(),
    )
