"""The server extension behind the Sky panel, against a real jupyter_server (pytest-jupyter's
``jp_fetch``): what it serves for a real local cluster, its Stop and Down, detached jobs, spend,
the GPU search, and the requests Jupyter's own machinery refuses (no token, another origin,
a cookie-authenticated POST without the XSRF token)."""

from __future__ import annotations

import json
import os
import re
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from nbdriver import Notebook
from test_cells import remote_pid
from tornado.httpclient import HTTPClientError, HTTPResponse

from jupyter_sky.infra.slurm import jobs as detach_jobs
from jupyter_sky.notebook.gpus import gpus_table
from jupyter_sky.state import ClusterRecord, Store, ended_from_panel

API = ("jupyter-sky", "api")


@pytest.fixture
def jp_server_config(session_home: Path) -> dict[str, Any]:
    # session_home first: the extension opens the state store of JUPYTER_SKY_HOME when it loads
    return {"ServerApp": {"jpserver_extensions": {"jupyter_sky.server": True}}}


async def _json(jp_fetch: Any, *path: str, **kw: Any) -> Any:
    response = await jp_fetch(*API, *path, **kw)
    assert response.code == 200
    return json.loads(response.body)


async def _refused(jp_fetch: Any, *path: str, **kw: Any) -> HTTPClientError:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*API, *path, **kw)
    return info.value


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_request_without_token_is_refused(jp_fetch: Any) -> None:
    for path, method in (("clusters", "GET"), ("spend", "GET"), ("clusters/x/down", "POST")):
        body = b"" if method == "POST" else None
        err = await _refused(
            jp_fetch, path, method=method, body=body, headers={"Authorization": ""}
        )
        assert err.code == 403, (path, err.code)


def _cookies(response: HTTPResponse) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    return {k: v.value for k, v in jar.items()}


async def _as_browser(jp_fetch: Any) -> tuple[dict[str, str], str]:
    """Headers of a browser logged in by cookie (no token), and its XSRF token."""
    login = _cookies(await jp_fetch(*API, "clusters"))  # token request: the server sets a cookie
    page = _cookies(await jp_fetch("login", headers={"Authorization": ""}))
    login_cookie = {k: v for k, v in login.items() if k.startswith("username-")}
    assert login_cookie and "_xsrf" in page, (login, page)
    cookie = "; ".join(f"{k}={v}" for k, v in {**login_cookie, "_xsrf": page["_xsrf"]}.items())
    return {"Authorization": "", "Cookie": cookie}, page["_xsrf"]


async def test_cookie_post_needs_the_xsrf_token(jp_fetch: Any) -> None:
    """Logged in by cookie (as a browser is), a POST without the XSRF token is refused;
    the same POST with it reaches the handler (which then says the cluster is unknown)."""
    as_browser, xsrf = await _as_browser(jp_fetch)
    assert (await _json(jp_fetch, "spend", headers=as_browser))["total"] >= 0  # cookie works
    err = await _refused(
        jp_fetch, "clusters/nope/down", method="POST", body=b"", headers=as_browser
    )
    assert err.code == 403
    with_xsrf = {**as_browser, "X-XSRFToken": xsrf}
    err = await _refused(jp_fetch, "clusters/nope/down", method="POST", body=b"", headers=with_xsrf)
    assert err.code == 404
    assert json.loads(err.response.body)["message"] == "There is no cluster named 'nope'."


async def test_request_from_another_origin_is_refused(jp_fetch: Any, jp_http_port: int) -> None:
    """A page on another site riding the user's login cookie gets nothing, even with XSRF;
    a token is proof enough, so only cookie-authenticated requests are checked."""
    as_browser, xsrf = await _as_browser(jp_fetch)
    evil = {**as_browser, "X-XSRFToken": xsrf, "Origin": "http://evil.example"}
    err = await _refused(jp_fetch, "clusters", headers=evil)
    assert err.code == 404  # APIHandler.check_origin
    err = await _refused(jp_fetch, "clusters/nope/down", method="POST", body=b"", headers=evil)
    assert err.code in (403, 404) and b"no cluster named" not in err.response.body
    host = f"127.0.0.1:{jp_http_port}"
    same = {**as_browser, "X-XSRFToken": xsrf, "Host": host, "Origin": f"http://{host}"}
    assert "clusters" in await _json(jp_fetch, "clusters", headers=same)


