"""The protocol every infra answers, so the magic, the optimizer and the tests never
special-case one.

An infra describes itself once, on its class: its kind, how its ``--infra`` path parses, its
pip extra, whether it is priced from the catalog or reports live offerings, its config
section, its credential check and its own flags. The registry (:mod:`jupyter_sky.infra`)
derives the flag table, the config reader, ``%sky check`` and the planner's inputs from them.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Literal,
    Protocol,
    TypeVar,
    runtime_checkable,
)

from jupyter_sky.errors import InfraError, SpecError
from jupyter_sky.offering import Offering

if TYPE_CHECKING:
    from jupyter_sky.config_sections import Config
    from jupyter_sky.spec.task import Resources, Task

#: How far a failed launch rules places out: this zone, the whole region, or the whole infra.
Scope = Literal["zone", "region", "infra"]

JsonValue = Any  # what json.loads returns: nested dicts, lists, str, int, float, bool, None


def gpu_name(raw: str) -> str:
    """``"NVIDIA A100-SXM4-80GB"`` -> ``"A100"``: the catalog's canonical names are short."""
    words = raw.replace("NVIDIA", "").replace("Tesla", "").split()
    return words[0].split("-")[0] if words else raw.strip()


# ---- errors that failover understands -------------------------------------------------------
class LaunchError(InfraError):
    """A launch failed in a way that another placement may not: failover tries elsewhere.

    ``scope`` says how far the failure reaches: ``"zone"`` (try the next zone), ``"region"``
    (skip the rest of this region) or ``"infra"`` (skip every placement of this infra).
    """

    default_scope: ClassVar[Scope] = "zone"

    def __init__(self, message: str, scope: Scope | None = None) -> None:
        super().__init__(message)
        self.scope: Scope = scope or self.default_scope


class CapacityError(LaunchError):
    """No capacity here right now (a full zone, a Pending pod that never schedules)."""

    default_scope: ClassVar[Scope] = "zone"


class QuotaError(LaunchError):
    """A quota or limit of the account is reached (vCPU limit, spot instance count)."""

    default_scope: ClassVar[Scope] = "region"


class CredentialError(LaunchError):
    """Credentials are missing, expired or not allowed to launch."""

    default_scope: ClassVar[Scope] = "infra"


# ---- what a cluster is ----------------------------------------------------------------------
class State(str, Enum):
    """What :meth:`Infra.status` reports of a cluster."""

    UP = "UP"
    STOPPED = "STOPPED"
    PREEMPTED = "PREEMPTED"
    GONE = "GONE"


@dataclass(frozen=True)
class ClusterStatus:
    """A cluster's state and, unless it is up, one sentence why."""

    state: State
    reason: str = ""


H = TypeVar("H", bound="Handle")


