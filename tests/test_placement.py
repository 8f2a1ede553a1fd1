"""Planning inside the notebook: the ranked table before a cluster is created, none on warm
cells, `%sky gpus`, `%sky plan`, and `--pick` (real kernels, the shipped catalog)."""

from __future__ import annotations

from nbdriver import Notebook

WIDGET = "application/vnd.jupyter.widget-view+json"


def test_new_cluster_shows_the_ranked_table_and_warm_cells_do_not(nb: Notebook) -> None:
    res = nb.run("%%sky --name planned\nprint('ran')")
    assert res.status == "ok", res.error_text
    tables = [o for o in res.of_type("display_data") if WIDGET in o.content["data"]]
    assert len(tables) == 1
    data = tables[0].content["data"]
    assert data["text/plain"].startswith("Chosen: local this machine")  # no Widget(...) repr
    # the first cell of a plain local run: the chosen row and the best usable alternatives,
    # not 25 rows of "price reference"; the full table is one %sky plan away
    assert "<table>" in data["text/html"]
    assert 1 <= data["text/html"].count("<tr") - 1 <= 5
    assert "price reference — no launcher yet" not in data["text/html"]
    assert "more rows: %sky plan with the same flags shows them" in data["text/plain"]
    assert "ran" in res.stdout
    warm = nb.run("%%sky --name planned\nprint('again')")
    assert not [o for o in warm.of_type("display_data") if WIDGET in o.content["data"]]


def test_request_that_does_not_fit_local_explains_and_starts_nothing(nb: Notebook) -> None:
    res = nb.run("%%sky --name nofit --gpus A100:1\nprint('never')")
    assert res.status == "error"
    assert "No usable placement for A100:1: the local machine has no GPUs" in res.error_text
    assert "never" not in res.stdout
    assert "nofit" not in nb.run("%sky status").stdout


def test_pick_launches_on_the_chosen_row_number(nb: Notebook) -> None:
    res = nb.run("%%sky --name picked1 --pick 1\nimport os\nprint(os.environ['JUPYTER_SKY_INFRA'])")
    assert res.status == "ok", res.error_text
    assert res.stdout.strip().splitlines()[-1] == "local"


def test_confirm_without_a_widget_frontend_asks_for_pick(nb: Notebook) -> None:
    res = nb.run("%%sky --name confirmed --confirm\nprint('never')")
    assert res.status == "ok"
    assert "re-run with --pick N (--pick 1 is the chosen row)" in res.stdout
    assert "never" not in res.stdout
    assert "confirmed" not in nb.run("%sky status").stdout


def test_sky_gpus_lists_prices_cheapest_first_without_traps(nb: Notebook) -> None:
    out = nb.run("%sky gpus A100:1 --all-regions").stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["INFRA", "REGION", "INSTANCE"]
    prices = [float(line.split("$")[1].split()[0].replace(",", "")) for line in lines[1:31]]
    assert prices == sorted(prices)
    assert "mithril" not in out.split("rows kept out")[0]  # the $0.01 trap is not a row
    assert "rows kept out: their prices fail the sanity rule" in out
    assert "A100-80GB" in nb.run("%sky gpus").stdout


def test_sky_plan_shows_the_plan_without_launching(nb: Notebook) -> None:
    res = nb.run("%sky plan --gpus A100:1 --time 2h")
    assert res.status == "ok", res.error_text
    text = res.of_type("display_data")[0].text
    assert "No usable placement for A100:1" in text and "verda" in text


def test_old_prices_get_a_warning_in_the_table() -> None:
    import dataclasses
    from datetime import date

    from jupyter_sky.notebook.widget import _stale_note
    from jupyter_sky.optimizer import rank
    from jupyter_sky.spec.task import Resources

    plan = rank(Resources(accelerator="A100", accelerator_count=1), today=date(2026, 11, 24))
    assert _stale_note(plan) == ""  # the snapshot's own day
    old = dataclasses.replace(plan.rows[0], price_age_days=45)
    aged = dataclasses.replace(plan, rows=(old, *plan.rows[1:]))
    assert _stale_note(aged) == (
        f" ⚠ Prices for {old.offering.infra} are over 30 days old; run jupyter-sky catalog refresh for current ones."
    )


