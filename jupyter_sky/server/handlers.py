"""REST handlers under ``/jupyter-sky/api/``; every one authenticated by Jupyter's own machinery.

``APIHandler`` refuses a request without a token or login cookie (403), a cookie-authenticated
POST without the XSRF token (403) and a request from another origin (``check_origin``);
``@authorized`` asks the server's authorizer for the ``jupyter_sky`` resource. Calls that may
block (an infra's liveness check, ``down``) run on a worker thread so the server keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from jupyter_sky.kernel import launching
from jupyter_sky.server import sky, views
from jupyter_sky.state import PANEL

T = TypeVar("T")
LIVENESS_SECONDS = {"local": 0.0}  # how long a liveness answer is reused, by infra
DEFAULT_LIVENESS_SECONDS = 10.0  # ssh and slurm checks cost a round trip


class SkyHandler(APIHandler):
    """Base: the state store, JSON replies, SkyError as a 400 with its one sentence."""

    auth_resource = "jupyter_sky"

    @property
    def store(self) -> sky.Store:
        return self.settings["jupyter_sky_store"]  # type: ignore[no-any-return]

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))

    def reply(self, body: dict[str, Any]) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.reply({"message": message})


class ClustersHandler(SkyHandler):
    """GET: every cluster the state store knows, with where, state, uptime, idle and cost."""

    _checked: dict[str, tuple[float, bool]] = {}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        records = await self.blocking(self._current)
        now = time.time()
        rows = []
        for rec in records:
            where = sky.where(rec.infra, rec.handle) if rec.handle else rec.infra
            view = views.cluster_view(rec, where, now)
            view["can_stop"] = rec.state == "UP" and sky.can_stop(rec.infra, rec.handle)
            rows.append(view)
        self.reply({"clusters": rows, "now": now})

    def _current(self) -> list[Any]:
        """The records, with UP clusters whose kernel has ended marked DOWN, or STOPPED when a
        cloud VM stopped itself and kept its disk, and INIT ones no kernel still launches
        marked DOWN (as %sky status)."""
        records = self.store.list_clusters()
        for rec in records:
            if rec.state == "UP" and rec.handle and not self._alive(rec):
                rec.state = sky.ended_state(rec.infra, rec.handle)
            elif rec.state == "INIT" and not launching.under_way(self.store.home, rec.name):
                rec.state = "DOWN"  # its notebook kernel died mid-launch
            else:
                continue
            self.store.set_state(rec.name, rec.state)
            rec.ended_at = rec.ended_at or time.time()
        return records

    def _alive(self, rec: Any) -> bool:
        now = time.monotonic()
        checked_at, alive = self._checked.get(rec.name, (-1e9, True))
        if now - checked_at >= LIVENESS_SECONDS.get(rec.infra, DEFAULT_LIVENESS_SECONDS):
            alive = sky.is_alive(rec.infra, rec.handle)
            self._checked[rec.name] = (now, alive)
        return alive


class RunsHandler(SkyHandler):
    """GET: the recent runs of one cluster, newest first."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        runs = await self.blocking(self.store.runs, name)
        self.reply({"cluster": name, "runs": views.recent_runs(runs, time.time())})


class ClusterActionHandler(SkyHandler):
    """POST ``interrupt`` (the running cell; the kernel stays), ``stop`` (the cluster, its disk
    kept, as ``%sky stop``) or ``down`` (end it, as ``%sky down``)."""

    @web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        rec = await self.blocking(self.store.get_cluster, name)
        if rec is None:
            self.refuse(404, f"There is no cluster named '{name}'.")
            return
        if rec.state == "DOWN":
            self.refuse(409, f"Cluster '{name}' is already down.")
            return
        if rec.state == "STOPPED" and action != "down":
            self.refuse(409, f"Cluster '{name}' is stopped; its next cell starts it again.")
            return
        try:
            message = await self._act(name, action, rec.infra, rec.handle)
        except sky.SkyError as exc:
            self.refuse(409 if action == "stop" else 400, str(exc))
            return
        self.reply({"cluster": name, "action": action, "message": message})

    async def _act(self, name: str, action: str, kind: str, handle: dict[str, Any]) -> str:
        if action == "interrupt":
            await self.blocking(sky.interrupt, kind, handle)
            return f"interrupted the cell running on cluster '{name}'"
        if action == "stop":
            return str(await self.blocking(sky.stop, self.store, name))
        await self.blocking(sky.down, kind, handle)
        await self.blocking(self.store.end_cluster, name, PANEL)
        ClustersHandler._checked.pop(name, None)
        return f"cluster '{name}' is down"


class JobsHandler(SkyHandler):
    """GET: the detached jobs, as the state store last saw them."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        jobs = await self.blocking(sky.detached_jobs, self.store)
        now = time.time()
        self.reply({"jobs": [views.job_view(j, now) for j in reversed(jobs)]})


class JobCancelHandler(SkyHandler):
    """POST: cancel a detached job (``%sky jobs --cancel``)."""

    @web.authenticated
    @authorized
    async def post(self, ref: str) -> None:
        try:
            message = await self.blocking(sky.cancel_job, self.store, ref)
        except sky.SkyError as exc:
            self.refuse(400, str(exc))
            return
        self.reply({"job": ref, "message": message})


class SpendHandler(SkyHandler):
    """GET: spend per cluster, per day, today and in total."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from jupyter_sky.cost import charges

        now = time.time()
        items = await self.blocking(charges, self.store, now)
        self.reply(views.spend(items, now))


class GpusHandler(SkyHandler):
    """GET ``?name=A100:1&infra=aws``: the ``%sky gpus`` table as rows."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        words = self.get_query_argument("name", "").split()[:1]
        infra = self.get_query_argument("infra", "")
        if infra:
            words += ["--infra", infra]
        try:
            rows, note = await self.blocking(sky.gpu_rows, words)
        except sky.SkyError as exc:
            self.refuse(400, str(exc))
            return
        header, body = (list(rows[0]), [list(r) for r in rows[1:]]) if rows else ([], [])
        self.reply({"header": header, "rows": body, "note": note.strip()})


NAME = r"([^/]+)"
ROUTES: list[tuple[str, type[SkyHandler]]] = [
    (r"clusters", ClustersHandler),
    (rf"clusters/{NAME}/runs", RunsHandler),
    (rf"clusters/{NAME}/(interrupt|stop|down)", ClusterActionHandler),
    (r"jobs", JobsHandler),
    (rf"jobs/{NAME}/cancel", JobCancelHandler),
    (r"spend", SpendHandler),
    (r"gpus", GpusHandler),
]
