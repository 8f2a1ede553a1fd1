"""The Sky side panel in a real JupyterLab (headless Debian Chromium): a ``%%sky`` cell creates
a local cluster, the panel lists it within 2 s with its infra and cost, Down in the panel (after
its confirmation) ends it — the kernel process is gone and the state DB says it was ended from
the panel — and the next ``%%sky`` cell on that name starts a new kernel. The status bar shows
today's spend; the GPU search box shows the ``%sky gpus`` table. Screenshots go to
artifacts/screenshots/."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from jupyter_sky.state import Store

from .lab import LabServer, open_notebook, run_cell, save_screenshot, wait_for_output

pytestmark = pytest.mark.browser
NAME = "panel-b"
CELLS = [
    "%load_ext jupyter_sky",
    f"%%sky --name {NAME} --infra local\nimport os\nprint('PID', os.getpid())",
    f"%%sky --name {NAME} --infra local\nimport os\nprint('PID', os.getpid())",
]
PANEL = "#jupyter-sky-panel"
ROW = f'{PANEL} tr[data-cluster="{NAME}"]'


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone(pid: int, within: float = 10.0) -> bool:
    """Whether the process ends within ``within`` s (a SIGKILL lands a moment after it is sent)."""
    deadline = time.monotonic() + within
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _pid(outputs: list[str]) -> int:
    found = re.search(r"PID (\d+)", "\n".join(outputs))
    assert found, outputs
    return int(found.group(1))


def test_panel_lists_and_ends_a_cluster(lab_server: LabServer, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    lab_server.write_notebook("panel.ipynb", CELLS)
    open_notebook(page, lab_server, "panel.ipynb")
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-sky:open-panel')")
    page.wait_for_selector(f"{PANEL} h2", timeout=30_000)

    run_cell(page, 0)
    run_cell(page, 1, wait=False)
    pid = _pid(wait_for_output(page, 1, "PID", timeout=120_000))
    page.wait_for_selector(f'{ROW}[data-state="UP"]', timeout=2_000)  # polled every second
    row = page.locator(ROW).inner_text()
    assert "local" in row and f"pid {pid}" in row and "$0.0000/h" in row, row
    assert re.search(r"\$0\.0000\s", row + " "), row  # the cost so far
    assert "today" in page.locator(".jp-SkySpend").inner_text()
    save_screenshot(page, "sky-panel-cluster-up")

    page.locator(f"{ROW} .jp-SkyPanel-down").click()
    dialog = page.locator(".jp-Dialog")
    assert f"End cluster '{NAME}'?" in dialog.inner_text()
    save_screenshot(page, "sky-panel-down-confirmation")
    dialog.locator("button.jp-mod-warn").click()
    page.wait_for_selector(f'{ROW}[data-state="DOWN"]', timeout=15_000)
    assert _gone(pid)
    record = Store(Path(os.environ["JUPYTER_SKY_HOME"])).get_cluster(NAME)
    assert record is not None and (record.state, record.ended_by) == ("DOWN", "panel")
    assert "DOWN (panel)" in page.locator(ROW).inner_text()
    save_screenshot(page, "sky-panel-cluster-down")

    outputs = run_cell(page, 2, timeout=120_000)
    new_pid = _pid(outputs)
    assert new_pid != pid and _pid_alive(new_pid)
    page.wait_for_selector(f'{ROW}[data-state="UP"]', timeout=2_000)
    save_screenshot(page, "sky-panel-next-cell")

    page.locator(f"{PANEL} .jp-SkyPanel-gpuInput").fill("A100:8")
    page.locator(f"{PANEL} .jp-SkyPanel-gpuInfra").fill("aws")
    page.locator(f"{PANEL} .jp-SkyPanel-gpuSearch button").click()
    table = page.locator(f"{PANEL} .jp-SkyPanel-gpuResult table")
    table.wait_for(timeout=30_000)
    assert "p4d.24xlarge" in table.inner_text() or "p4de.24xlarge" in table.inner_text()
    save_screenshot(page, "sky-panel-gpu-search", full_page=True)
    page.locator(f"{ROW} .jp-SkyPanel-down").click()
    page.locator(".jp-Dialog button.jp-mod-warn").click()
    page.wait_for_selector(f'{ROW}[data-state="DOWN"]', timeout=15_000)
    assert _gone(new_pid)
