"""Every notebook in example_notebooks/ runs under nbclient on the local infra, and the
quickstart's recorded outputs show what it promises."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "example_notebooks").glob("*.ipynb"))


def execute(path: Path, home: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    os.environ["JUPYTER_SKY_HOME"] = str(home)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    return nb


def outputs_of(nb: nbformat.NotebookNode, needle: str) -> list[dict]:
    cells = [c for c in nb.cells if c.cell_type == "code" and needle in c.source]
    assert cells, needle
    return list(cells[0].outputs)


def text(outputs: list[dict]) -> str:
    parts = []
    for out in outputs:
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] == "error":
            parts.append(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(out["traceback"])))
        elif "text/plain" in out.get("data", {}):
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, session_home: Path) -> None:
    nb = execute(path, session_home)
    for cell in nb.cells:
        if cell.cell_type == "code" and "raises-exception" not in cell.metadata.get("tags", []):
            assert not [o for o in cell.outputs if o["output_type"] == "error"], cell.source


def test_quickstart_outputs(session_home: Path) -> None:
    nb = execute(
        Path(__file__).parent.parent / "example_notebooks" / "quickstart.ipynb", session_home
    )
    streamed = [
        o["text"] for o in outputs_of(nb, "for step in range(3)") if o["output_type"] == "stream"
    ]
    assert "".join(streamed) == "step 0\nstep 1\nstep 2\n"
    # the first %%sky cell of a plain local run shows at most 5 placement rows (issue 14)
    tables = [
        o["data"]["text/html"]
        for o in outputs_of(nb, "for step in range(3)")
        if "sky-plan-static" in o.get("data", {}).get("text/html", "")
    ]
    assert len(tables) == 1 and 1 <= tables[0].count("<tr") - 1 <= 5
    assert len(streamed) == 3  # three separate messages: output arrived live, not at the end
    assert text(outputs_of(nb, "print(total, data)")).strip() == "6 [1, 2, 3, 4]"
    plot = outputs_of(nb, "drawn remotely")
    assert any("image/png" in o.get("data", {}) for o in plot)
    assert "5/5" in text(plot)
    local_pid = re.search(r"notebook pid (\d+)", text(outputs_of(nb, "notebook pid"))).group(1)  # type: ignore[union-attr]
    remote = text(outputs_of(nb, "remote pid"))
    remote_pid = re.search(r"remote pid (\d+)", remote).group(1)  # type: ignore[union-attr]
    assert remote_pid != local_pid
    assert f"shell's parent pid {remote_pid}" in remote
    assert "Wall time" in remote
    error = outputs_of(nb, "ratio(1, 0)")
    assert [o["ename"] for o in error if o["output_type"] == "error"] == ["ZeroDivisionError"]
    assert "return a / b" in text(error) and "raised in the remote kernel" in text(error)
    assert "demo" in text(outputs_of(nb, "%sky status"))
    assert "cluster 'demo' is down" in text(outputs_of(nb, "%sky down demo"))
