"""Helpers to drive a real JupyterLab 4 in headless Debian Chromium via Playwright.

Server side: :func:`start_lab_server` starts ``python -m jupyterlab`` from the venv of
``sys.executable`` on 127.0.0.1 with a random token, hermetic config/data/runtime/settings/
workspace dirs, and ``--LabApp.expose_app_in_browser=True`` (so ``window.jupyterapp`` can be
used for deterministic waits and commands).  :meth:`LabServer.stop` stops only the PID it
started.

Browser side: :func:`open_notebook` waits for REAL kernel readiness (``sessionContext.isReady``
and kernel ``connectionStatus == 'connected'`` and ``status == 'idle'``): the
``.jp-Notebook-ExecutionIndicator[data-status=idle]`` element is idle before any kernel is
attached, and Run All then silently does nothing.

Playwright is imported lazily so that collecting the tests works (and skips
cleanly) on a machine without the browser stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from playwright.sync_api import BrowserContext, Page, Playwright

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "artifacts"
SCREENSHOT_DIR = ARTIFACTS_DIR / "screenshots"

# The real binary first: it skips the Debian wrapper's noise (`[: unexpected operator`,
# --enable-remote-extensions, ...).  /usr/bin/chromium is the wrapper.
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # we run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
VIEWPORT = {"width": 1280, "height": 800}

COMMS_OVER_SUBSHELLS_VALUES = ("disabled", "perComm", "perCommTarget")
KERNELS_SETTINGS_PLUGIN = "@jupyterlab/apputils-extension:kernels-settings"
NOTIFICATION_PLUGIN = "@jupyterlab/apputils-extension:notification"

# Cells of the notebook currently shown in the main area (``?reset`` opens only one).
NB = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
CELLS = f"{NB} .jp-Cell"

DEFAULT_TIMEOUT_MS = 90_000


# --------------------------------------------------------------------------- environment


def find_chromium() -> str | None:
    """Path of Debian's chromium (``$JUPYTER_SKY_CHROMIUM`` overrides), or None."""
    override = os.environ.get("JUPYTER_SKY_CHROMIUM")
    candidates = (override,) if override else CHROMIUM_CANDIDATES
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def is_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, n: int = 40) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "<no log>"
    return "\n".join(lines[-n:])


# --------------------------------------------------------------------------- notebooks


