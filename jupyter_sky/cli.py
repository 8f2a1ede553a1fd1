"""The ``jupyter-sky`` command: the ``%sky`` subcommands outside a notebook.

``jupyter-sky status``, ``jupyter-sky stop NAME``, ``jupyter-sky down NAME|--all``, ``jupyter-sky check``,
``jupyter-sky gpus [NAME[:N]] [--infra CLOUD] [--all-regions]``, ``jupyter-sky plan FLAGS``, ``jupyter-sky cost [--by cluster|day|notebook|infra]``
(``plan -f task.yaml`` plans a SkyPilot task file or pipeline as written),
``jupyter-sky catalog refresh [--cloud aws|azure|gcp]`` (current prices from the providers).
"""

from __future__ import annotations

import shlex
import sys

from jupyter_sky.errors import SkyError

USAGE = """usage: jupyter-sky COMMAND [ARGS]

  status                         the clusters and their state
  stop NAME                      stop a cloud cluster, keeping its disk
  down NAME | --all              end a cluster (or every one)
  check                          which infras are usable, and why not
  gpus [NAME[:N]] [--infra X]    accelerators and their cheapest places
  plan FLAGS                     where a %%sky cell with FLAGS would run
  jobs [--cancel JOB]            detached cells
  cost [--by GROUP]              spend per cluster, day, notebook or infra
  catalog refresh [--cloud C]    current prices from the providers

The same commands work in a notebook as %sky COMMAND."""


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; errors print their one sentence and exit with status 1."""
    from jupyter_sky.notebook.commands import run_subcommand
    from jupyter_sky.notebook.magics import manager

    words = list(sys.argv[1:] if argv is None else argv)
    if words and words[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
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
