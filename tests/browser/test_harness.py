"""Real-browser tests of the harness itself: JupyterLab 4 + headless Chromium + Playwright.

Each test would fail if a harness piece were broken: server start, real kernel readiness,
Run All, reading rendered outputs, browser -> kernel comm messages, the commsOverSubshells
switch, screenshots.
"""

from __future__ import annotations

import ast
import re
import textwrap
import time

import pytest

from .lab import (
    LabServer,
    cell_count,
    cell_locator,
    cell_outputs,
    kernel_info,
    open_notebook,
    run_all,
    run_cell,
    save_screenshot,
    wait_for_output,
    write_notebook,
)

pytestmark = pytest.mark.browser


def test_written_notebook_is_valid_nbformat(tmp_path) -> None:
    import nbformat  # slow import (jsonschema); done once here, before any server starts

    path = write_notebook(
        tmp_path, "sub/v.ipynb", ["x = 1", {"cell_type": "markdown", "source": "# t"}]
    )
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    assert [c.cell_type for c in nb.cells] == ["code", "markdown"]
    assert nb.metadata.kernelspec.name == "python3"


def test_run_all_reads_text_html_and_errors(lab_server: LabServer, browser_page) -> None:
    page = browser_page
    lab_server.write_notebook(
        "hello.ipynb",
        [
            "print('hello')",
            "from IPython.display import HTML, display\n"
            "display(HTML('<b class=\"sky-probe\">bold <i>html</i></b>'))",
            "6 * 7",
            "1 / 0",  # last: cells after an error may or may not run (see run_all)
        ],
    )
    t0 = time.monotonic()
    info = open_notebook(page, lab_server, "hello.ipynb")
    assert kernel_info(page)["status"] == "idle", info
    t_open = time.monotonic()

    # run_all reports the ZeroDivisionError with its traceback text.
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        run_all(page)
    print(
        f"[hello] server start {lab_server.startup_seconds:.1f}s, open->kernel idle "
        f"{t_open - t0:.1f}s, run all {time.monotonic() - t_open:.1f}s"
    )

    assert wait_for_output(page, 0, "hello") == ["hello"]
    assert cell_outputs(page, 1) == ["bold html"]
    # Rendered as HTML, not shown as escaped markup.
    assert cell_locator(page, 1).locator("b.sky-probe i").inner_text() == "html"
    assert cell_outputs(page, 2) == ["42"]
    assert "ZeroDivisionError" in "\n".join(cell_outputs(page, 3))

    # Re-run a cell in place: same outputs, no new cell added.
    n = cell_count(page)
    assert run_cell(page, 0) == ["hello"]
    assert cell_count(page) == n
    shot = save_screenshot(page, "harness-hello")
    assert shot.stat().st_size > 10_000


SLIDER_CELL = textwrap.dedent(
    """
    import threading
    import ipywidgets as widgets
    from IPython.display import display

    observed, threads = [], []
    slider = widgets.IntSlider(value=0, min=0, max=10, description='sky')
    echo = widgets.Label(value='echo:[]')

    def on_value(change):
        observed.append(change['new'])
        threads.append((change['new'], threading.current_thread().name))
        echo.value = f'echo:{observed}'

    slider.observe(on_value, names='value')
    display(widgets.VBox([slider, echo]))
    """
).strip()
REPORT_CELL = "print('OBSERVED', observed)\nprint('THREADS', threads)"


def _slider_roundtrip(server: LabServer, page, name: str) -> list[str]:
    """Press ArrowRight 3x on a real IntSlider.

    Returns ``[comms_over_subshells, supports_subshells, (value, kernel thread name), ...]``.
    """
    server.write_notebook(f"{name}.ipynb", [SLIDER_CELL, REPORT_CELL])
    t0 = time.monotonic()
    info = open_notebook(page, server, f"{name}.ipynb")
    t_open = time.monotonic()
    run_all(page)
    t_run = time.monotonic()
    assert cell_outputs(page, 1) == ["OBSERVED []\nTHREADS []"]

    handle = cell_locator(page, 0).locator(".widget-slider .noUi-handle")
    readout = cell_locator(page, 0).locator(".widget-slider .widget-readout")
    echo = cell_locator(page, 0).locator(".widget-label", has_text="echo:")
    echo.wait_for()
    handle.focus()
    for expected in (1, 2, 3):
        page.keyboard.press("ArrowRight")
        # Front end moved, and the kernel's observe callback answered through the echo label:
        # a browser -> kernel -> browser round trip per key press (no coalescing of values).
        page.wait_for_function(
            "([el, v]) => el.innerText.trim() === v",
            arg=[readout.element_handle(), str(expected)],
        )
        want = "echo:" + str(list(range(1, expected + 1)))
        page.wait_for_function(
            "([el, v]) => el.innerText.trim() === v", arg=[echo.element_handle(), want]
        )
    t_keys = time.monotonic()

    out = run_cell(page, 1)
    save_screenshot(page, f"harness-{name}")
    assert len(out) == 1, out
    observed_line, threads_line = out[0].splitlines()
    assert observed_line == "OBSERVED [1, 2, 3]"
    m = re.fullmatch(r"THREADS (\[.*\])", threads_line)
    assert m, threads_line
    threads = ast.literal_eval(m.group(1))
    assert threads, out
    print(
        f"[{name}] server start {server.startup_seconds:.1f}s, open->kernel idle "
        f"{t_open - t0:.1f}s, run all {t_run - t_open:.1f}s, 3 key round trips "
        f"{t_keys - t_run:.1f}s, report cell {time.monotonic() - t_keys:.1f}s; {threads}"
    )
    return [info["comms_over_subshells"], info["supports_subshells"], *threads]


def test_slider_keys_reach_kernel(lab_server: LabServer, browser_page) -> None:
    mode, supports, *threads = _slider_roundtrip(lab_server, browser_page, "slider")
    assert [v for v, _ in threads] == [1, 2, 3]
    if lab_server.comms_over_subshells == "disabled" or not supports:
        assert {t for _, t in threads} == {"MainThread"}, threads
    else:
        # JupyterLab's default (perCommTarget): the front end tags widget comm messages with a
        # subshell id.  ipykernel 7.4 routes a comm_msg to the subshell of the last message the
        # kernel published on that comm, so the first key press after the creating cell runs on
        # MainThread and the later ones on the subshell thread.
        assert mode in ("perComm", "perCommTarget")
        assert threads[-1][1].startswith("subshell-"), threads


@pytest.mark.parametrize("lab_server", [{"comms_over_subshells": "disabled"}], indirect=True)
def test_slider_keys_reach_kernel_without_subshells(lab_server: LabServer, browser_page) -> None:
    assert lab_server.comms_over_subshells == "disabled"
    mode, supports, *threads = _slider_roundtrip(lab_server, browser_page, "slider-nosubshells")
    assert mode == "disabled"
    assert supports, "ipykernel >= 7 supports subshells; the switch would be meaningless"
    # The switch took effect: every comm message went to the main shell, none to a subshell.
    assert threads == [(1, "MainThread"), (2, "MainThread"), (3, "MainThread")]