def notebook_json(cells: Sequence[str | Mapping[str, Any]]) -> dict[str, Any]:
    """An nbformat 4.5 notebook (as a dict) with the ``python3`` kernelspec.

    Each cell is a code source string, or a mapping ``{"cell_type": "markdown"|"code"|"raw",
    "source": ...}``.  Built by hand: ``import nbformat`` pulls in jsonschema, whose format
    checkers compile ~40 lark grammars at import (1.8 s alone, 7 s next to a starting
    JupyterLab on 2 cores).  ``tests/browser/test_harness.py`` validates the result with
    nbformat once.
    """
    out = []
    for cell in cells:
        spec: Mapping[str, Any] = {"source": cell} if isinstance(cell, str) else cell
        kind = spec.get("cell_type", "code")
        if kind not in ("code", "markdown", "raw"):
            raise ValueError(f"unknown cell_type {kind!r}")
        src = spec["source"]
        c: dict[str, Any] = {
            "cell_type": kind,
            "id": secrets.token_hex(4),
            "metadata": {},
            "source": src if isinstance(src, str) else "".join(src),
        }
        if kind == "code":
            c.update(execution_count=None, outputs=[])
        out.append(c)
    return {
        "cells": out,
        "metadata": {
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_notebook(
    root_dir: Path | str, name: str, cells: Sequence[str | Mapping[str, Any]]
) -> Path:
    """Write ``root_dir/name`` (an .ipynb, see :func:`notebook_json`) and return its path.

    The notebook has the ``python3`` kernelspec, so JupyterLab starts the kernel without asking.
    """
    path = Path(root_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook_json(cells), indent=1) + "\n")
    return path


# --------------------------------------------------------------------------- the server


@dataclass
class LabServer:
    """A running JupyterLab started by :func:`start_lab_server`."""

    url: str  # http://127.0.0.1:PORT (no trailing slash)
    port: int
    token: str
    root_dir: Path  # ServerApp.root_dir: notebooks go here
    base_dir: Path  # everything hermetic lives under it
    settings_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    comms_over_subshells: str | None = None  # None: JupyterLab's default (perCommTarget)
    startup_seconds: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)

    def lab_url(self, path: str = "lab", **query: str | None) -> str:
        """``/path?k=v&...&token=...``; a value of None gives a bare key (e.g. ``reset``)."""
        parts = [k if v is None else f"{k}={urllib.parse.quote(v)}" for k, v in query.items()]
        parts.append(f"token={self.token}")
        return f"{self.url}/{path.lstrip('/')}?{'&'.join(parts)}"

    def api(self, path: str, method: str = "GET", body: Any = None, timeout: float = 10) -> Any:
        """Call the REST API (``/api/...``) with the token; returns decoded JSON or None."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/{path.lstrip('/')}",
            method=method,
            data=data,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def write_notebook(self, name: str, cells: Sequence[str | Mapping[str, Any]]) -> Path:
        return write_notebook(self.root_dir, name, cells)

    def shutdown_kernels(self) -> None:
        """Delete every session and kernel (a fresh kernel for the next notebook)."""
        with contextlib.suppress(Exception):
            for s in self.api("api/sessions") or []:
                with contextlib.suppress(Exception):
                    self.api(f"api/sessions/{s['id']}", method="DELETE")
        with contextlib.suppress(Exception):
            for k in self.api("api/kernels") or []:
                with contextlib.suppress(Exception):
                    self.api(f"api/kernels/{k['id']}", method="DELETE")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """Shut the kernels down, SIGTERM our PID, SIGKILL it after ``timeout`` seconds."""
        if self.proc.poll() is not None:
            return
        self.shutdown_kernels()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def _seed_settings(settings_dir: Path, settings: Mapping[str, Mapping[str, Any]]) -> None:
    """Write ``{plugin_id: {key: value}}`` as user settings (``<pkg>/<plugin>.jupyterlab-settings``)."""
    for plugin_id, values in settings.items():
        pkg, _, plugin = plugin_id.rpartition(":")
        if not pkg or not plugin:
            raise ValueError(
                f"lab setting plugin ids look like '@scope/pkg:plugin', got {plugin_id!r}"
            )
        path = settings_dir / pkg / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        current = json.loads(path.read_text()) if path.exists() else {}
        current.update(values)
        path.write_text(json.dumps(current, indent=2))


def start_lab_server(
    base_dir: Path | str,
    *,
    comms_over_subshells: str | None = None,
    lab_settings: Mapping[str, Mapping[str, Any]] | None = None,
    kernel_config: Mapping[str, Any] | None = None,
    server_config: Mapping[str, Any] | None = None,
    extra_args: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> LabServer:
    """Start a hermetic JupyterLab on 127.0.0.1 and wait until ``/api/status`` answers.

    - ``comms_over_subshells``: ``"disabled"``, ``"perComm"`` or ``"perCommTarget"``
      (JupyterLab's default).  Seeds the lab setting ``commsOverSubshells`` of
      ``@jupyterlab/apputils-extension:kernels-settings`` (JupyterLab >= 4.4).
    - ``lab_settings``: more user settings, ``{"@scope/pkg:plugin": {key: value}}``.
    - ``kernel_config``: IPython kernel config, written to
      ``$IPYTHONDIR/profile_default/ipython_kernel_config.json`` (e.g.
      ``{"IPKernelApp": {...}}``, ``{"InteractiveShell": {...}}``).
    - ``server_config``: written to ``$JUPYTER_CONFIG_DIR/jupyter_server_config.json``.
    - ``extra_args``: more command-line arguments for ``jupyter lab``.
    - ``env``: more environment variables for the server (and so for its kernels).
    """
    if comms_over_subshells is not None and comms_over_subshells not in COMMS_OVER_SUBSHELLS_VALUES:
        raise ValueError(
            f"comms_over_subshells must be one of {COMMS_OVER_SUBSHELLS_VALUES}, "
            f"got {comms_over_subshells!r}"
        )
    extra_args = list(extra_args)
    base = Path(base_dir)
    dirs = {n: base / n for n in ("root", "runtime", "data", "config", "ipython", "settings", "ws")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)

    settings: dict[str, dict[str, Any]] = {
        # No news / update toast that could cover the UI, and no request to the internet.
        NOTIFICATION_PLUGIN: {"checkForUpdates": False, "fetchNews": "false"},
    }
    if comms_over_subshells is not None:
        settings[KERNELS_SETTINGS_PLUGIN] = {"commsOverSubshells": comms_over_subshells}
    for plugin_id, values in (lab_settings or {}).items():
        settings.setdefault(plugin_id, {}).update(values)
    _seed_settings(dirs["settings"], settings)

    if kernel_config:
        profile = dirs["ipython"] / "profile_default"
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "ipython_kernel_config.json").write_text(json.dumps(kernel_config, indent=2))
    if server_config:
        (dirs["config"] / "jupyter_server_config.json").write_text(
            json.dumps(server_config, indent=2)
        )

    token = secrets.token_hex(24)
    proc_env = dict(os.environ)
    proc_env.update(
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        IPYTHONDIR=str(dirs["ipython"]),
        JUPYTER_PLATFORM_DIRS="0",
        PYTHONUNBUFFERED="1",
    )
    proc_env.pop("JUPYTER_PATH", None)
    proc_env.pop("JUPYTER_CONFIG_PATH", None)
    proc_env.update(env or {})

    log_path = base / "jupyterlab.log"
    last_error = ""
    for _attempt in range(3):  # retry the small race on the free port
        port = _free_port()
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={dirs['root']}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.open_browser=False",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.extension_manager=readonly",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['ws']}",
            *extra_args,
        ]
        t0 = time.monotonic()
        with open(log_path, "ab") as log:
            log.write(f"\n$ {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                cmd,
                cwd=str(dirs["root"]),
                env=proc_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C in the terminal doesn't hit it
            )
        server = LabServer(
            url=f"http://127.0.0.1:{port}",
            port=port,
            token=token,
            root_dir=dirs["root"],
            base_dir=base,
            settings_dir=dirs["settings"],
            log_path=log_path,
            proc=proc,
            comms_over_subshells=comms_over_subshells,
            options={
                "comms_over_subshells": comms_over_subshells,
                "lab_settings": dict(lab_settings or {}),
                "kernel_config": dict(kernel_config or {}),
                "server_config": dict(server_config or {}),
                "extra_args": list(extra_args),
                "env": dict(env or {}),
            },
        )
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_error = f"jupyter lab exited with code {proc.returncode}"
                break
            try:
                server.api("api/status", timeout=2)
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.2)
                continue
            server.startup_seconds = time.monotonic() - t0
            return server
        else:
            server.stop()
            raise RuntimeError(
                f"jupyter lab did not answer /api/status within {timeout:.0f}s; "
                f"log {log_path}:\n{_tail(log_path)}"
            )
    raise RuntimeError(f"{last_error}; log {log_path}:\n{_tail(log_path)}")


# --------------------------------------------------------------------------- the browser


@contextlib.contextmanager
def launch_browser(
    playwright: Playwright, executable: str | None = None, user_data_dir: Path | str | None = None
) -> Iterator[tuple[BrowserContext, Page]]:
    """A persistent Chromium context with a fresh user-data dir, removed afterwards."""
    executable = executable or find_chromium()
    if not executable:
        raise RuntimeError(
            f"no chromium at {' or '.join(CHROMIUM_CANDIDATES)}; run scripts/install_browser.sh"
        )
    own_udd = user_data_dir is None
    udd = Path(tempfile.mkdtemp(prefix="sky-chromium-")) if own_udd else Path(str(user_data_dir))
    try:
        ctx = playwright.chromium.launch_persistent_context(
            str(udd),
            executable_path=executable,
            args=list(CHROMIUM_ARGS),
            headless=True,
            viewport=VIEWPORT,  # type: ignore[arg-type]
        )
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.set_default_timeout(30_000)
            yield ctx, page
        finally:
            ctx.close()
    finally:
        if own_udd:
            shutil.rmtree(udd, ignore_errors=True)


# JS: the current notebook panel, or null.
_JS_PANEL = """
const app = window.jupyterapp;
const panel = app && app.shell && app.shell.currentWidget;
const nbp = panel && panel.content && panel.sessionContext && panel.content.widgets ? panel : null;
"""

_JS_KERNEL_READY = (
    "(path) => {"
    + _JS_PANEL
    + """
    if (!nbp) return false;
    if (path && nbp.context && nbp.context.path !== path) return false;
    const sc = nbp.sessionContext;
    const k = sc.session && sc.session.kernel;
    return !!(sc.isReady && k && k.connectionStatus === 'connected' && k.status === 'idle');
}"""
)


def open_notebook(
    page: Page, server: LabServer, path: str, timeout: float = DEFAULT_TIMEOUT_MS
) -> dict[str, Any]:
    """Open ``/lab/tree/<path>?reset`` and wait until its kernel is REALLY ready.

    Returns ``{"kernel_id", "seconds", "comms_over_subshells", "supports_subshells"}``.
    """
    t0 = time.monotonic()
    url = server.lab_url(f"lab/tree/{urllib.parse.quote(path)}", reset=None)
    page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    page.wait_for_function("() => !!window.jupyterapp", timeout=timeout)
    page.wait_for_selector(CELLS, timeout=timeout)
    try:
        page.wait_for_function(_JS_KERNEL_READY, arg=path, timeout=timeout, polling=100)
    except Exception as exc:  # playwright TimeoutError; add the status bar to the message
        status = page.evaluate(
            "() => (document.querySelector('#jp-main-statusbar') || {}).innerText || ''"
        )
        raise AssertionError(
            f"kernel of {path} not ready after {timeout / 1000:.0f}s; status bar: {status!r}"
        ) from exc
    if server.comms_over_subshells is not None:
        # The lab setting is applied asynchronously after app start; wait for it to land.
        page.wait_for_function(
            "(v) => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
            ".commsOverSubshells === v",
            arg=server.comms_over_subshells,
            timeout=timeout,
        )
    info = page.evaluate(
        "() => {"
        + _JS_PANEL
        + """
        const k = nbp.sessionContext.session.kernel;
        return {kernel_id: k.id, comms_over_subshells: k.commsOverSubshells,
                supports_subshells: !!k.supportsSubshells};
    }"""
    )
    info["seconds"] = time.monotonic() - t0
    return info


def kernel_info(page: Page) -> dict[str, Any]:
    """Status of the current notebook's kernel connection (for asserts and debugging)."""
    return page.evaluate(
        "() => {"
        + _JS_PANEL
        + """
        if (!nbp) return {panel: false};
        const sc = nbp.sessionContext, k = sc.session && sc.session.kernel;
        return {panel: true, path: nbp.context.path, is_ready: sc.isReady,
                kernel_id: k ? k.id : null, status: k ? k.status : null,
                connection_status: k ? k.connectionStatus : null,
                comms_over_subshells: k ? k.commsOverSubshells : null,
                supports_subshells: k ? !!k.supportsSubshells : null};
    }"""
    )


