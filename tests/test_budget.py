"""Budgets on a priced ``local`` infra (a ``prices:`` entry in the config; 1 vCPU at $3600/h,
so one dollar a second): ``--max-cost`` and the ``budget:`` section refuse a plan whose estimate
does not fit before anything launches, interrupt a running cell at the limit with what was
spent, keep what the cell assigned, and leave local's kernel idle (local cannot stop and keep a
cluster). An unpriced live infra never trips a budget and says so once."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sky.state import Store
from tests.nbdriver import Notebook

PRICED = "prices:\n  local:\n    cpu: 3600\n    memory: 0\n"
LOCAL = "--cpus 1+ --infra local"
# Runs about 30 s unless something stops it; `steps` counts how far it got.
LONG_CELL = "import time\nsteps = 0\nfor _ in range(300):\n    time.sleep(0.1)\n    steps += 1"


def _notebook(tmp: Path, config: str) -> tuple[Notebook, Path]:
    home, cwd = tmp / "home", tmp / "nb"
    home.mkdir()
    cwd.mkdir()
    (cwd / "jupyter_sky.yaml").write_text(config)
    nb = Notebook({**os.environ, "JUPYTER_SKY_HOME": str(home)}, str(cwd))
    assert nb.run("%load_ext jupyter_sky").status == "ok"
    return nb, home


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Notebook, Path]]:
    nb, home = _notebook(tmp_path_factory.mktemp("budget"), PRICED)
    yield nb, home
    nb.shutdown()


def test_estimate_over_max_cost_is_refused_before_launch(priced: tuple[Notebook, Path]) -> None:
    nb, home = priced
    res = nb.run(f"%%sky --name refused {LOCAL} --time 2h --max-cost 5\nx = 1")
    assert res.status == "error"
    assert (
        "Refused before launch: the estimate $7200.00 ($3600.00/h for 2 h) exceeds --max-cost "
        "$5.00 ($0.00 spent, $5.00 left); raise the limit, shorten --time or choose a cheaper "
        "placement." in res.error_text
    )
    store = Store(home)
    assert store.get_cluster("refused") is None and store.runs("refused") == []


def test_cell_is_interrupted_at_max_cost_and_keeps_its_kernel(
    priced: tuple[Notebook, Path],
) -> None:
    nb, home = priced
    res = nb.run(f"%%sky --name capped {LOCAL} --max-cost 3\n{LONG_CELL}", timeout=60)
    assert res.status == "error"
    assert "Budget reached: this cell spent $3." in res.error_text
    assert "reaching --max-cost $3.00 ($0.00 spent before it); the cell was interrupted" in res.error_text
    assert "the kernel of cluster 'capped' is left idle (the local infra cannot stop and keep it)" in res.error_text
    assert res.elapsed < 15
    steps = int(nb.value("steps"))  # what it assigned before the limit came home
    assert 15 <= steps < 100
    run = Store(home).runs("capped")[-1]
    assert run["status"] == "interrupted" and run["reason"].startswith("Budget reached")
    assert 3.0 <= run["cost"] < 8.0
    again = nb.run("%%sky --name capped\nsteps + 1")  # same kernel, idle, state intact
    assert again.status == "ok", again.error_text
    assert str(steps + 1) in again.of_type("execute_result")[0].text


def test_budget_section_counts_spend_records_and_refuses_when_used_up(
    tmp_path: Path,
) -> None:
    nb, home = _notebook(tmp_path, PRICED + "budget:\n  per_day: 2\n")
    try:
        res = nb.run(f"%%sky --name daily {LOCAL}\n{LONG_CELL}", timeout=60)
        assert res.status == "error" and "reaching budget.per_day $2.00" in res.error_text
        refused = nb.run(f"%%sky --name other {LOCAL}\nx = 1")
        assert refused.status == "error"
        # the interrupted cluster stays UP (local keeps its kernel) and spends while it idles
        assert "Refused before launch: budget.per_day $2.00 ($" in refused.error_text
        assert "Cluster 'daily'" not in refused.error_text  # another cluster was asked for
        assert "is used up; raise it in the config (or --max-cost) or wait for the next day." in refused.error_text
        assert Store(home).get_cluster("other") is None
        report = nb.run("%sky cost --by day").stdout
        assert float(report.splitlines()[1].split("$")[1]) >= 2.0
    finally:
        nb.shutdown()


def test_unpriced_live_infra_never_trips_a_budget_and_says_so_once(tmp_path: Path) -> None:
    nb, home = _notebook(tmp_path, "defaults:\n  idle_minutes: 5\n")
    try:
        first = nb.run(f"%%sky --name free {LOCAL} --max-cost 0.01 --time 5h\nimport time\ntime.sleep(1.5)")
        assert first.status == "ok", first.error_text
        note = "[sky] local has no price, so no budget applies to it (a prices: entry in the config prices it)"
        assert note in first.stderr
        second = nb.run("%%sky --name free --max-cost 0.01\nimport time\ntime.sleep(1.5)")
        assert second.status == "ok" and note not in second.stderr
        assert [r["cost"] for r in Store(home).runs("free")] == [0.0, 0.0]
    finally:
        nb.shutdown()


def test_target_enforces_the_limit_with_the_notebook_gone(tmp_path: Path) -> None:
    """The laptop closes mid-cell (the notebook kernel is killed): the remote kernel, told the
    limit and $/h with the cell, interrupts the cell itself at the limit and stays idle."""
    from tests.conftest import kill_kernels_under

    nb, home = _notebook(tmp_path, PRICED)
    progress = tmp_path / "progress"
    cell = (
        f"import os, time\nopen({str(progress)!r}, 'w').write(f'{{os.getpid()}} 0')\n"
        f"for i in range(300):\n    time.sleep(0.1)\n"
        f"    open({str(progress)!r}, 'w').write(f'{{os.getpid()}} {{i}}')"
    )
    try:
        assert nb.run(f"%%sky --name away {LOCAL}\nx = 1").status == "ok"  # warm kernel
        nb.send(f"%%sky --name away --max-cost 2\n{cell}")
        deadline = time.monotonic() + 30
        while not progress.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        nb.kc.stop_channels()
        nb.km.shutdown_kernel(now=True)  # no notebook any more: only the target can stop it
        time.sleep(6)
        pid, first = (int(v) for v in progress.read_text().split())
        time.sleep(2)
        assert int(progress.read_text().split()[1]) == first < 50  # interrupted at ~$2 (~2 s, ~20 steps)
        os.kill(pid, 0)  # local cannot stop and keep a cluster: its kernel stays, idle
    finally:
        kill_kernels_under(home)


def test_limits_count_the_spend_records_per_cluster_day_and_total(tmp_path: Path) -> None:
    from jupyter_sky.budget import limits, refusal, tightest
    from jupyter_sky.config_sections import BudgetConfig

    store = Store(tmp_path)
    for cluster, cost in (("a", 4.0), ("a", 1.0), ("b", 2.5)):
        store.end_run(store.start_run(cluster, "h", "aws", {}, price=1.0), "ok", cost)
    found = limits(store, "a", BudgetConfig(per_cluster=6, per_day=10, total=8.0), 3.0)
    assert [(lim.name, lim.spent, lim.left) for lim in found] == [
        ("--max-cost", 0.0, 3.0),
        ("budget.per_cluster", 5.0, 1.0),
        ("budget.per_day", 7.5, 2.5),
        ("budget.total", 7.5, 0.5),
    ]
    assert tightest(found).name == "budget.total"  # type: ignore[union-attr]
    assert refusal(0.0, 100.0, found) is None  # unpriced: never refused
    assert refusal(0.2, 2.0, found) is None  # $0.40 fits in every limit
    assert refusal(0.3, 2.0, found) == (
        "Refused before launch: the estimate $0.60 ($0.30/h for 2 h) exceeds budget.total $8.00 "
        "($7.50 spent, $0.50 left); raise the limit, shorten --time or choose a cheaper placement."
    )
    assert limits(store, "a", BudgetConfig(), None) == []


def test_idle_up_time_uses_the_budget_up(tmp_path: Path) -> None:
    """A priced cluster idle between cells spends (its UP time counts): at $1 a second, 4 idle
    seconds use up budget.per_cluster $3, and the next cell on it does not run."""
    nb, home = _notebook(tmp_path, PRICED + "budget:\n  per_cluster: 3\n")
    try:
        first = nb.run(f"%%sky --name idler {LOCAL}\nx = 1")
        assert first.status == "ok", first.error_text
        time.sleep(4)
        res = nb.run("%%sky --name idler\nx = 2")
        assert res.status == "error"
        assert "budget.per_cluster $3.00 ($" in res.error_text and "is used up" in res.error_text
        assert "Cluster 'idler' is still up and spending; %sky down idler ends it." in res.error_text
        assert nb.value("x") == "1"  # the cell did not run
        from jupyter_sky.cost import spent

        assert spent(Store(home), cluster="idler") >= 4.0
    finally:
        nb.shutdown()


def test_a_task_file_run_is_metered_and_stopped_at_max_cost(tmp_path: Path) -> None:
    """``%sky -f task.yaml --max-cost``: the file's run is a spend record like a cell, and the
    budget guard interrupts it at the limit with the same sentence."""
    nb, home = _notebook(tmp_path, PRICED)
    (tmp_path / "nb" / "job.yaml").write_text("run: |\n  echo started\n  sleep 30\n")
    try:
        res = nb.run(f"%sky -f job.yaml --name filed {LOCAL} --max-cost 2", timeout=60)
        assert res.status == "error" and res.elapsed < 15
        assert "started" in res.stdout
        assert "Budget reached: this cell spent $2." in res.error_text
        assert "reaching --max-cost $2.00 ($0.00 spent before it)" in res.error_text
        run = Store(home).runs("filed")[-1]
        assert run["status"] == "interrupted" and run["reason"].startswith("Budget reached")
        assert run["cell"].startswith("run: echo started")
    finally:
        nb.shutdown()


def _cell(tmp_path: Path, line: str, config: str) -> object:
    from jupyter_sky.config import load_config
    from jupyter_sky.kernel.manager import Manager
    from jupyter_sky.pipeline.cell import Cell
    from jupyter_sky.spec import task as spec

    (tmp_path / "jupyter_sky.yaml").write_text(config)
    loaded = load_config(tmp_path)
    task = spec.task_from_args(spec.parse_line(line), "x = 1", tmp_path, loaded.defaults)
    mgr = Manager(Store(tmp_path / "home"))
    return Cell(None, mgr, task, loaded, "x = 1", lambda *a: None)  # type: ignore[arg-type]


def test_a_detached_cell_is_refused_or_carries_its_limit_to_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--detach`` goes through the same refusal before anything is queued, and its limit
    rides in the job's prepare message, which the job's kernel enforces."""
    from jupyter_sky.pipeline.spend import BudgetError, detached_limit

    monkeypatch.chdir(tmp_path)
    refused = _cell(tmp_path, f"{LOCAL} --time 2h --max-cost 5", PRICED)
    with pytest.raises(BudgetError, match=r"the estimate \$7200.00 \(\$3600.00/h for 2 h\)"):
        detached_limit(refused, "local")  # type: ignore[arg-type]
    limit = detached_limit(_cell(tmp_path, f"{LOCAL} --max-cost 5", PRICED), "local")  # type: ignore[arg-type]
    assert limit == {
        "price": 3600.0, "left": 5.0, "stop": False,
        "limit": "--max-cost $5.00 ($0.00 spent, $5.00 left)",
    }  # fmt: skip
    assert detached_limit(_cell(tmp_path, LOCAL, PRICED), "local") is None  # type: ignore[arg-type]


