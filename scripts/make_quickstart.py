"""Write example_notebooks/quickstart.ipynb (kept as code so review diffs stay readable)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    (
        "md",
        "# jupyter-sky quick start\n\n`%%sky` runs a cell on a warm remote IPython kernel — here on the `local` infra "
        "(a kernel process on this machine: no credentials, no network). Output streams back live, variables "
        "travel both ways, errors come back as errors.",
    ),
    ("code", "%load_ext jupyter_sky"),
    ("code", "%sky check"),
    ("md", "## Live output\nEach line appears as the remote cell prints it, not at the end."),
    (
        "code",
        "%%sky --name demo\nimport time\nfor step in range(3):\n    print(f'step {step}', flush=True)\n    time.sleep(0.3)",
    ),
    (
        "md",
        "## Variables in and out\n`data` is read by the cell, so it is sent; `total` is assigned, so it comes back; "
        "`data.append` changes `data` in place remotely, so the change comes back too.",
    ),
    ("code", "data = [1, 2, 3]"),
    ("code", "%%sky --name demo\ntotal = sum(data)\ndata.append(4)"),
    ("code", "print(total, data)"),
    (
        "md",
        "## Plots and progress bars\nAn inline matplotlib figure and a text progress bar, drawn remotely.",
    ),
    (
        "code",
        "%%sky --name demo\n%matplotlib inline\nimport matplotlib.pyplot as plt\nfrom tqdm import tqdm\n"
        "for _ in tqdm(range(5), ascii=True):\n    time.sleep(0.05)\nplt.plot([1, 4, 9, 16])\nplt.title('drawn remotely')\nplt.show()",
    ),
    (
        "md",
        "## Shell commands and magics run remotely\nThe shell's parent process is the remote kernel, not this notebook.",
    ),
    ("code", "import os\nprint('notebook pid', os.getpid())"),
    (
        "code",
        "%%sky --name demo\nimport os\nprint('remote pid', os.getpid())\n!echo \"shell's parent pid $PPID\"\n%time squares = [i * i for i in range(1000)]",
    ),
    (
        "md",
        "## Errors come back as errors\nThe remote traceback is shown and the cell is marked failed.",
    ),
    (
        "code",
        "%%sky --name demo\ndef ratio(a, b):\n    return a / b\nratio(1, 0)",
        ["raises-exception"],
    ),
    ("md", "## Where could a cell run, and what would it cost?\nThe first cell on a new cluster showed "
           "every placement with its price (above, under the streaming cell). Without a GPU here, "
           "`--gpus A100:1` would be refused with what is missing; these look before launching anything."),
    ("code", "%sky gpus A100:1"),
    ("code", "%sky plan --gpus A100:1 --time 2h"),
    ("md", "## Clusters\nThe kernel stays warm until `%sky down` (or its idle watchdog)."),
    ("code", "%sky status"),
    ("code", "%sky down demo"),
]


def build() -> nbformat.NotebookNode:
    cells = []
    for kind, source, *tags in CELLS:
        if kind == "md":
            cells.append(new_markdown_cell(source))
        else:
            cell = new_code_cell(source)
            if tags:
                cell.metadata["tags"] = tags[0]
            cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "example_notebooks" / "quickstart.ipynb"
    nbformat.write(build(), out)
    print(f"wrote {out}")