# JS: true once no run is pending, the kernel is idle and every code cell has run
# (or an error stopped the run).  ``since`` is a map cell-index -> execution count before the
# run, so a cell only counts once its count changed.
_JS_RUN_DONE = (
    "(arg) => {"
    + _JS_PANEL
    + """
    if (!nbp) return false;
    const st = window.__skyRun;
    if (st && !st.settled) return false;
    const k = nbp.sessionContext.session && nbp.sessionContext.session.kernel;
    if (!k || k.status !== 'idle') return false;
    const cells = nbp.content.widgets;
    let errored = false;
    for (const i of arg.cells) {
        const c = cells[i];
        if (!c || c.model.type !== 'code') continue;
        if (errored) return true;   // later cells may have been aborted (no count)
        const n = c.model.executionCount;
        if (n === null || n === undefined) return false;
        const before = arg.since[String(i)];
        if (before !== undefined && before === n) return false;
        const outs = c.model.outputs;
        for (let j = 0; j < outs.length; j++) {
            if (outs.get(j).type === 'error') { errored = true; }
        }
    }
    return true;
}"""
)

_JS_COUNTS = (
    "() => {"
    + _JS_PANEL
    + """
    return nbp.content.widgets.map(c => c.model.type === 'code' ? c.model.executionCount : null);
}"""
)


