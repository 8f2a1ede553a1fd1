"""Write the example notebooks beside the quick start (kept as code so review diffs stay readable).

- ``teaching.ipynb``: a class exercise every student runs on ``local``; one flag moves it to Slurm.
- ``gpu_experiment.ipynb``: a small PyTorch training run on the CPU here, and where
  ``--gpus A100:1`` would put it (``%sky plan``).
- ``pipeline.ipynb``: three cells as the tasks of one pipeline (``--task`` / ``--after``) and its plan.

Each runs under nbclient on the local infra (tests/test_notebooks.py) and is rendered with its
outputs in the docs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parents[1] / "example_notebooks"

TEACHING = [
    (
        "md",
        "# Estimating π — a class exercise\n\n"
        "Every student runs this notebook as it is: `--infra local` starts a kernel on the student's own "
        "machine (or the JupyterHub pod), nothing to configure. To give the class the university's "
        "cluster instead, change one flag in the cells below — `--infra local` becomes "
        "`--infra slurm/hpc` (the `hpc` entry of the `slurm:` config section) — and each student's cells "
        "run in a Slurm allocation, with the same output and the same variables coming back.",
    ),
    ("code", "%load_ext jupyter_sky"),
    (
        "md",
        "## 1. Throw darts\nThe number of darts is set here, in the notebook; the cell that "
        "uses it runs on the cluster named `pi`, so `n` is sent there and `inside` comes back.",
    ),
    ("code", "n = 200_000\nseed = 7"),
    (
        "code",
        "%%sky --name pi --infra local\nimport numpy as np\n"
        "rng = np.random.default_rng(seed)\nx, y = rng.random(n), rng.random(n)\n"
        "inside = int(((x * x + y * y) <= 1.0).sum())\nprint(f'{inside} of {n} darts landed inside')",
    ),
    ("md", "## 2. Your estimate\nBack in the notebook: `inside` arrived with the cell's result."),
    (
        "code",
        "estimate = 4 * inside / n\nprint(f'pi is about {estimate:.3f}')\n"
        "assert abs(estimate - 3.14159) < 0.02, 'try more darts'",
    ),
    (
        "md",
        "## 3. How the estimate improves\nThe remote kernel kept `x` and `y`: this cell "
        "uses them without sending anything, and draws the plot there.",
    ),
    (
        "code",
        "%%sky --name pi --infra local\n%matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "hits = ((x * x + y * y) <= 1.0).cumsum()\ncounts = np.arange(1, n + 1)\n"
        "plt.semilogx(counts, 4 * hits / counts)\nplt.axhline(np.pi, color='grey', lw=0.5)\n"
        "plt.xlabel('darts'); plt.ylabel('estimate of pi'); plt.show()",
    ),
    (
        "md",
        "## 4. Hand the machine back\nThe cluster would stop by itself after `idle_minutes`; "
        "ending it now frees it at once.",
    ),
    ("code", "%sky down pi"),
]

GPU = [
    (
        "md",
        "# A quick GPU experiment, tried on the CPU first\n\n"
        "A small PyTorch model learns a noisy sine curve. Here it runs on the `local` infra — a "
        "kernel process on this machine, on its CPU — so the code can be checked in a minute at no "
        "cost. The same cell with `--gpus A100:1` instead of `--infra local` runs on the cheapest place "
        "that has an A100; `%sky plan` shows where that would be before anything starts.",
    ),
    ("code", "%load_ext jupyter_sky"),
    ("code", "epochs = 150\nhidden = 32"),
    (
        "code",
        "%%sky --name gpu-try --infra local\nimport torch\n"
        "device = 'cuda' if torch.cuda.is_available() else 'cpu'\ntorch.manual_seed(0)\n"
        "x = torch.linspace(-3, 3, 512, device=device).unsqueeze(1)\n"
        "y = torch.sin(x) + 0.1 * torch.randn_like(x)\n"
        "model = torch.nn.Sequential(torch.nn.Linear(1, hidden), torch.nn.Tanh(), "
        "torch.nn.Linear(hidden, 1)).to(device)\n"
        "opt = torch.optim.Adam(model.parameters(), lr=0.02)\n"
        "for epoch in range(epochs):\n    opt.zero_grad()\n"
        "    loss = torch.nn.functional.mse_loss(model(x), y)\n    loss.backward()\n    opt.step()\n"
        "    if epoch % 50 == 0:\n        print(f'epoch {epoch:3d} loss {loss.item():.4f}', flush=True)\n"
        "final_loss = loss.item()\nprint(f'trained on {device}: final loss {final_loss:.4f}')",
    ),
    (
        "md",
        "`final_loss` came back to the notebook (the model stays on the cluster: "
        "`--pull model` would bring it too).",
    ),
    ("code", "assert final_loss < 0.05\nfinal_loss"),
    (
        "md",
        "## Where would it run with a GPU?\n`%sky plan` ranks every placement for the same "
        "flags a cell would use, cheapest first, and launches nothing. Rows that cannot launch "
        "from here (no credentials for that cloud) are greyed with the reason.",
    ),
    ("code", "%sky plan --gpus A100:1 --time 1h"),
    ("md", "The cheapest A100 offers per cloud, from the shipped price catalog:"),
    ("code", "%sky gpus A100:1"),
    ("code", "%sky down gpu-try"),
]

PIPELINE = [
    (
        "md",
        "# A three-step pipeline\n\n"
        "Cells marked `--task NAME` are the steps of one pipeline; `--after` says which step's "
        "results a step needs. Each time a step is declared, the whole pipeline so far is placed at "
        "once (the cost of each step plus the egress between clouds), and the cell runs where its "
        "step was put. With no cloud credentials every step lands on this machine.",
    ),
    ("code", "%load_ext jupyter_sky"),
    (
        "code",
        "%%sky --task prep --time 10m --output-gb 1\n"
        "data = [i * 0.5 for i in range(1000)]\nprint(len(data), 'rows prepared')",
    ),
    (
        "code",
        "%%sky --task train --after prep --time 30m\n"
        "mean = sum(data) / len(data)\nweights = [mean, max(data)]\nprint('trained', weights)",
    ),
    (
        "code",
        "%%sky --task evaluate --after train --time 5m\n"
        "score = weights[0] / weights[1]\nprint(f'score {score:.3f}')",
    ),
    (
        "md",
        "The plan of the whole pipeline: where each step runs, what it costs, and the "
        "data moved between steps.",
    ),
    ("code", "%sky plan"),
    (
        "md",
        "With `--time` on every step the same pipeline can be placed for the shortest end-to-end "
        "time instead of the lowest cost:",
    ),
    ("code", "%sky plan --minimize time"),
    ("code", "print(score)"),
    (
        "code",
        "for name in ('prep', 'train', 'evaluate'):\n    get_ipython().run_line_magic('sky', f'down task-{name}')",
    ),
]


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells
    ]
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:02d}"  # stable ids: regenerating gives the same file
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main() -> None:
    for name, cells in (("teaching", TEACHING), ("gpu_experiment", GPU), ("pipeline", PIPELINE)):
        nbformat.write(build(cells), OUT / f"{name}.ipynb")
        print(f"wrote {OUT / f'{name}.ipynb'}")


if __name__ == "__main__":
    main()
