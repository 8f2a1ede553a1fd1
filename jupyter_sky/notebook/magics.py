"""``%%sky`` (run this cell elsewhere) and ``%sky <subcommand>`` (status, down, check): the
magic only parses and dispatches; the cell's flow is :mod:`jupyter_sky.pipeline.cell`."""

from __future__ import annotations

import atexit
import threading
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from jupyter_sky.spec import task as spec

_manager: Any = None
_exit_hooked = False


def manager() -> Any:
    """The process-wide cluster manager (created on first use, not at ``%load_ext``)."""
    global _manager
    if _manager is None:
        from jupyter_sky.kernel.manager import Manager

        _manager = Manager()
    return _manager


def register(ipython: Any) -> None:
    ipython.register_magics(SkyMagics(ipython))
    global _exit_hooked
    if not _exit_hooked:  # at kernel shutdown, log what is left running (no prompt)
        _exit_hooked = True
        atexit.register(_log_left_running)
    # The first cell on a new cluster plans before it launches: load the price catalog and
    # the planner now, in the background, so that cell does not wait ~0.1 s for them.
    threading.Thread(target=_warm_up, name="jupyter-sky-warm-up", daemon=True).start()


def _log_left_running() -> None:
    from jupyter_sky.notebook.leaving import log_left_running

    log_left_running(_manager)


def _warm_up() -> None:
    try:
        from jupyter_sky.catalog.offers import load_offers
        from jupyter_sky.infra.readiness import facts
        from jupyter_sky.notebook.widget import PlacementWidget  # noqa: F401
        from jupyter_sky.optimizer import ranking  # noqa: F401

        load_offers()
        facts()  # imports every registered infra (no connection is opened)
    except Exception:  # noqa: BLE001 - only a head start; the first plan loads them anyway
        pass


def unregister(ipython: Any) -> None:
    if _manager is not None:
        _manager.detach_all()


@magics_class
class SkyMagics(Magics):
    """The ``sky`` line and cell magic."""

    @line_cell_magic
    @spec.apply_flags
    def sky(self, line: str, cell: str | None = None) -> Any:
        """Run this cell on a remote IPython kernel (see the flags below), or with no cell
        body: ``%sky status``, ``%sky down NAME|--all``, ``%sky check``,
        ``%sky gpus [NAME[:N]]``, ``%sky plan [FLAGS]``, ``%sky jobs`` (detached cells),
        ``%sky attach JOB`` (replay a detached cell's output, bring its variables home)."""
        if cell is None:
            from jupyter_sky.notebook.commands import run_subcommand
            from jupyter_sky.spec.runs import is_file_run

            if is_file_run(line):  # issue 14: %sky -f task.yaml runs the file's setup and run
                return run_sky_cell(self.shell, line, "")

            return run_subcommand(line, manager())
        return run_sky_cell(self.shell, line, cell)


def run_sky_cell(shell: Any, line: str, cell: str) -> None:
    """Everything one ``%%sky`` cell does (see :mod:`jupyter_sky.pipeline.cell`)."""
    from jupyter_sky.notebook.placement import decide
    from jupyter_sky.pipeline.cell import run

    run(shell, manager(), line, cell, decide)
