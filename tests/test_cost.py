"""Spend records and the cost report: real cells on a priced ``local`` infra (a ``prices:``
entry in the config), ``%sky cost`` grouped per cluster, day, notebook and infra, and the same
report from ``jupyter-sky cost``; the migration that adds nodes, $/h and reason to old runs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sky.state import MIGRATIONS, Store
from tests.nbdriver import Notebook

# 1 vCPU at $3600/h: one dollar a second, so a two-second cell costs about $2.
PRICED = "prices:\n  local:\n    cpu: 3600\n    memory: 0\n"


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Notebook, Path]]:
    """A notebook whose working directory prices ``local``, with a JUPYTER_SKY_HOME of its own
    (the report counts every run of the home)."""
    home, cwd = tmp_path_factory.mktemp("cost-home"), tmp_path_factory.mktemp("cost-nb")
    (cwd / "jupyter_sky.yaml").write_text(PRICED)
    env = {**os.environ, "JUPYTER_SKY_HOME": str(home), "JPY_SESSION_NAME": "spend.ipynb"}
    notebook = Notebook(env, str(cwd))
    assert notebook.run("%load_ext jupyter_sky").status == "ok"
    yield notebook, home
    notebook.run("%sky down --all")
    notebook.shutdown()


def _dollars(line: str) -> float:
    return float(line.split("$")[1].split()[0])


def test_a_priced_cell_leaves_a_spend_record_with_its_cost(priced: tuple[Notebook, Path]) -> None:
    nb, home = priced
    res = nb.run("%%sky --name costly --cpus 1+ --infra local\nimport time\ntime.sleep(2)")
    assert res.status == "ok", res.error_text
    runs = Store(home).runs("costly")
    assert len(runs) == 1
    run = runs[0]
    assert run["status"] == "ok" and run["infra"] == "local" and run["nodes"] == 1
    assert run["notebook"] == "spend.ipynb" and run["cell"] == "import time"
    assert run["price"] == 3600.0
    elapsed = run["ended_at"] - run["started_at"]
    assert elapsed >= 2 and run["cost"] == pytest.approx(elapsed, rel=0.01)


def test_sky_cost_groups_by_cluster_day_notebook_and_infra(priced: tuple[Notebook, Path]) -> None:
    nb, home = priced
    assert nb.run("%%sky --name cheap --cpus 1+ --infra local\nx = 1").status == "ok"
    by_cluster = nb.run("%sky cost").stdout.splitlines()
    assert by_cluster[0].split() == ["CLUSTER", "RUNS", "CELL", "TIME", "COST"]
    rows = {line.split()[0]: line for line in by_cluster[1:]}
    assert set(rows) >= {"costly", "cheap", "TOTAL"}
    assert _dollars(rows["costly"]) >= 2.0 > _dollars(rows["cheap"])
    total = _dollars(rows["TOTAL"])
    assert total == pytest.approx(_dollars(rows["costly"]) + _dollars(rows["cheap"]), abs=0.011)
    today = time.strftime("%Y-%m-%d")
    for group, key in (("day", today), ("notebook", "spend.ipynb"), ("infra", "local")):
        lines = nb.run(f"%sky cost --by {group}").stdout.splitlines()
        assert lines[0].split()[0] == group.upper()
        assert lines[1].split()[:2] == [key, "2"] and _dollars(lines[1]) == pytest.approx(total, abs=0.011)


def test_bad_group_is_one_sentence(priced: tuple[Notebook, Path]) -> None:
    nb, _ = priced
    res = nb.run("%sky cost --by week")
    assert res.status == "error"
    assert "%sky cost --by takes one of cluster, day, notebook, infra, not 'week'." in res.error_text
    assert "Usage: %sky cost [--by" in nb.run("%sky cost now").error_text


def test_jupyter_sky_cost_prints_the_same_report(priced: tuple[Notebook, Path]) -> None:
    _, home = priced
    env = {**os.environ, "JUPYTER_SKY_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_sky.cli", "cost", "--by", "infra"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert out.splitlines()[1].split()[:2] == ["local", "2"]


def test_empty_store_says_how_runs_get_recorded(tmp_path: Path) -> None:
    from jupyter_sky.cost import report

    assert report(Store(tmp_path)) == "No runs recorded yet; a %%sky cell records what it costs."


def test_migration_keeps_old_runs_and_prices_them_zero(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "state.db")
    for migration in MIGRATIONS[:3]:
        for sql in migration:
            db.execute(sql)
    db.execute("PRAGMA user_version = 3")
    db.execute(
        "INSERT INTO runs (cluster, cell_hash, infra, started_at, ended_at, status, cost) "
        "VALUES ('old', 'h', 'aws', 10, 20, 'ok', 0.5)"
    )
    db.commit()
    db.close()
    runs = Store(tmp_path).runs()
    assert [(r["cluster"], r["cost"], r["nodes"], r["price"], r["reason"]) for r in runs] == [
        ("old", 0.5, 1, 0.0, "")
    ]


def test_end_run_computes_price_times_elapsed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    run_id = store.start_run("c", "h", "local", {}, nodes=2, price=7200.0)  # $2/s for 2 nodes
    time.sleep(0.5)
    store.end_run(run_id, "interrupted", reason="budget")
    run = store.runs()[0]
    elapsed = run["ended_at"] - run["started_at"]
    assert run["cost"] == pytest.approx(2 * elapsed) and run["reason"] == "budget"
