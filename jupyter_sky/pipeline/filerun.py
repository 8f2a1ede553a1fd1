"""A task file's ``run`` (``%sky -f task.yaml`` with no cell body) as a metered run: a spend
record like a cell's, the notebook's budget guard while it runs, and the limit riding to the
target with it, so ``--max-cost`` and the ``budget:`` section hold for it as for a cell."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from jupyter_sky.errors import SkyError

if TYPE_CHECKING:
    from jupyter_sky.kernel.cluster import LiveCluster
    from jupyter_sky.pipeline.cell import Cell
    from jupyter_sky.pipeline.spend import Budget


def run_file_task(cell: Cell, live: LiveCluster, budget: Budget) -> bool:
    """Run the file's ``run`` when the cell is empty; False when the cell itself is the run."""
    from jupyter_sky.pipeline import spend
    from jupyter_sky.spec.runs import remote_workdir, run_shell

    task, store = cell.task, cell.mgr.store
    if task.file_run is None:
        return False
    record = store.get_cluster(live.name)
    price = float(record.cost_per_hour) if record is not None else 0.0
    budget = spend.at_start(cell, live, budget)
    prepare = spend.with_target_limit(None, budget, live, price)
    watch = spend.guard(budget, live, price, None)
    run_id = store.start_run(
        live.name, "file-run", live.infra.kind, {"where": live.where()},
        notebook=os.environ.get("JPY_SESSION_NAME", ""), cell=f"run: {task.file_run}",
        nodes=task.num_nodes, price=price,
    )  # fmt: skip
    status, reason = "error", ""
    try:
        cwd = remote_workdir(live, task)
        run_shell(cell.shell, live, task.file_run, "run", task, cwd, prepare, watch)
        status = "ok"
    except (SkyError, KeyboardInterrupt):
        if watch is None or not watch.reached("interrupted"):
            raise
        status, reason = "interrupted", spend.at_limit(cell.mgr, live, watch)
    finally:
        store.end_run(run_id, status, reason=reason)
        store.touch(live.name)
    if reason:
        raise spend.BudgetError(reason)
    return True
