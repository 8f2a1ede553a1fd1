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


def check_teaching(nb: nbformat.NotebookNode) -> None:
    """Runs on local as shipped; the markdown names the one flag that moves it to Slurm."""
    sky_cells = [c.source for c in nb.cells if c.source.startswith("%%sky")]
    assert sky_cells and all("--infra local" in c.splitlines()[0] for c in sky_cells)
    assert "`--infra slurm/hpc`" in nb.cells[0].source
    assert re.search(r"\d+ of 200000 darts landed inside", text(outputs_of(nb, "rng = np")))
    assert "pi is about 3.1" in text(outputs_of(nb, "estimate = 4"))
    assert any("image/png" in o.get("data", {}) for o in outputs_of(nb, "semilogx"))
    assert "cluster 'pi' is down" in text(outputs_of(nb, "%sky down pi"))


def check_gpu_experiment(nb: nbformat.NotebookNode) -> None:
    """PyTorch trains on this machine's CPU; the plan shows where --gpus A100:1 would go."""
    trained = text(outputs_of(nb, "import torch"))
    assert "epoch   0 loss" in trained and "trained on cpu: final loss" in trained
    plan = outputs_of(nb, "%sky plan --gpus A100:1")
    html = "".join(o.get("data", {}).get("text/html", "") for o in plan)
    assert "A100" in html and "credentials" in html, html[:2000]
    assert "A100" in text(outputs_of(nb, "%sky gpus A100:1"))
    assert "cluster 'gpu-try' is down" in text(outputs_of(nb, "%sky down gpu-try"))


def check_pipeline(nb: nbformat.NotebookNode) -> None:
    """Three tasks placed as one pipeline, each run where it was put, and the plan shown."""
    assert "1000 rows prepared" in text(outputs_of(nb, "--task prep"))
    assert "trained [249.75, 499.5]" in text(outputs_of(nb, "--task train"))
    assert "score 0.500" in text(outputs_of(nb, "--task evaluate"))
    (cell,) = [c for c in nb.cells if c.source == "%sky plan"]
    plan = text(cell.outputs)
    assert all(name in plan for name in ("prep", "train", "evaluate")) and "local" in plan
    assert "DagPlan(" not in plan  # the table, not the dataclass
    downs = text(outputs_of(nb, "for name in"))
    assert all(f"cluster 'task-{n}' is down" in downs for n in ("prep", "train", "evaluate"))


CHECKS = {"teaching": check_teaching, "gpu_experiment": check_gpu_experiment, "pipeline": check_pipeline}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, session_home: Path) -> None:
    nb = execute(path, session_home)
    for cell in nb.cells:
        if cell.cell_type == "code" and "raises-exception" not in cell.metadata.get("tags", []):
            assert not [o for o in cell.outputs if o["output_type"] == "error"], cell.source
    if path.stem in CHECKS:
        CHECKS[path.stem](nb)


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
