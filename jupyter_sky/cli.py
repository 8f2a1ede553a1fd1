"""The ``jupyter-sky`` command: the ``%sky`` subcommands outside a notebook.

``jupyter-sky status``, ``jupyter-sky down NAME|--all``, ``jupyter-sky check``,
``jupyter-sky gpus [NAME[:N]] [--infra CLOUD]``, ``jupyter-sky plan FLAGS``,
``jupyter-sky catalog refresh [--cloud aws|azure|gcp]`` (current prices from the providers).
"""

from __future__ import annotations

import shlex
import sys

from jupyter_sky.errors import SkyError


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; errors print their one sentence and exit with status 1."""
    from jupyter_sky.notebook.commands import run_subcommand
    from jupyter_sky.notebook.magics import manager

    words = list(sys.argv[1:] if argv is None else argv)
    if words[:2] == ["catalog", "refresh"]:
        from jupyter_sky.catalog.refresh import cli_refresh

        return cli_refresh(words[2:])
    if words and words[0] == "plan":
        from jupyter_sky.notebook.gpus import plan_text

        try:
            print(plan_text(shlex.join(words[1:])).to_text())
        except SkyError as exc:
            print(f"jupyter-sky: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        run_subcommand(shlex.join(words), manager())
    except SkyError as exc:
        print(f"jupyter-sky: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
