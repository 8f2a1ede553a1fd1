"""The clusters this notebook kernel knows: attach (launch, reuse or adopt), restart, down.

Lifetime is explicit: a cluster lives until ``%sky down``, its autostop, or its idle
watchdog — never only as long as the notebook kernel that started it. A cluster started
by a kernel that has since died is found in the state store and adopted by name.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_sky.config import Config
from jupyter_sky.errors import InfraError
from jupyter_sky.infra import get_infra
from jupyter_sky.infra.base import AnyInfra as Infra
from jupyter_sky.infra.base import Handle, Launch, Restartable, State
from jupyter_sky.kernel import launching
from jupyter_sky.kernel.cluster import LiveCluster
from jupyter_sky.kernel.shield import no_interrupts, stop_quietly
from jupyter_sky.spec.task import Task
from jupyter_sky.state import ClusterRecord, Store

if TYPE_CHECKING:
    from jupyter_sky.optimizer.model import Placement

#: Told of each planner row failover gave up on, with the reason (the widget greys it).
RowFailed = Callable[["Placement", str], None]

LOST = "remote state was lost"


@dataclass
class Attached:
    """The result of :meth:`Manager.attach`: the cluster and what the user should know."""

    cluster: LiveCluster
    created: bool = False
    notes: list[str] = field(default_factory=list)


class Manager:
    """Per-process registry of attached clusters, backed by the shared state store."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()
        self.session_id = uuid.uuid4().hex[:8]
        self.live: dict[str, LiveCluster] = {}
        self.shell: Any = None  # the notebook's IPython shell, for widgets and late output
        self.noticed: set[str] = set()  # clusters whose stopping on their own was said

    def default_name(self) -> str:
        """The cluster a cell without ``--name`` uses: one per notebook kernel."""
        return f"sky-{self.session_id[:6]}"

    def kind_of(self, name: str) -> str | None:
        """The infra of a running cluster called ``name`` (attached or adoptable), or None."""
        live = self.live.get(name)
        if live is not None and live.is_alive():
            return live.infra.kind
        record = self.store.get_cluster(name)
        if record is None or record.state != "UP" or not record.handle:
            return None
        try:
            infra = get_infra(record.infra)
            alive = infra.is_alive(infra.handle(record.handle))
        except InfraError:
            return None
        return record.infra if alive else None

    def synced_for(self, name: str) -> dict[str, str]:
        live = self.live.get(name)
        return live.synced if live is not None else {}

    # ---- attach ----------------------------------------------------------------------
    def attach(
        self,
        name: str,
        infra: Infra,
        task: Task,
        config: Config,
        rows: Sequence[Placement] = (),
        row_failed: RowFailed | None = None,
    ) -> Attached:
        """Reuse the warm kernel, adopt one another kernel started, or launch a new one.

        ``rows`` are the planner's Placements for a launch, best first (failover tries them
        in order; ``row_failed(row, reason)`` hears of each one given up); empty: ``infra``
        decides where.
        """
        live = self.live.get(name)
        if live is not None:
            if live.is_alive():
                return Attached(live)
            return self._relaunch(live, task, config, self._lost_note(live))
        record = self.store.get_cluster(name)
        if record is not None and record.state in ("UP", "STOPPED") and record.handle:
            _same_infra(record, infra, name, asked=task.resources.infra is not None)
            handle = infra.handle(record.handle)
            if record.state == "UP" and infra.is_alive(handle):
                return self._adopt(record, infra, handle, config)
            if can_start(infra, handle):  # stopped (%sky stop, its own autostop) or kernel gone
                return self._start_stopped(record, infra, handle, task, config)
            reason = infra.exit_reason(handle) or "its kernel is no longer running"
            stop_quietly(infra, handle)  # release whatever is left of it before a new one
            note = f"cluster '{name}' had stopped ({reason}); started a fresh kernel — {LOST}"
            return self._launch(name, infra, task, config, [note], rows, row_failed)
        return self._launch(name, infra, task, config, [], rows, row_failed)

    def _start_stopped(
        self, record: ClusterRecord, infra: Infra, handle: Handle, task: Task, config: Config
    ) -> Attached:
        """Start a stopped cluster (or a new kernel on its running VM) in the same place; its
        disk and files were kept."""
        assert isinstance(infra, Restartable)

        def notify(text: str) -> None:
            print(f"[sky] {text}", file=sys.stderr, flush=True)

        began = time.time()  # billed again from here: its uptime span starts at the start
        started: Handle = infra.start(handle, Launch(record.name, task, config, None, notify))
        record.handle, record.state, record.owner = started.to_json(), "UP", self.session_id
        record.created_at, record.last_used_at, record.ended_at = began, time.time(), None
        self.store.put_cluster(record)
        live = self._connect(record.name, infra, started, config)
        note = f"started the stopped cluster '{record.name}' again ({infra.stop_keeps[1]}) — {LOST}"
        return Attached(live, created=True, notes=[note])

    def _launch(
        self,
        name: str,
        infra: Infra,
        task: Task,
        config: Config,
        notes: list[str],
        rows: Sequence[Placement] = (),
        row_failed: RowFailed | None = None,
    ) -> Attached:
        """Start a kernel on the first of ``rows`` that launches (none: the infra decides)."""
        now = time.time()
        placement = rows[0].record() if rows else {"infra": infra.kind}
        record = ClusterRecord(
            name=name,
            infra=infra.kind,
            state="INIT",
            created_at=now,
            last_used_at=now,
            cells_run=0,
            cost_per_hour=float(placement.get("price") or 0.0),
            owner=self.session_id,
            placement=placement,
            handle={},
        )
        with launching.held(self.store.home, name):  # %sky status tells a launch that died
            self.store.put_cluster(record)
            handle: Handle | None = None
            try:
                infra, handle, row, zone = self._start(name, infra, task, config, rows, row_failed)
                if row is not None:  # where failover landed: its row, and the zone it launched in
                    record.infra, record.placement = infra.kind, {**row.record(), "zone": zone}
                    record.cost_per_hour = float(record.placement.get("price") or 0.0)
                record.handle = handle.to_json()
                live = self._connect(name, infra, handle, config)
            except BaseException:  # Ctrl-C or a failure after the kernel started: stop it
                with no_interrupts():
                    stop_quietly(infra, handle)
                    self.store.set_state(name, "DOWN")
                raise
            record.state = "UP"
            self.store.put_cluster(record)
        return Attached(live, created=True, notes=notes)

    def _start(
        self,
        name: str,
        infra: Infra,
        task: Task,
        config: Config,
        rows: Sequence[Placement],
        row_failed: RowFailed | None = None,
    ) -> tuple[Infra, Handle, Placement | None, str | None]:
        """Launch with failover over ``rows``; the infra, handle, row and zone that worked."""
        from jupyter_sky.optimizer.candidates import Scope
        from jupyter_sky.pipeline import failover

        def notify(text: str) -> None:
            print(f"[sky] {text}", file=sys.stderr, flush=True)

        if not rows:
            return infra, infra.launch(Launch(name, task, config, None, notify)), None, None
        done = failover.launch(
            [row.offering for row in rows],
            lambda kind: infra if kind == infra.kind else get_infra(kind),
            lambda where, offering, i: where.launch(
                Launch(name, task, config, offering, notify, spot=rows[i].spot)
            ),
            notify,
            config.defaults.max_launch_attempts,
            pinned_zone=Scope.parse(task.resources.infra).zone is not None,
            row_failed=(lambda i, why: row_failed(rows[i], why)) if row_failed else None,
        )
        return done.infra, done.handle, rows[done.index], done.offering.zone

    def _adopt(
        self, record: ClusterRecord, infra: Infra, handle: Handle, config: Config
    ) -> Attached:
        live = self._connect(record.name, infra, handle, config)
        notes = []
        if record.owner != self.session_id:
            notes.append(
                f"adopted cluster '{record.name}' (started by another kernel); its remote state is intact"
            )
            record.owner = self.session_id
            self.store.put_cluster(record)
        return Attached(live, notes=notes)

    def _connect(
        self, name: str, infra: Infra, handle: Handle, config: Config
    ) -> LiveCluster:
        live = LiveCluster(name, infra, handle)
        # Renew the lease well inside the remote idle window, or an attached kernel dies.
        live.lease_seconds = min(30.0, config.defaults.idle_minutes * 60 / 3)
        live.connect(self.shell)
        self.live[name] = live
        return live

    def _relaunch(self, live: LiveCluster, task: Task, config: Config, note: str) -> Attached:
        live.detach()
        self.live.pop(live.name, None)
        return self._launch(live.name, live.infra, task, config, [note])

    def _lost_note(self, live: LiveCluster) -> str:
        reason = live.infra.exit_reason(live.handle)
        why = f" ({reason})" if reason else ""
        return f"the kernel of cluster '{live.name}' had stopped{why}; started a fresh one — {LOST}"

    # ---- restart and down -----------------------------------------------------------------
    def restart(self, live: LiveCluster, task: Task, config: Config) -> LiveCluster:
        """A new kernel in the same place (same machine, allocation or VM)."""
        live.detach()
        live.handle = live.infra.restart(live.handle, Launch(live.name, task, config))
        record = self.store.get_cluster(live.name)
        if record is not None:
            record.handle = live.handle.to_json()
            self.store.put_cluster(record)
        return self._connect(live.name, live.infra, live.handle, config)

    def forget(self, name: str) -> None:
        """Drop a cluster whose kernel died; the record stays for ``%sky status``."""
        live = self.live.pop(name, None)
        if live is not None:
            live.detach()

    def down(self, name: str) -> str:
        """Stop the cluster and release what it holds; returns a one-line report."""
        live = self.live.pop(name, None)
        record = self.store.get_cluster(name)
        if live is None and record is None:
            raise InfraError(f"There is no cluster named '{name}'; %sky status lists them.")
        if live is None and _launching_elsewhere(self.store, record):  # no handle to end yet
            raise InfraError(
                f"Cluster '{name}' is being launched by another notebook right now; "
                f"%sky down {name} again once its cell has started."
            )
        if live is not None:
            live.detach()
        if live is not None:
            live.infra.down(live.handle)
        elif record is not None and record.handle:
            infra = get_infra(record.infra)
            infra.down(infra.handle(record.handle))
        self.store.set_state(name, "DOWN")
        return f"cluster '{name}' is down"

    def stop(self, name: str) -> str:
        """Stop the cluster but keep its disk (clouds); the next cell on it starts it again."""
        live = self.live.get(name)
        record = self.store.get_cluster(name)
        if live is None and (record is None or not record.handle or record.state == "DOWN"):
            raise InfraError(f"There is no cluster named '{name}' to stop; %sky status lists them.")
        infra = live.infra if live is not None else get_infra(record.infra)  # type: ignore[union-attr]
        if not isinstance(infra, Restartable):
            raise InfraError(
                f"The {infra.kind} infra cannot stop cluster '{name}' and keep it; "
                f"%sky down {name} ends it."
            )
        handle = live.handle if live is not None else infra.handle(record.handle)  # type: ignore[union-attr]
        if live is not None:
            self.live.pop(name, None)
            live.detach()
        infra.stop(handle)
        self.store.set_state(name, "STOPPED")
        return f"cluster '{name}' is stopped ({infra.stop_keeps[0]}); the next cell on it starts it again"

    def down_all(self) -> list[str]:
        return [self.down(r.name) for r in self.store.list_clusters() if r.state != "DOWN"]

    def detach_all(self) -> None:
        for live in list(self.live.values()):
            live.detach()
        self.live.clear()


