"""Execute a notebook headless with nbclient and print every cell's outputs as text.

Usage: python scripts/run_notebook.py NOTEBOOK [--save OUT.ipynb]
Exit status 1 when a cell fails that is not tagged ``raises-exception``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def describe(output: dict) -> str:
    kind = output["output_type"]
    if kind == "stream":
        return output["text"].rstrip("\n")
    if kind == "error":
        return ANSI.sub("", "\n".join(output["traceback"]))
    data = output.get("data", {})
    if "image/png" in data:
        return f"<image/png, {len(data['image/png']) * 3 // 4} bytes>"
    if "text/plain" in data:
        return str(data["text/plain"])
    return f"<{', '.join(data)}>"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    nb = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(args.notebook.parent)}},
    )
    start = time.monotonic()
    failed = None
    try:
        client.execute()
    except CellExecutionError as exc:
        failed = exc
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        print(
            f"In [{cell.get('execution_count') or ' '}]: " + cell.source.replace("\n", "\n        ")
        )
        for output in cell.get("outputs", []):
            print("   " + describe(output).replace("\n", "\n   "))
        print()
    if args.save:
        nbformat.write(nb, args.save)
    print(f"{args.notebook}: {'FAILED' if failed else 'ok'} in {time.monotonic() - start:.1f} s")
    if failed:
        print(str(failed)[-2000:], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