def _start_command(page: Page, command: str) -> None:
    """Run a JupyterLab command; its promise is tracked in ``window.__skyRun``."""
    page.evaluate(
        """(command) => {
        const st = {settled: false, result: null, error: null};
        window.__skyRun = st;
        window.jupyterapp.commands.execute(command).then(
            (r) => { st.result = r === undefined ? null : r; st.settled = true; },
            (e) => { st.error = String(e); st.settled = true; });
    }""",
        command,
    )


def cell_count(page: Page) -> int:
    return int(page.evaluate("() => {" + _JS_PANEL + " return nbp.content.widgets.length; }"))


def run_all(
    page: Page, wait: bool = True, timeout: float = DEFAULT_TIMEOUT_MS, raise_on_error: bool = True
) -> None:
    """``notebook:run-all-cells`` via ``jupyterapp.commands``; optionally :func:`wait_for_run`.

    After a cell raises, ipykernel aborts only the execute requests it has already queued; a
    later cell whose request reaches it after that still runs (seen in ~1 run of 10 here).
    Don't rely on "cells after an error don't run".
    """
    _start_command(page, "notebook:run-all-cells")
    if wait:
        wait_for_run(page, timeout=timeout, raise_on_error=raise_on_error)


def wait_for_run(
    page: Page,
    cells: Iterable[int] | None = None,
    since: Mapping[int, int | None] | None = None,
    timeout: float = DEFAULT_TIMEOUT_MS,
    raise_on_error: bool = True,
) -> None:
    """Wait until the kernel is idle and every code cell (of ``cells``) has an execution count.

    With ``raise_on_error``, an ``error`` output in those cells raises AssertionError with its
    text.  Also raises if the run command failed.
    """
    idx = list(range(cell_count(page))) if cells is None else list(cells)
    arg = {"cells": idx, "since": {str(k): v for k, v in (since or {}).items()}}
    try:
        page.wait_for_function(_JS_RUN_DONE, arg=arg, timeout=timeout, polling=100)
    except Exception as exc:
        raise AssertionError(
            f"cells {idx} did not finish in {timeout / 1000:.0f}s; kernel {kernel_info(page)}; "
            f"execution counts {page.evaluate(_JS_COUNTS)}"
        ) from exc
    st = page.evaluate("() => window.__skyRun || null")
    if st and st.get("error"):
        raise AssertionError(f"JupyterLab command failed: {st['error']}")
    if raise_on_error:
        errors = [
            (i, cell_outputs(page, i))
            for i in idx
            if page.evaluate(
                "(i) => {"
                + _JS_PANEL
                + """
                const c = nbp.content.widgets[i];
                if (!c || c.model.type !== 'code') return false;
                for (let j = 0; j < c.model.outputs.length; j++)
                    if (c.model.outputs.get(j).type === 'error') return true;
                return false; }""",
                i,
            )
        ]
        if errors:
            text = "\n".join(f"--- cell {i}:\n" + "\n".join(o) for i, o in errors)
            raise AssertionError(f"notebook cell raised:\n{text}")