def _launching_elsewhere(store: Store, record: ClusterRecord | None) -> bool:
    """Is the cluster still INIT, without a handle, and its launch under way?"""
    if record is None or record.state != "INIT" or record.handle:
        return False
    return launching.under_way(store.home, record.name)


def _state(infra: Infra, handle: Handle) -> State | None:
    """A restartable infra's report on the cluster; None for other infras or no answer."""
    if not isinstance(infra, Restartable):
        return None
    try:
        return infra.status(handle).state
    except InfraError:
        return None


def is_stopped(infra: Infra, handle: Handle) -> bool:
    """Whether a restartable infra reports the cluster STOPPED (its disk kept)."""
    return _state(infra, handle) is State.STOPPED


def can_start(infra: Infra, handle: Handle) -> bool:
    """Whether the cluster's machine is still there to start a kernel on (stopped or up)."""
    return _state(infra, handle) in (State.STOPPED, State.UP)


def _same_infra(record: ClusterRecord, infra: Infra, name: str, asked: bool = True) -> None:
    if record.infra != infra.kind and not asked:  # not reusable by name: its kernel has ended
        raise InfraError(
            f"Cluster '{name}' ran on {record.infra} and its kernel is gone or out of reach; give "
            f"--infra {record.infra}/… to start a fresh one there, or run %sky down {name} first."
        )
    if record.infra != infra.kind:
        raise InfraError(
            f"Cluster '{name}' runs on {record.infra}, but this cell asks for --infra {infra.kind}; "
            f"use another --name or run %sky down {name} first."
        )