def test_the_detached_payload_carries_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    import jupyter_sky.variables.prepare as prepare_mod
    from jupyter_sky.infra.slurm.detached import _payload
    from jupyter_sky.infra.slurm.runner import unpack_frames

    monkeypatch.setattr(prepare_mod, "prepare_message", lambda *a, **k: None)  # carries nothing
    task = SimpleNamespace(setup=None, workdir=None)
    budget = {"price": 1.0, "left": 2.0, "limit": "--max-cost $2.00", "stop": False}
    data = _payload(task, "x = 1", None, SimpleNamespace(frames=[]), {}, budget)
    header, _ = unpack_frames(data)
    assert header["prepare"]["budget"] == budget and header["prepare"]["no_pull"] is True


class _Infra:
    kind = "local"

    def interrupt(self, handle: object) -> None:
        pass


class _Restartable(_Infra):
    kind = "aws"

    def start(self, handle: object, request: object) -> object:
        return handle


class _Mgr:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def stop(self, name: str) -> str:
        self.calls.append(f"stop {name}")
        return ""

    def restart(self, live: object, task: object, config: object) -> None:
        self.calls.append("restart")


@pytest.mark.parametrize("infra", [_Infra(), _Restartable()], ids=["local", "restartable"])
def test_ctrl_c_twice_at_the_limit_stops_instead_of_restarting(infra: _Infra) -> None:
    """A cell at its limit that ignored the interrupt, then Ctrl-C twice: a cluster that can stop
    is stopped (a restart would keep it spending); elsewhere the restart's sentence is the
    budget's. Not at the limit: the plain restart."""
    from types import SimpleNamespace

    from jupyter_sky.budget import Guard, Limit
    from jupyter_sky.pipeline.spend import after_double_interrupt

    mgr = _Mgr()
    cell = SimpleNamespace(mgr=mgr, task=None, config=None)
    live = SimpleNamespace(name="c", infra=infra, handle=None)
    watch = Guard(3600.0, Limit("--max-cost", 1.0, 0.0), lambda: None, None)
    watch.start -= 2  # $2 spent against a $1 limit
    watch()  # trips
    said = after_double_interrupt(cell, live, watch)  # type: ignore[arg-type]
    assert said.startswith("Budget reached: this cell spent $2.")
    if isinstance(infra, _Restartable):
        assert mgr.calls == ["stop c"] and "cluster 'c' was stopped" in said
    else:
        assert mgr.calls == ["restart"] and "was restarted (the cell did not stop at the interrupt" in said
    calm = _Mgr()
    cell.mgr = calm
    fresh = Guard(3600.0, Limit("--max-cost", 100.0, 0.0), lambda: None, None)
    assert after_double_interrupt(cell, live, fresh) == "" and calm.calls == ["restart"]  # type: ignore[arg-type]