@pytest.mark.slow
async def test_panel_sees_interrupts_and_ends_a_real_local_cluster(
    jp_fetch: Any, nb: Notebook, session_home: Path, tmp_path: Path
) -> None:
    pid = remote_pid(nb, "panel-srv")
    clusters = (await _json(jp_fetch, "clusters"))["clusters"]
    row = next(c for c in clusters if c["name"] == "panel-srv")
    assert (row["infra"], row["state"]) == ("local", "UP")
    assert f"pid {pid}" in row["where"] and row["cost"] == 0.0 and row["idle_s"] >= 0
    runs = (await _json(jp_fetch, "clusters", "panel-srv", "runs"))["runs"]
    assert runs and runs[0]["status"] == "ok" and runs[0]["duration_s"] > 0
    assert row["can_stop"] is False  # local cannot keep a stopped cluster: no Stop button
    err = await _refused(jp_fetch, *("clusters", "panel-srv", "stop"), method="POST", body=b"")
    assert err.code == 409
    assert b"cannot stop cluster 'panel-srv' and keep it; %sky down panel-srv ends it." in err.response.body

    marker = tmp_path / "looping"
    msg_id = nb.send(
        "%%sky --name panel-srv\nimport pathlib, time\n"
        f"pathlib.Path({str(marker)!r}).touch()\nwhile True:\n    time.sleep(0.05)"
    )
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    stopped = await _json(jp_fetch, "clusters", "panel-srv", "interrupt", method="POST", body=b"")
    assert stopped["message"] == "interrupted the cell running on cluster 'panel-srv'"
    res = nb.collect(msg_id, timeout=20)
    assert res.status == "error" and res.error["ename"] == "KeyboardInterrupt"
    assert remote_pid(nb, "panel-srv") == pid  # Interrupt keeps the kernel

    down = await _json(jp_fetch, "clusters", "panel-srv", "down", method="POST", body=b"")
    assert down["message"] == "cluster 'panel-srv' is down"
    deadline = time.monotonic() + 10  # a SIGKILL lands a moment after it is sent
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(pid)
    rec = Store(session_home).get_cluster("panel-srv")
    assert rec is not None and (rec.state, rec.ended_by) == ("DOWN", "panel")
    note = ended_from_panel(Store(session_home), "panel-srv")
    assert note is not None and note.startswith("cluster 'panel-srv' was ended from the panel at")
    row = next(
        c for c in (await _json(jp_fetch, "clusters"))["clusters"] if c["name"] == "panel-srv"
    )
    assert (row["state"], row["ended_by"]) == ("DOWN", "panel")
    err = await _refused(jp_fetch, *("clusters", "panel-srv", "down"), method="POST", body=b"")
    assert err.code == 409

    new_pid = remote_pid(nb, "panel-srv")  # the next cell starts a new cluster
    assert new_pid != pid
    assert ended_from_panel(Store(session_home), "panel-srv") is None  # said once
    nb.run("%sky down panel-srv")


async def test_spend_per_cluster_and_day(jp_fetch: Any, session_home: Path) -> None:
    """The panel's spend is the uptime the budgets and %sky cost count: every launch of a
    name, not only its latest record."""
    store = Store(session_home)
    now = time.time()
    earlier = ClusterRecord("spend-a", "aws", "UP", created_at=now - 9000, cost_per_hour=2.0)
    store.put_cluster(earlier)
    store.set_state("spend-a", "DOWN")  # ended now: counted below, then replaced by a relaunch
    store._execute("UPDATE uptime SET ended_at = ? WHERE cluster = 'spend-a'", (now - 7200,))
    store.put_cluster(ClusterRecord("spend-a", "aws", "UP", created_at=now - 7200, cost_per_hour=2.0))
    store.put_cluster(
        ClusterRecord("spend-a", "aws", "DOWN", created_at=now - 7200, last_used_at=now - 3600,
                      cost_per_hour=2.0, ended_at=now - 3600)
    )  # fmt: skip
    store.put_cluster(
        ClusterRecord("spend-b", "gcp", "INIT", created_at=now - 1800, cost_per_hour=4.0)
    )  # launching: counted from the start of its launch
    spend = await _json(jp_fetch, "spend")
    assert spend["per_cluster"]["spend-a"] == pytest.approx(3.0)  # 30 min + 1 h at $2/h
    assert spend["per_cluster"]["spend-b"] == pytest.approx(2.0, rel=0.01)
    assert sum(spend["per_day"].values()) == pytest.approx(spend["total"])
    assert spend["total"] >= 5.0 - 1e-6 and 0 <= spend["today"] <= spend["total"]
    store.remove_cluster("spend-a")
    store.remove_cluster("spend-b")


