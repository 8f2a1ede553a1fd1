"""%%sky cells in a real JupyterLab in headless Chromium: the quickstart end to end, remote
widgets whose browser events reach the remote kernel, a remote tqdm.notebook bar, and
late thread output that lands in its own cell — with comms over subshells at JupyterLab's
default and disabled. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from .lab import (
    _JS_PANEL,
    LabServer,
    _start_command,
    cell_locator,
    open_notebook,
    run_all,
    run_cell,
    save_screenshot,
    wait_for_run,
)

pytestmark = pytest.mark.browser
QUICKSTART = Path(__file__).resolve().parents[2] / "example_notebooks" / "quickstart.ipynb"

SLIDER = textwrap.dedent(
    """
    %%sky --name w
    import ipywidgets as widgets
    observed = []
    slider = widgets.IntSlider(value=0, min=0, max=10, description='remote')
    echo = widgets.Label(value='echo:[]')
    def on_value(change):
        observed.append(change['new'])
        echo.value = f'echo:{observed}'
    slider.observe(on_value, names='value')
    display(widgets.VBox([slider, echo]))
    """
).strip()
REPORT = "%%sky --name w\nimport os\nprint('OBSERVED', observed, os.getpid())"
LOCAL_PID = "import os\nprint('LOCAL', os.getpid())"
TQDM = "%%sky --name w\nfrom tqdm.notebook import tqdm\nimport time\nfor i in tqdm(range(20)):\n    time.sleep(0.03)"
LATE = textwrap.dedent(
    """
    %%sky --name w
    import threading, time
    def later():
        time.sleep(1.0)
        print('late line 1', flush=True)
        time.sleep(0.3)
        print('late line 2', flush=True)
    threading.Thread(target=later).start()
    print('cell done')
    """
).strip()
NEXT = "%%sky --name w\nimport time\ntime.sleep(3)\nprint('next cell')"
INTERACT = "%%sky --name w\nfrom ipywidgets import interact\n@interact(x=5)\ndef shown(x):\n    print('x is', x)"
REDISPLAY = "%%sky --name w\ndisplay(slider)"
DOWN = "%sky down w"


def test_quickstart_runs_in_the_browser(lab_server: LabServer, browser_page) -> None:
    page = browser_page
    nb = json.loads(QUICKSTART.read_text())
    (lab_server.root_dir / "quickstart.ipynb").write_text(json.dumps(nb))
    open_notebook(page, lab_server, "quickstart.ipynb")
    # Markdown cells get no source here, so needles only ever match code cells.
    sources = ["".join(c["source"]) if c["cell_type"] == "code" else "" for c in nb["cells"]]
    error_at = next(i for i, s in enumerate(sources) if "ratio(1, 0)" in s)
    run_all(page, wait=False)
    code_before = [
        i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and i <= error_at
    ]
    wait_for_run(page, cells=code_before, raise_on_error=False, timeout=180_000)
    for i, cell in enumerate(nb["cells"]):  # Run All stops at the error: run the rest one by one
        if i > error_at and cell["cell_type"] == "code":
            run_cell(page, i)

    def out(needle: str, sentinel: str) -> str:
        # Windowed notebooks render scrolled-in cells lazily: wait for a sentinel first.
        index = next(i for i, s in enumerate(sources) if needle in s)
        return "\n".join(wait_text(page, index, sentinel))

    assert "step 0\nstep 1\nstep 2" in out("for step in range(3)", "step 2")
    assert "6 [1, 2, 3, 4]" in out("print(total, data)", "6 [")
    plot = next(i for i, s in enumerate(sources) if "drawn remotely" in s)
    assert "5/5" in out("drawn remotely", "5/5")
    assert cell_locator(page, plot).locator(".jp-RenderedImage img").count() == 1
    remote = out("remote pid", "Wall time")
    pid = re.search(r"remote pid (\d+)", remote).group(1)  # type: ignore[union-attr]
    assert f"shell's parent pid {pid}" in remote
    local = out("notebook pid", "notebook pid")
    assert re.search(r"notebook pid (\d+)", local).group(1) != pid  # type: ignore[union-attr]
    error = out("ratio(1, 0)", "ZeroDivisionError")
    assert "return a / b" in error and "raised in the remote kernel" in error
    assert "cluster 'demo' is down" in out("%sky down demo", "is down")
    save_screenshot(page, "sky-quickstart", full_page=True)


def run_all_above(page, index: int) -> None:  # type: ignore[no-untyped-def]
    """Run every cell above ``index`` (JupyterLab's notebook:run-all-above)."""
    page.evaluate(
        "(i) => {" + _JS_PANEL + " nbp.content.activeCellIndex = i; nbp.content.deselectAll(); }",
        index,
    )
    _start_command(page, "notebook:run-all-above")


def wait_text(page, i: int, sentinel: str, timeout: float = 90_000) -> list[str]:  # type: ignore[no-untyped-def]
    """Wait until cell i's outputs contain ``sentinel`` (by textContent); return them."""
    cell = cell_locator(page, i)
    cell.scroll_into_view_if_needed(timeout=5_000)
    page.wait_for_function(
        "([el, s]) => [...el.querySelectorAll('.jp-OutputArea-output')].some(o => o.textContent.includes(s))",
        arg=[cell.element_handle(), sentinel],
        timeout=timeout,
    )
    return texts(page, i)


def texts(page, i: int) -> list[str]:  # type: ignore[no-untyped-def]
    """textContent of cell i's outputs: innerText is empty for cells that JupyterLab's
    windowed notebook keeps out of layout (content-visibility), textContent is not."""
    return (
        cell_locator(page, i)
        .locator(".jp-OutputArea-output")
        .evaluate_all("els => els.map(e => e.textContent.trim())")
    )


def _remote_widgets(server: LabServer, page, name: str) -> None:
    # The last cell (%sky down) is run by hand at the end: downing the cluster closes the
    # bridge, and the slider's events would then have nowhere to go.
    cells = [
        "%load_ext jupyter_sky",
        SLIDER,
        REPORT,
        LOCAL_PID,
        TQDM,
        LATE,
        NEXT,
        INTERACT,
        REDISPLAY,
        DOWN,
    ]
    server.write_notebook(f"{name}.ipynb", cells)
    open_notebook(page, server, f"{name}.ipynb")
    run_all_above(page, len(cells) - 1)
    wait_for_run(page, cells=[0, 1, 2, 3], timeout=120_000)

    # A slider created in the remote kernel, moved in the browser: focus + ArrowRight x3.
    handle = cell_locator(page, 1).locator(".widget-slider .noUi-handle")
    readout = cell_locator(page, 1).locator(".widget-slider .widget-readout")
    echo = cell_locator(page, 1).locator(".widget-label", has_text="echo:")
    echo.wait_for()
    wait_for_run(page, cells=range(9), timeout=120_000)  # incl. the late-output cells
    handle.focus()
    for expected in (1, 2, 3):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "([el, v]) => el.innerText.trim() === v", arg=[readout.element_handle(), str(expected)]
        )
        want = "echo:" + str(list(range(1, expected + 1)))  # set by the remote observe callback
        page.wait_for_function(
            "([el, v]) => el.innerText.trim() === v", arg=[echo.element_handle(), want]
        )
    report = run_cell(page, 2)[-1]
    local = run_cell(page, 3)[-1]
    observed, remote_pid = re.fullmatch(r"OBSERVED (\[.*\]) (\d+)", report.strip()).groups()  # type: ignore[union-attr]
    assert observed == "[1, 2, 3]"
    assert remote_pid != local.split()[-1]

    # A remote tqdm.notebook bar renders as a widget and completes.
    wait_text(page, 4, "20/20")
    bar = cell_locator(page, 4).locator(".widget-hprogress")
    assert bar.count() == 1

    # Late output of a remote thread lands in its own cell, not in the next one.
    wait_text(page, 5, "late line 2")
    wait_text(page, 6, "next cell")
    assert "late line" not in "\n".join(texts(page, 6))
    assert "▸ sky · cluster w · local pid" in texts(page, 5)[0]  # where it ran

    # interact: its output widget shows the remote function's output, and follows the slider.
    wait_text(page, 7, "x is 5")
    cell_locator(page, 7).locator(".widget-slider .noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    wait_text(page, 7, "x is 6")
    # The remote slider displayed again in a later cell: a second view of the same model.
    readout2 = cell_locator(page, 8).locator(".widget-slider .widget-readout")
    readout2.wait_for()
    assert readout2.inner_text().strip() == "3"
    save_screenshot(page, f"sky-{name}", full_page=True)
    assert "is down" in run_cell(page, 9)[-1]


def test_remote_widgets_and_late_output(lab_server: LabServer, browser_page) -> None:
    _remote_widgets(lab_server, browser_page, "remote-widgets")


@pytest.mark.parametrize("lab_server", [{"comms_over_subshells": "disabled"}], indirect=True)
def test_remote_widgets_and_late_output_without_subshells(
    lab_server: LabServer, browser_page
) -> None:
    assert lab_server.comms_over_subshells == "disabled"
    _remote_widgets(lab_server, browser_page, "remote-widgets-nosubshells")