def test_other_clusters_up_spend_against_the_shared_limits_while_a_cell_runs(tmp_path: Path) -> None:
    """Another cluster up at $3/s while a $1/s cell runs: per_day $4 ($0 spent) is reached
    after the cell spent $1 (the other $3 meanwhile), so the guard trips there, the target is
    told $1, and the sentence says why; per_cluster counts this cluster alone."""
    from jupyter_sky.budget import Guard, limits, target_limit, tightest
    from jupyter_sky.config_sections import BudgetConfig
    from jupyter_sky.state import ClusterRecord

    store = Store(tmp_path)
    other = ClusterRecord("idle", "aws", "UP", cost_per_hour=3 * 3600.0)
    store.put_cluster(other)
    found = limits(store, "busy", BudgetConfig(per_cluster=2, per_day=4), None)
    assert [(lim.name, lim.others) for lim in found] == [
        ("budget.per_cluster", 0.0), ("budget.per_day", 3 * 3600.0),
    ]  # fmt: skip
    lim = tightest(found, 3600.0)
    assert lim is not None and lim.name == "budget.per_day"
    assert lim.share(3600.0) == pytest.approx(1.0, abs=0.05)  # $4 left, a quarter of it ours
    limit = target_limit(3600.0, found, stop=False)
    assert limit is not None and limit["left"] == pytest.approx(1.0, abs=0.05)
    tripped: list[bool] = []
    watch = Guard(3600.0, lim, lambda: tripped.append(True), None)
    watch.start -= 0.7
    watch()
    assert not tripped
    watch.start -= 0.5
    watch()
    assert tripped == [True]
    assert "and other clusters up $10800.00/h meanwhile)" in watch.sentence("busy", False, "local")


def test_a_limit_used_up_by_the_launch_ends_the_cell_before_it_runs(tmp_path: Path) -> None:
    """At $1 a second, launching the kernel uses budget.per_cluster $0.05 up: the cell does
    not run, and nothing counts as pushed, so with a higher limit the next cell has ``y``."""
    nb, home = _notebook(tmp_path, PRICED + "budget:\n  per_cluster: 0.05\n")
    try:
        assert nb.run("y = 41").status == "ok"
        res = nb.run(f"%%sky --name quick {LOCAL}\nx = y + 1")
        assert res.status == "error"
        assert "Budget reached before the cell ran: budget.per_cluster $0.05 ($" in res.error_text
        assert "the kernel of cluster 'quick' is left idle" in res.error_text
        assert Store(home).runs("quick") == []  # it did not run
        (tmp_path / "nb" / "jupyter_sky.yaml").write_text(PRICED + "budget:\n  per_cluster: 1000\n")
        again = nb.run("%%sky --name quick\nx = y + 1")
        assert again.status == "ok", again.error_text
        assert nb.value("x") == "42"
    finally:
        nb.shutdown()
