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
    assert nb.run("%sky down --all").status == "ok"  # UP time ends: the totals hold still
    by_cluster = nb.run("%sky cost").stdout.splitlines()
    assert by_cluster[0].split() == ["CLUSTER", "RUNS", "CELL", "TIME", "UP", "TIME", "COST"]
    rows = {line.split()[0]: line for line in by_cluster[1:]}
    assert set(rows) >= {"costly", "cheap", "TOTAL"}
    # A cluster costs its UP time (launch to down), so at least its cells' time.
    assert _dollars(rows["costly"]) > 2.0 and _dollars(rows["cheap"]) > 0
    total = _dollars(rows["TOTAL"])
    assert total == pytest.approx(_dollars(rows["costly"]) + _dollars(rows["cheap"]), abs=0.011)
    from jupyter_sky.cost import spent

    assert spent(Store(home)) == pytest.approx(total, abs=0.011)  # what the budgets count
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


def _up(store: Store, name: str, price: float, since: float) -> None:
    """A cluster UP since ``since`` (its launch), at ``price`` $/h."""
    from jupyter_sky.state import ClusterRecord

    rec = ClusterRecord(name, "aws", "INIT", created_at=since, cost_per_hour=price)
    store.put_cluster(rec)
    rec.state = "UP"
    store.put_cluster(rec)


def test_idle_up_time_of_a_priced_cluster_is_spent_and_its_runs_not_twice(tmp_path: Path) -> None:
    """A VM billed per hour: 1 h UP at $2/h with one $0.50 cell in it spent $2.00, not $0.50
    (the idle time counts) and not $2.50 (the cell is inside its UP time)."""
    from jupyter_sky.cost import report, spent

    store = Store(tmp_path)
    _up(store, "vm", 2.0, time.time() - 3600)
    store.end_run(store.start_run("vm", "h", "aws", {}, price=2.0), "ok", 0.5)
    assert spent(store) == pytest.approx(2.0, abs=0.01)
    assert spent(store, cluster="vm") == pytest.approx(2.0, abs=0.01)
    assert spent(store, cluster="other") == 0.0
    row = report(store).splitlines()[1].split()
    assert row[0] == "vm" and row[1] == "1" and row[3].startswith("1h00m") and row[4] == "$2.00"


def test_a_stopped_cluster_stops_spending_and_starts_again_from_its_start(tmp_path: Path) -> None:
    from jupyter_sky.cost import spent

    store = Store(tmp_path)
    _up(store, "vm", 3600.0, time.time() - 2)  # $1 a second
    store.set_state("vm", "STOPPED")
    first = spent(store)
    assert first == pytest.approx(2.0, abs=0.2)
    time.sleep(0.5)
    assert spent(store) == first  # a stopped VM is not billed
    rec = store.get_cluster("vm")
    assert rec is not None
    rec.state, rec.created_at, rec.ended_at = "UP", time.time(), None  # started again
    store.put_cluster(rec)
    store.put_cluster(rec)  # a record rewritten while UP opens no second span
    time.sleep(0.5)
    assert spent(store) == pytest.approx(first + 0.5, abs=0.2)
    assert [s.ended_at is None for s in store.uptime_spans()] == [False, True]
    store.remove_cluster("vm")
    assert store.uptime_spans()[-1].ended_at is not None  # forgotten: its span ends too


def test_a_relaunch_under_the_same_name_ends_the_old_span(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _up(store, "c", 1.0, time.time() - 10)
    _up(store, "c", 1.0, time.time())  # a new launch replaces the record (INIT, then UP)
    spans = store.uptime_spans()
    assert len(spans) == 2 and spans[0].ended_at is not None and spans[1].ended_at is None


def test_a_run_outside_any_span_counts_on_its_own(tmp_path: Path) -> None:
    """Runs recorded before uptime spans were (an old database) still count."""
    from jupyter_sky.cost import spent

    store = Store(tmp_path)
    store.end_run(store.start_run("old", "h", "aws", {}, price=1.0), "ok", 1.25)
    assert spent(store) == pytest.approx(1.25)


def test_migration_gives_old_clusters_their_latest_span(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "state.db")
    for migration in MIGRATIONS[:4]:
        for sql in migration:
            db.execute(sql)
    db.execute("PRAGMA user_version = 4")
    db.execute(
        "INSERT INTO clusters (name, infra, state, created_at, last_used_at, cost_per_hour, "
        "ended_at) VALUES ('gone', 'aws', 'DOWN', 0, 1800, 2.0, 3600)"
    )
    db.commit()
    db.close()
    from jupyter_sky.cost import spent

    assert spent(Store(tmp_path)) == pytest.approx(2.0)
