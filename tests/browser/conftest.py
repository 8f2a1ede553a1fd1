"""Fixtures for real-browser tests: a hermetic JupyterLab server and a headless Chromium page.

- ``lab_server`` (session): a started :class:`LabServer`.  Options come from an indirect
  parameter, e.g.::

      @pytest.mark.parametrize("lab_server", [{"comms_over_subshells": "disabled"}],
                               indirect=True)

  (keys: the keyword arguments of :func:`lab.start_lab_server`), or, for the un-parametrized
  server, from the environment: ``JUPYTER_SKY_COMMS_OVER_SUBSHELLS`` (disabled | perComm |
  perCommTarget), ``JUPYTER_SKY_KERNEL_CONFIG`` (JSON, IPython kernel config) and
  ``JUPYTER_SKY_LAB_ARGS`` (extra ``jupyter lab`` arguments, shell-quoted).  One server is
  started per distinct set of options and kept for the whole session.
- ``lab_server_factory`` (session): ``factory(**options) -> LabServer``, same cache.
- ``browser_page`` (function): a Playwright page in a fresh persistent Chromium context
  (Debian's chromium, never ``playwright install``).  On test failure a screenshot and the
  browser console go to ``artifacts/screenshots/FAILED-<test>.*``.
- ``browser_console`` (function): the console messages / page errors of ``browser_page``.

Every test in this directory is skipped when no chromium is installed, unless ``CI`` is set:
then a missing browser is an error.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from . import lab


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    rep = yield
    setattr(item, f"_sky_rep_{rep.when}", rep)
    return rep


@pytest.fixture(scope="session", autouse=True)
def _require_chromium() -> str:
    """Skip (or, under CI, fail) before any server starts when there is no chromium."""
    path = lab.find_chromium()
    if path:
        return path
    msg = (
        f"Debian chromium not found at {' or '.join(lab.CHROMIUM_CANDIDATES)}; "
        "install it with: bash scripts/install_browser.sh .venv/bin/python"
    )
    if lab.is_ci():
        pytest.fail(f"CI is set, so a missing browser is a failure: {msg}", pytrace=False)
    pytest.skip(msg)


def _options_from_env() -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if os.environ.get("JUPYTER_SKY_COMMS_OVER_SUBSHELLS"):
        opts["comms_over_subshells"] = os.environ["JUPYTER_SKY_COMMS_OVER_SUBSHELLS"]
    if os.environ.get("JUPYTER_SKY_KERNEL_CONFIG"):
        opts["kernel_config"] = json.loads(os.environ["JUPYTER_SKY_KERNEL_CONFIG"])
    if os.environ.get("JUPYTER_SKY_LAB_ARGS"):
        opts["extra_args"] = shlex.split(os.environ["JUPYTER_SKY_LAB_ARGS"])
    return opts


@pytest.fixture(scope="session")
def lab_server_factory(
    tmp_path_factory: pytest.TempPathFactory, _require_chromium: str, session_home: Any
) -> Iterator[Any]:
    # session_home sets JUPYTER_SKY_HOME first: kernels the lab starts inherit it, so
    # %%sky clusters from browser tests live (and are cleaned up) under the test home.
    servers: dict[str, lab.LabServer] = {}

    def factory(**options: Any) -> lab.LabServer:
        key = json.dumps(options, sort_keys=True, default=str)
        server = servers.get(key)
        if server is None or not server.alive():
            base = tmp_path_factory.mktemp("lab")
            server = lab.start_lab_server(base, **options)
            servers[key] = server
        return server

    yield factory
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def lab_server(request: pytest.FixtureRequest, lab_server_factory: Any) -> lab.LabServer:
    param = getattr(request, "param", None)
    options = dict(param) if param else _options_from_env()
    return lab_server_factory(**options)


@pytest.fixture(autouse=True)
def _fresh_kernels(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that used ``lab_server``, shut its kernels down (next test: fresh)."""
    server = request.getfixturevalue("lab_server") if "lab_server" in request.fixturenames else None
    yield
    if server is not None:
        server.shutdown_kernels()


@pytest.fixture(scope="session")
def _playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture
def browser_console() -> list[str]:
    return []


@pytest.fixture
def browser_page(
    request: pytest.FixtureRequest,
    _playwright: Any,
    _require_chromium: str,
    browser_console: list[str],
) -> Iterator[Any]:
    with lab.launch_browser(_playwright, executable=_require_chromium) as (_ctx, page):
        page.on("console", lambda m: browser_console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: browser_console.append(f"[pageerror] {e}"))
        yield page
        rep = getattr(request.node, "_sky_rep_call", None)
        if rep is not None and rep.failed:
            name = "FAILED-" + request.node.name
            try:
                shot = lab.save_screenshot(page, name, full_page=True)
                shot.with_suffix(".console.txt").write_text("\n".join(browser_console) + "\n")
            except Exception as exc:  # the page may be dead; don't hide the real failure
                print(f"could not save failure artifacts: {exc}")