@dataclass
class Handle:
    """Where a cluster's kernel runs; each infra subclasses it with its own fields.

    A handle round-trips through the state DB as JSON (:meth:`to_json`/:meth:`from_json`),
    so another notebook kernel can adopt the cluster.
    """

    def to_json(self) -> dict[str, JsonValue]:
        """The handle as a JSON-able mapping."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls: type[H], data: Mapping[str, JsonValue]) -> H:
        """The handle stored by :meth:`to_json` (unknown keys, from other versions, ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Launch:
    """What an infra needs to start a kernel for a cluster (one attempt of failover)."""

    cluster: str
    task: Task
    config: Config
    offering: Offering | None = None
    notify: Callable[[str], None] = field(default=lambda text: None, repr=False)
    cancelled: Callable[[], bool] = field(default=lambda: False, repr=False)
    spot: bool = False  # buy ``offering`` as spot (the ranked row was priced at its spot price)


# ---- how an infra describes itself ------------------------------------------------------------
@dataclass(frozen=True)
class InfraPath:
    """What follows ``KIND/`` in ``--infra``, parsed by the infra: ``text`` is the normalised
    whole (``aws/us-east-1/us-east-1a``); the parts an infra does not have stay None."""

    text: str
    region: str | None = None
    zone: str | None = None
    target: str | None = None  # a host, pool, Slurm cluster or Kubernetes context
    detail: str | None = None  # a Slurm partition or a Kubernetes namespace


@dataclass(frozen=True)
class InfraFlag:
    """A ``%%sky`` flag of one infra (Slurm's ``--account``); its value reaches the launch as
    ``task.infra_options[dest]``."""

    flag: str
    dest: str
    help: str
    example: str
    check: Callable[[str, str], str] | None = None


Check = Callable[[Any, str], Any]


def checked(check: Check) -> dict[str, Check]:
    """Field metadata of a config section: the function that checks the field's value."""
    return {"check": check}


class Infra(abc.ABC, Generic[H]):
    """One place cells can run: this machine, an SSH host, a Slurm cluster, a cloud."""

    #: The infra kind as written in ``--infra`` (``local``, ``ssh``, ``slurm``, ``aws``, ...).
    kind: ClassVar[str] = ""
    #: The pip extra that brings its SDK (``pip install 'jupyter-sky[aws]'``), "" for none.
    extra: ClassVar[str] = ""
    #: The catalog cloud that prices it; None: it reports live offerings itself.
    catalog: ClassVar[str | None] = None
    #: Its handle class (stored as JSON in the state DB).
    handle_type: ClassVar[type[Handle]] = Handle
    #: Its config section (a dataclass whose fields carry ``checked(...)``), read as ``kind:``.
    config_section: ClassVar[type | None] = None
    #: The shape of ``--infra`` for messages, such as ``aws[/<region>[/<zone>]]``.
    path_shape: ClassVar[str] = ""
    #: Flags of its own on the ``%%sky`` line.
    flags: ClassVar[tuple[InfraFlag, ...]] = ()
    #: Other names ``--infra`` accepts for this kind (``kubernetes`` for ``k8s``).
    aliases: ClassVar[tuple[str, ...]] = ()
    #: $ per GB of data leaving it, first pricing tier (SkyPilot's ``get_egress_cost`` rates);
    #: 0 for none (this machine, a cluster of your own, a cloud whose egress is free).
    egress_per_gb: ClassVar[float] = 0.0
    #: Whether a cell may ask it for open ports (SkyPilot's ``resources.ports``).
    opens_ports: ClassVar[bool] = False
    #: Modules of its SDK; a missing one is an install hint naming :attr:`extra`.
    sdk_modules: ClassVar[tuple[str, ...]] = ()
    #: Whether its kernels run on this machine as this user: big variables then travel as
    #: files in a private directory instead of through the socket (:mod:`jupyter_sky.variables.spill`).
    same_host: ClassVar[bool] = False
    #: What ``stop`` keeps, said when a cluster stops and when its next cell starts it again
    #: (a :class:`Restartable` infra's; a VM keeps its disk, a pod nothing).
    stop_keeps: ClassVar[tuple[str, str]] = ("its disk is kept", "its disk was kept")

    @classmethod
    def parse_path(cls, rest: str) -> InfraPath:
        """Check what follows ``KIND/`` (``""`` for a bare kind); if malformed, raise SpecError
        with a sentence that reads after the flag: ``"must be local, not 'local/x'."``."""
        if rest:
            raise SpecError(f"must be {cls.kind}, not '{cls.kind}/{rest}'.")
        return InfraPath(cls.kind)

    @classmethod
    def fold_options(cls, path: InfraPath, options: dict[str, str]) -> InfraPath:
        """The ``--infra`` path with this infra's own flags folded in (``--partition``)."""
        return path

    @classmethod
    def credentials(cls) -> str:
        """``""`` when credentials look present here, else one sentence. A local look only:
        environment variables and files, no SDK import and no network."""
        return ""

    @abc.abstractmethod
    def check(self) -> str:
        """``""`` when usable here, else one sentence saying why not (no network if avoidable)."""

    def live(self) -> list[Offering]:
        """What this infra reports about itself, unfiltered (for the plan); [] for clouds."""
        return []

    def offerings(self, resources: Resources) -> list[Offering]:
        """What this infra can run ``resources`` on (live infras; [] for catalog clouds)."""
        return []

    def unmet(self, resources: Resources) -> str:
        """``""`` when ``resources`` may fit, else one sentence naming what is missing."""
        return ""

    @abc.abstractmethod
    def launch(self, request: Launch) -> H:
        """Start a kernel for ``request.cluster``; raise a :class:`LaunchError` (after tearing
        down what this attempt created) when another placement may succeed."""

    @abc.abstractmethod
    def connection_info(self, handle: H) -> dict[str, Any]:
        """The jupyter_client connection info, reachable from this process."""

    @abc.abstractmethod
    def is_alive(self, handle: H) -> bool:
        """Is the cluster's kernel still running? Cheap: called every 250 ms while waiting."""

    @abc.abstractmethod
    def interrupt(self, handle: H) -> None:
        """Raise KeyboardInterrupt in the running cell, keeping the kernel."""

    @abc.abstractmethod
    def restart(self, handle: H, request: Launch) -> H:
        """Replace the kernel in the same place (same machine, allocation or VM)."""

    @abc.abstractmethod
    def down(self, handle: H) -> None:
        """Stop the kernel and release everything the cluster holds. Idempotent."""

    def stop(self, handle: H) -> None:
        """Stop the cluster but keep its disks, so it can start again; clouds override."""
        raise InfraError(
            f"The {self.kind} infra cannot stop a cluster and keep it; use %sky down to end it."
        )

    def status(self, handle: H) -> ClusterStatus:
        """UP, STOPPED, PREEMPTED or GONE, with the reason when it is not up."""
        if self.is_alive(handle):
            return ClusterStatus(State.UP)
        return ClusterStatus(State.GONE, self.exit_reason(handle) or "its kernel is not running")

    def where(self, handle: H) -> str:
        """A short 'where did this run' text for the status line."""
        return self.kind

    def exit_reason(self, handle: H) -> str:
        """Why the kernel ended on its own (watchdog, autostop), if the infra knows."""
        return ""

    def handle(self, data: Mapping[str, JsonValue]) -> H:
        """This infra's handle from its stored JSON."""
        return self.handle_type.from_json(data)  # type: ignore[return-value]


#: Any infra, whatever its handle type (the pipeline never looks inside a handle).
AnyInfra = Infra[Any]


# ---- optional capabilities, checked with isinstance ---------------------------------------------
@runtime_checkable
class SyncsWorkdir(Protocol):
    """Sends a ``--workdir`` tree to the target before a cell (only what changed)."""

    def sync_workdir(self, handle: Any, local_dir: str) -> str:
        """Sync ``local_dir`` and return the directory on the target that mirrors it."""


@runtime_checkable
class Zoned(Protocol):
    """Tries a row's zones one by one (clouds): failover asks for them in order."""

    def zones(self, offering: Offering) -> list[str]:
        """The zones of ``offering.region`` where ``offering.instance_type`` is offered."""


@runtime_checkable
class SpansNodes(Protocol):
    """Runs one cluster on several nodes (``--num-nodes``)."""

    def max_nodes(self) -> int:
        """How many nodes one cluster may span."""


@runtime_checkable
class RunsDetached(Protocol):
    """Runs a cell as a batch job that outlives the notebook (``--detach``), and brings it
    back later (``%sky attach``, ``%sky jobs``). ``shell`` is the notebook's IPython shell and
    ``mgr`` its cluster manager (whose ``store`` records the jobs)."""

    def submit_detached(
        self, shell: Any, mgr: Any, task: Task, config: Config, budget: dict[str, object] | None
    ) -> None:
        """Submit the cell (``task.run``) and print how to attach to it; ``budget`` (from
        :func:`jupyter_sky.budget.target_limit`) rides with it and the job's kernel enforces it."""

    def attach_detached(self, ref: str, mgr: Any, shell: Any = None) -> None:
        """Replay a detached job's output into this cell and bring its variables home."""

    def detached_jobs(self, store: Any) -> str:
        """The ``%sky jobs`` table."""

    def cancel_detached(self, store: Any, ref: str) -> str:
        """Cancel a detached job; one line saying what happened."""


@runtime_checkable
class Restartable(Protocol):
    """Brings a stopped cluster back (the next cell with its name)."""

    def start(self, handle: Any, request: Launch) -> Any:
        """Start the stopped cluster; returns its (possibly changed) handle."""


@dataclass(frozen=True)
class Orphan:
    """Something of this user's running on an infra, known to the state DB or not."""

    kind: str
    cluster: str
    where: str
    state: str
    down: Callable[[], None] = field(repr=False, compare=False)


@runtime_checkable
class ListsOrphans(Protocol):
    """Finds every tagged resource of this user, including ones no state DB knows."""

    def orphans(self) -> list[Orphan]:
        """Every cluster of this user the infra can see."""