async def test_a_launch_whose_notebook_died_is_down(jp_fetch: Any, session_home: Path) -> None:
    """INIT with no kernel holding its launch lock (killed mid-launch): DOWN, as %sky status."""
    from jupyter_sky.kernel import launching

    store = Store(session_home)
    store.put_cluster(ClusterRecord("init-dead", "local", "INIT"))
    store.put_cluster(ClusterRecord("init-live", "local", "INIT"))
    with launching.held(session_home, "init-live"):
        clusters = (await _json(jp_fetch, "clusters"))["clusters"]
    states = {c["name"]: c["state"] for c in clusters}
    assert (states["init-dead"], states["init-live"]) == ("DOWN", "INIT")
    store.remove_cluster("init-dead")
    store.remove_cluster("init-live")


async def test_gpu_search_is_the_sky_gpus_table(jp_fetch: Any) -> None:
    table = await _json(jp_fetch, "gpus", params={"name": "A100:8", "infra": "aws"})
    assert table["header"][:3] == ["INFRA", "COUNT", "CHEAPEST INSTANCE"]
    assert table["rows"] and all(r[0] == "aws" and r[1] == "8" for r in table["rows"])
    text_rows = gpus_table(["A100:8", "--infra", "aws"]).splitlines()[1:]
    assert [r[2] for r in table["rows"]] == [
        line.split()[2] for line in text_rows[: len(table["rows"])]
    ]
    every = await _json(jp_fetch, "gpus")
    assert every["header"] == ["ACCELERATOR", "COUNTS", "FROM $/H EACH", "CLOUDS"]
    assert len(every["rows"]) > 5
    err = await _refused(jp_fetch, "gpus", params={"name": "A100:many"})
    message = json.loads(err.response.body)["message"]
    assert err.code == 400 and "A100:many" in message and "Traceback" not in message


async def test_detached_jobs_are_listed(jp_fetch: Any, session_home: Path) -> None:
    store = Store(session_home)
    job = detach_jobs.Job("j-srv1", "4242", "hpc", "/scratch/j", "train", state="DONE",
                          elapsed=61.0, first_line="epoch 1")  # fmt: skip
    detach_jobs.add(store, job)
    jobs = (await _json(jp_fetch, "jobs"))["jobs"]
    row = next(j for j in jobs if j["id"] == "j-srv1")
    assert (row["job"], row["state"], row["elapsed_s"], row["final"]) == (
        "4242",
        "DONE",
        61.0,
        True,
    )
    said = await _json(jp_fetch, "jobs", "j-srv1", "cancel", method="POST", body=b"")
    assert said["message"] == "detached job 4242 had already ended (done)"
    err = await _refused(jp_fetch, "jobs", "nope", "cancel", method="POST", body=b"")
    assert err.code == 400 and "no detached job 'nope'" in json.loads(err.response.body)["message"]


def test_no_cloud_sdk_is_imported_by_the_extension() -> None:
    import subprocess
    import sys

    code = (
        "import sys, jupyter_sky.server, jupyter_sky.server.handlers\n"
        "bad = [m for m in ('boto3', 'google.cloud', 'azure', 'kubernetes', 'paramiko', 'pandas')"
        " if m in sys.modules]\nprint(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert re.fullmatch(r"\[\]", out.stdout.strip()) and os.path.exists(sys.executable)
