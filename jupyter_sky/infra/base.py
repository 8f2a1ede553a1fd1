"""The protocol every infra answers, so the magic, the optimizer and the tests never
special-case one."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_sky.config import Config
    from jupyter_sky.spec.task import Resources, Task


@dataclass(frozen=True)
class Offering:
    """Something an infra can run a cell on, with its price."""

    infra: str
    region: str
    instance_type: str
    vcpus: float
    memory_gb: float
    accelerator: str | None = None
    accelerator_count: int = 0
    price_per_hour: float = 0.0
    spot: bool = False
    priced: bool = False
    note: str = ""  # shown beside the row (a Slurm partition's idle/mixed/allocated nodes)


@dataclass
class Launch:
    """What an infra needs to start a kernel for a cluster."""

    cluster: str
    task: Task
    config: Config
    offering: Offering | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Infra(abc.ABC):
    """One place cells can run: this machine, an SSH host, a Slurm cluster, a cloud."""

    #: The infra kind as written in ``--infra`` (``local``, ``ssh``, ``slurm``, ``aws``, ...).
    kind: str = ""

    @abc.abstractmethod
    def check(self) -> str:
        """``""`` when usable here, else one sentence saying why not (no network if avoidable)."""

    @abc.abstractmethod
    def offerings(self, resources: Resources) -> list[Offering]:
        """What this infra can run ``resources`` on (live where the infra reports its own)."""

    @abc.abstractmethod
    def unmet(self, resources: Resources) -> str:
        """``""`` when ``resources`` fit, else one sentence naming what is missing."""

    @abc.abstractmethod
    def launch(self, request: Launch) -> dict[str, Any]:
        """Start a kernel for ``request.cluster``; returns the handle to store (JSON-able)."""

    @abc.abstractmethod
    def connection_info(self, handle: dict[str, Any]) -> dict[str, Any]:
        """The jupyter_client connection info, reachable from this process."""

    @abc.abstractmethod
    def is_alive(self, handle: dict[str, Any]) -> bool:
        """Is the cluster's kernel still running? Cheap: called every 250 ms while waiting."""

    @abc.abstractmethod
    def interrupt(self, handle: dict[str, Any]) -> None:
        """Raise KeyboardInterrupt in the running cell, keeping the kernel."""

    @abc.abstractmethod
    def restart(self, handle: dict[str, Any], request: Launch) -> dict[str, Any]:
        """Replace the kernel in the same place (same machine, allocation or VM)."""

    @abc.abstractmethod
    def down(self, handle: dict[str, Any]) -> None:
        """Stop the kernel and release everything the cluster holds. Idempotent."""

    def live(self) -> list[Offering]:
        """What this infra reports about itself, unfiltered (for the plan); [] for clouds."""
        return []

    def where(self, handle: dict[str, Any]) -> str:
        """A short 'where did this run' text for the status line."""
        return f"{self.kind} pid {handle.get('pid', '?')}"

    def exit_reason(self, handle: dict[str, Any]) -> str:
        """Why the kernel ended on its own (watchdog, autostop), if the infra knows."""
        return ""