def test_task_cells_form_a_pipeline_placed_as_a_whole(nb: Notebook) -> None:
    res = nb.run("%%sky --task prep --time 1h --output-gb 2\nprepared = 41")
    assert res.status == "ok", res.error_text
    assert "prep" in res.of_type("display_data")[0].text
    res = nb.run("%%sky --task train --after prep --time 2h\ntrained = prepared + 1")
    assert res.status == "ok", res.error_text
    plan_shown = res.of_type("display_data")[0].text
    assert "prep" in plan_shown and "train" in plan_shown  # the whole pipeline, placed at once
    assert nb.value("trained") == "42"
    assert "train" in nb.run("%sky plan").of_type("display_data")[0].text
    bad = nb.run("%%sky --task evaluate --after nope\npass")
    assert bad.status == "error"
    assert (
        "--after names task 'nope', which no %%sky --task cell has declared yet" in bad.error_text
    )
    nb.run("%sky down task-prep")
    nb.run("%sky down task-train")


def test_task_yaml_alternatives_any_of_and_ordered(nb: Notebook, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """any_of: the cheapest usable alternative wins; ordered: the first usable one. Here no
    A100 is usable (no credentials, no GPU), so both land on this machine's CPU alternative."""
    from jupyter_sky.spec.task import parse_line, task_from_args

    for mode in ("any_of", "ordered"):
        path = tmp_path / f"{mode}.yaml"
        path.write_text(f"resources:\n  {mode}:\n    - accelerators: A100:1\n    - cpus: 1+\n")
        task = task_from_args(parse_line(f"-f {path}"), "", tmp_path)
        assert [r.describe() for r in task.alternatives] == ["A100:1", "1+ CPUs"]
        assert task.ordered == (mode == "ordered")
        res = nb.run(
            f"%%sky --name alt-{mode.replace('_', '')} -f {path}\nimport os\nprint(os.environ['JUPYTER_SKY_INFRA'])"
        )
        assert res.status == "ok", res.error_text
        assert res.stdout.strip().splitlines()[-1] == "local"
        nb.run(f"%sky down alt-{mode.replace('_', '')}")


def test_pipeline_minimises_time_only_with_runtime_estimates(nb: Notebook) -> None:
    nb.run("%%sky --task quick --time 30m\npass")
    res = nb.run("%sky plan --minimize time")
    assert res.status == "ok", res.error_text
    assert "time" in res.of_type("display_data")[0].text
    nb.run("%%sky --task unknown_length --after quick\npass")
    res = nb.run("%sky plan --minimize time")
    assert res.status == "error"
    assert "unknown_length" in res.error_text and "--time" in res.error_text
    nb.run("%sky down task-quick")
    nb.run("%sky down task-unknown_length")


def test_configured_prices_turn_unpriced_live_rows_into_priced_ones(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from jupyter_sky.config import load_config
    from jupyter_sky.pipeline.plan import make_plan
    from jupyter_sky.spec.task import parse_line, task_from_args

    monkeypatch.chdir(tmp_path)
    task = task_from_args(parse_line("--cpus 1+ --infra local"), "", tmp_path)
    assert make_plan(task).chosen.price_text() == "$0 (unpriced)"
    (tmp_path / "jupyter_sky.yaml").write_text("prices:\n  local:\n    cpu: 0.5\n    memory: 0.0\n")
    assert load_config(tmp_path).prices.infras == {"local": {"cpu": 0.5, "memory": 0.0}}
    chosen = make_plan(task).chosen
    assert chosen.priced and chosen.price_per_hour == 0.5  # 1 vCPU asked for, at $0.5
