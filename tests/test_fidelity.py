"""Notebook fidelity without a browser: remote widgets (comms bridged both ways), late
output in its own cell, and the status line. The real-browser versions are in
tests/browser/."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbdriver import Notebook
from nbformat.v4 import new_code_cell, new_notebook


def run_notebook(cells: list[str], home: Path, cwd: Path) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    os.environ["JUPYTER_SKY_HOME"] = str(home)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return nb


def widget_state(nb: nbformat.NotebookNode) -> dict:
    saved = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return dict(saved.get("state", {}))


def texts(cell: nbformat.NotebookNode) -> str:
    out = []
    for o in cell.outputs:
        out.append(o.get("text", "") or o.get("data", {}).get("text/plain", ""))
    return "\n".join(out)


def test_tqdm_notebook_bar_is_a_real_widget_with_final_state(
    session_home: Path, tmp_path: Path
) -> None:
    nb = run_notebook(
        [
            "%load_ext jupyter_sky",
            "%%sky --name tq\npass",  # creates the cluster: its placement table is a widget too
            "%%sky --name tq\nfrom tqdm.notebook import tqdm\nimport time\nfor i in tqdm(range(5)):\n    time.sleep(0.02)",
            "%sky down tq",
        ],
        session_home,
        tmp_path,
    )
    views = [
        o
        for o in nb.cells[2].outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert len(views) == 1
    bars = [m for m in widget_state(nb).values() if m["model_name"] == "FloatProgressModel"]
    assert [(b["state"]["value"], b["state"]["max"]) for b in bars] == [(5.0, 5.0)]


def test_output_widget_captures_remote_output(session_home: Path, tmp_path: Path) -> None:
    nb = run_notebook(
        [
            "%load_ext jupyter_sky",
            "%%sky --name ow\nimport ipywidgets as W\nout = W.Output()\ndisplay(out)\nwith out:\n    print('inside output widget')",
            "%sky down ow",
        ],
        session_home,
        tmp_path,
    )
    outputs = [m for m in widget_state(nb).values() if m["model_name"] == "OutputModel"]
    assert [o["text"] for o in outputs[0]["state"]["outputs"]] == ["inside output widget\n"]
    assert "inside output widget" not in texts(nb.cells[1])  # captured, not in the cell


def test_late_thread_output_lands_in_its_own_cell(session_home: Path, tmp_path: Path) -> None:
    late = (
        "%%sky --name late\nimport threading, time\ndef bg():\n    time.sleep(1.0)\n"
        "    print('late line 1', flush=True)\n    time.sleep(0.3)\n    print('late line 2', flush=True)\n"
        "threading.Thread(target=bg).start()\nprint('cell done')"
    )
    nb = run_notebook(
        [
            "%load_ext jupyter_sky",
            late,
            "%%sky --name late\nimport time\ntime.sleep(3)\nprint('next cell')",
            "%sky down late",
        ],
        session_home,
        tmp_path,
    )
    assert "late line 1\nlate line 2" in texts(nb.cells[1])
    assert "cell done" in texts(nb.cells[1])
    assert "late line" not in texts(nb.cells[2])
    assert "next cell" in texts(nb.cells[2])


def test_status_line_says_where_the_cell_ran(nb: Notebook) -> None:
    assert nb.run("%%sky --name whereami\npass").status == "ok"  # warm: no placement table
    res = nb.run("%%sky --name whereami\nimport os\nprint(os.getpid())")
    pid = res.stdout.strip()
    status = res.of_type("display_data")[0]
    assert status.content["metadata"] == {"jupyter_sky": "status"}
    assert re.fullmatch(rf"▸ sky · cluster whereami · local pid {pid} on \S+", status.text)
    assert "display_id" in status.content["transient"]


def test_slider_event_from_frontend_reaches_remote_observer(nb: Notebook) -> None:
    """Frontend-protocol level (jupyter_client plays the browser): a comm_msg sent to the
    notebook kernel for a remote slider reaches the slider's observer in the remote kernel.
    The same flow, driven by a real browser, is in tests/browser/test_remote_widgets.py."""
    code = (
        "%%sky --name w\nimport ipywidgets as W\nseen = []\nslider = W.IntSlider(value=0)\n"
        "slider.observe(lambda change: seen.append(change['new']), names='value')\ndisplay(slider)"
    )
    res = nb.run(code)
    assert res.status == "ok", res.error_text
    opens = [
        o.content
        for o in res.of_type("comm_open")
        if o.content["data"]["state"].get("_model_name") == "IntSliderModel"
    ]
    assert len(opens) == 1
    comm_id = opens[0]["comm_id"]
    views = [
        o.content["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for o in res.of_type("display_data")
        if "application/vnd.jupyter.widget-view+json" in o.content["data"]
    ]
    assert comm_id in views
    update = {
        "comm_id": comm_id,
        "data": {"method": "update", "state": {"value": 3}, "buffer_paths": []},
    }
    nb.kc.shell_channel.send(nb.kc.session.msg("comm_msg", update))
    local_pid = nb.value("__import__('os').getpid()")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = nb.run(
            "%%sky --name w\nimport os\nprint(seen, slider.value, os.getpid())"
        ).stdout.split("\n")[0]
        if out.startswith("[3]"):
            break
        time.sleep(0.1)
    seen, value, pid = out.rsplit(" ", 2)
    assert (seen, value) == ("[3]", "3")
    assert pid != local_pid