def run_cell(
    page: Page, i: int, wait: bool = True, timeout: float = DEFAULT_TIMEOUT_MS
) -> list[str]:
    """Run cell ``i`` in place (``notebook:run-cell``, no new cell); return its outputs."""
    before = page.evaluate(_JS_COUNTS)[i]
    page.evaluate(
        "(i) => {" + _JS_PANEL + " nbp.content.activeCellIndex = i; nbp.content.deselectAll(); }",
        i,
    )
    _start_command(page, "notebook:run-cell")
    if not wait:
        return []
    wait_for_run(page, cells=[i], since={i: before}, timeout=timeout)
    return cell_outputs(page, i)


def cell_locator(page: Page, i: int):
    """Locator of cell ``i`` (notebook index: markdown cells count too)."""
    return page.locator(CELLS).nth(i)


def cell_outputs(page: Page, i: int) -> list[str]:
    """innerText of each output area (``.jp-OutputArea-output``) of cell ``i``."""
    cell = cell_locator(page, i)
    with contextlib.suppress(Exception):
        cell.scroll_into_view_if_needed(timeout=5_000)
    return [t.strip() for t in cell.locator(".jp-OutputArea-output").all_inner_texts()]


def wait_for_output(
    page: Page, i: int, text: str, timeout: float = DEFAULT_TIMEOUT_MS
) -> list[str]:
    """Wait until an output of cell ``i`` contains ``text`` (a sentinel); return the outputs."""
    cell_locator(page, i).locator(".jp-OutputArea-output", has_text=text).first.wait_for(
        timeout=timeout
    )
    return cell_outputs(page, i)


def save_screenshot(page: Page, name: str, full_page: bool = False) -> Path:
    """Save ``artifacts/screenshots/<name>.png`` at the repo root; return its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    path = SCREENSHOT_DIR / (safe if safe.endswith(".png") else f"{safe}.png")
    page.screenshot(path=str(path), full_page=full_page)
    return path
