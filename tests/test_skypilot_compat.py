"""SkyPilot task files as their authors wrote them (issue 14): the corpus of 261 files from
SkyPilot's examples plans as written, and every field is honoured or refused with its reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from nbdriver import Notebook

from jupyter_sky.errors import SkyError, SpecError
from jupyter_sky.notebook.planfile import PipelinePlans, plan_file
from jupyter_sky.optimizer import DagPlan, Plan
from jupyter_sky.pipeline.plan import make_plan
from jupyter_sky.spec import parse_line
from jupyter_sky.spec.task import Task, task_from_args

# The corpus ships with the tests (Apache-2.0, LICENSE and provenance beside the files), so CI
# runs it from a clean clone; ../shared holds the same snapshot.
CORPUS = Path(__file__).parent / "compat" / "skypilot-yamls"


def _task(
    tmp_path: Path, text: str, line: str = "", cell: str = "", planning: bool = False
) -> Task:
    (tmp_path / "t.yaml").write_text(text)
    return task_from_args(parse_line(f"{line} -f t.yaml"), cell, tmp_path, planning=planning)


def _plan(tmp_path: Path, text: str, line: str = "") -> Plan:
    return make_plan(_task(tmp_path, text, line, planning=True))


@pytest.mark.slow
def test_corpus_plans_as_written(tmp_path: Path) -> None:
    """≥ 95 % of the 261 files plan as written, none crashes; placements recorded."""
    files = sorted(CORPUS.rglob("*.y*ml"))
    assert len(files) == 261
    planned, refused, record = 0, {}, {}
    for path in files:
        name = str(path.relative_to(CORPUS))
        try:
            plan = plan_file(str(path), CORPUS)
        except SkyError as exc:  # a refusal is one sentence; anything else fails the test
            refused[name] = str(exc)
            continue
        assert isinstance(plan, (Plan, DagPlan, PipelinePlans))
        assert plan.explain()
        planned += 1
        chosen = getattr(plan, "rows", ())[:1]
        record[name] = (
            chosen[0].where() + f" — {chosen[0].reason or 'usable'}"
            if chosen
            else plan.explain()[:200]
        )
    (tmp_path / "placements.json").write_text(json.dumps(record, indent=1))
    assert planned / len(files) >= 0.95, refused
    assert all(s.endswith((".", "?")) and "\n" not in s for s in refused.values()), refused
    assert all("share a GPU" in s for s in refused.values()), refused  # only fractional GPUs


def test_run_section_is_the_run_when_the_cell_is_empty(tmp_path: Path) -> None:
    text = "setup: echo setup\nrun: echo hello\n"
    assert _task(tmp_path, text).file_run == "echo hello"
    with_body = _task(tmp_path, text, cell="print(1)")
    assert with_body.file_run is None and with_body.run == "print(1)"
    assert with_body.notes == ("the cell is the run: run: in t.yaml is ignored.",)


def test_num_nodes_multiplies_cost_and_excludes_infras_that_cannot_span(tmp_path: Path) -> None:
    one = _plan(tmp_path, "resources: {accelerators: A100:1}\n")
    two = _plan(tmp_path, "num_nodes: 2\nresources: {accelerators: A100:1}\n")
    row1, row2 = one.rows[0], two.rows[0]
    assert (row1.offering.infra, row1.offering.instance_type) == (row2.offering.infra, row2.offering.instance_type)
    assert row2.price_per_hour == pytest.approx(2 * (row1.price_per_hour or 0))
    assert "cannot span 2 nodes" in row2.reason and not row2.usable
    local = _plan(tmp_path, "num_nodes: 2\n", "--infra local")
    assert local.chosen is None and "cannot span 2 nodes" in local.explain()


@pytest.mark.parametrize(
    ("resources", "reason"),
    [
        ("disk_size: 512", "cannot set the disk size or tier yet (disk_size, disk_tier)"),
        ("disk_tier: best", "cannot set the disk size or tier yet (disk_size, disk_tier)"),
        ("image_id: docker:ubuntu:22.04", "cannot run a given image yet (image_id)"),
        ("network_tier: best", "has no high-bandwidth network tier yet (network_tier: best)"),
    ],
)
def test_fields_no_infra_honours_exclude_rows_with_the_reason(
    tmp_path: Path, resources: str, reason: str
) -> None:
    plan = _plan(tmp_path, f"resources:\n  {resources}\n")
    assert plan.chosen is None  # never dropped to get a cheaper row
    assert plan.rows and all(not r.usable for r in plan.rows)
    assert reason in plan.explain()


def test_ports_are_honoured_locally_and_exclude_other_rows(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "resources:\n  ports: [8080, 9000-9010]\n")
    assert plan.chosen is not None and plan.chosen.offering.infra == "local"
    assert plan.request.ports == ("8080", "9000-9010")  # type: ignore[union-attr]
    clouds = [r for r in plan.rows if not r.offering.live and not r.flagged]
    assert clouds and all("cannot open ports 8080, 9000-9010 yet" in r.reason for r in clouds)


def test_file_mounts_bucket_refused_before_launch_but_planned(tmp_path: Path) -> None:
    text = "file_mounts:\n  /data: s3://bucket/x\n  /ckpt: {name: b, mode: MOUNT}\n"
    assert _task(tmp_path, text, planning=True).refusals
    with pytest.raises(
        SpecError, match=r"mounts buckets at /data, /ckpt; bucket mounts are not available yet"
    ):
        _task(tmp_path, text)


def test_file_mounts_local_paths_must_exist(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    task = _task(tmp_path, "file_mounts:\n  /srv/code: ./code\n")
    assert task.file_mounts == {"/srv/code": str(tmp_path / "code")}
    with pytest.raises(SpecError, match="file_mounts source .*missing .*does not exist"):
        _task(tmp_path, "file_mounts:\n  /x: ./missing\n")


def test_null_envs_and_secrets_come_from_env_or_flag_and_missing_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "envs:\n  MODEL: m\n  HF_TOKEN:\nsecrets:\n  WANDB_API_KEY: null\n"
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    with pytest.raises(SpecError) as err:
        _task(tmp_path, text)
    assert "needs HF_TOKEN, WANDB_API_KEY (envs or secrets with no value)" in str(err.value)
    monkeypatch.setenv("HF_TOKEN", "hf-secret-value")
    task = _task(tmp_path, text, "--env WANDB_API_KEY=wb-secret")
    assert task.envs == {"MODEL": "m", "HF_TOKEN": "hf-secret-value", "WANDB_API_KEY": "wb-secret"}
    assert task.secret_names == ("WANDB_API_KEY",)
    assert _task(tmp_path, text.replace("HF_TOKEN:", "HF_TOKEN: x"), planning=True).refusals


def test_legacy_cloud_region_zone_and_any_catalog_infra(tmp_path: Path) -> None:
    legacy = _task(tmp_path, "resources: {cloud: gcp, region: us-central1, zone: us-central1-a}\n")
    assert legacy.resources.infra == "gcp/us-central1/us-central1-a"
    for infra, region in (
        ("oci/us-sanjose-1", "us-sanjose-1"),
        ("lambda", None),
        ("gcp/*/us-central1-a", None),
    ):
        plan = _plan(tmp_path, f"resources: {{infra: {infra}, accelerators: A100:8}}\n")
        assert plan.rows and {r.offering.infra for r in plan.rows} == {infra.split("/")[0]}
        if region:
            assert {r.offering.region for r in plan.rows} == {region}
    zoned = _plan(tmp_path, "resources: {infra: gcp/*/us-central1-a, accelerators: A100:1}\n")
    assert {r.offering.zone for r in zoned.rows} == {"us-central1-a"}


def test_gpus_is_another_name_for_accelerators(tmp_path: Path) -> None:
    task = _task(tmp_path, "resources: {gpus: H100:2}\n")
    assert (task.resources.accelerator, task.resources.accelerator_count) == ("H100", 2)


def test_accelerator_set_is_cheapest_usable_unknown_names_skipped(tmp_path: Path) -> None:
    task = _task(tmp_path, "resources:\n  accelerators: {A100:1, V100:1, Q999:1}\n  infra: aws\n")
    assert [a.accelerator for a in task.alternatives] == ["A100", "V100"] and not task.ordered
    assert any("'Q999', which no catalog knows; skipped" in n for n in task.notes)
    plan = make_plan(task)
    both = sorted(r.price_per_hour or 0 for r in plan.rows if not r.flagged)
    assert plan.rows[0].price_per_hour == both[0]
    listed = _task(tmp_path, "resources:\n  accelerators: [H100:8, A100:8]\n")
    assert listed.ordered and [a.accelerator for a in listed.alternatives] == ["H100", "A100"]


def test_ordered_shows_the_preferred_alternative_when_none_is_usable(tmp_path: Path) -> None:
    text = "resources:\n  ordered:\n    - {accelerators: V100:1}\n    - {accelerators: T4:1}\n"
    plan = _plan(tmp_path, text)
    assert plan.chosen is None
    assert plan.request.accelerator == "V100"  # type: ignore[union-attr]


def test_tpu_with_a_host_instance_type_plans(tmp_path: Path) -> None:
    text = "resources: {accelerators: tpu-v2-8, instance_type: n1-highmem-8}\n"
    plan = _plan(tmp_path, text)
    assert {r.offering.infra for r in plan.rows if not r.offering.live} == {"gcp"}
    assert {r.offering.accelerator for r in plan.rows if not r.offering.live} == {"tpu-v2"}
    assert any("n1-highmem-8 is the TPU host VM" in n for n in _task(tmp_path, text).notes)


def test_fractional_gpu_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(
        SpecError,
        match=r"asks for 0.5 of a T4 GPU; no infra here can share a GPU between tasks yet: ask for T4:1.",
    ):
        _task(tmp_path, "resources: {accelerators: T4:0.5}\n", planning=True)


def test_pipeline_file_plans_as_a_pipeline_and_a_cell_points_to_task(tmp_path: Path) -> None:
    text = "name: p\n---\nname: prep\nresources: {cpus: 2}\nrun: echo a\n---\nname: train\nresources: {accelerators: A100:1}\nrun: echo b\n"
    (tmp_path / "t.yaml").write_text(text)
    plan = plan_file("t.yaml", tmp_path)
    assert isinstance(plan, (DagPlan, PipelinePlans))
    assert "prep" in plan.to_text() and "train" in plan.to_text()
    with pytest.raises(
        SpecError, match="holds a pipeline of 2 tasks; plan it with %sky plan -f t.yaml"
    ):
        _task(tmp_path, text)


def test_noted_fields_are_accepted_with_one_line(tmp_path: Path) -> None:
    task = _task(tmp_path, "service: {readiness_probe: /}\nresources: {job_recovery: failover}\n")
    assert any(n.startswith("service (sky serve) is not run here") for n in task.notes)
    assert any(n.startswith("job_recovery: a preempted cell is relaunched and rerun once") for n in task.notes)
    assert task.recover
    with pytest.raises(
        SpecError, match=r"Per-task config overrides \(config:\) are not available yet"
    ):
        _task(tmp_path, "config: {docker: {run_options: [x]}}\n")


def test_sky_gpus_a100_shows_eight_clouds_on_one_screen() -> None:
    from jupyter_sky.notebook.gpus import gpus_table

    text = gpus_table(["A100"])
    lines = text.splitlines()
    assert len(lines) <= 45
    assert lines[0].split()[:3] == ["INFRA", "COUNT", "CHEAPEST"]
    clouds = {line.split()[0] for line in lines[1:] if line and not line.startswith(("(", " "))}
    assert len(clouds - {"4"}) >= 8
    every = gpus_table(["A100", "--all-regions"]).splitlines()
    assert len(every) > 100 and every[0].split()[:2] == ["INFRA", "REGION"]
    summary = gpus_table([])
    assert summary.splitlines()[0].split() == [
        "ACCELERATOR",
        "COUNTS",
        "FROM",
        "$/H",
        "EACH",
        "CLOUDS",
    ]


# --- a task file's setup and run on a real local kernel ---------------------------------


def _write(nb: Notebook, name: str, text: str) -> None:
    res = nb.run(f"%%writefile {name}\n{text}")
    assert res.status == "ok", res.error_text


def test_file_run_streams_setup_then_run_and_names_a_failing_exit_code(nb: Notebook) -> None:
    _write(
        nb,
        "job.yaml",
        "envs: {GREETING: hi}\nsetup: echo set-up-once\nrun: |\n  echo $GREETING from run\n  echo second line\n",
    )
    res = nb.run("%sky -f job.yaml --name filejob")
    assert res.status == "ok", res.error_text
    assert "set-up-once\nhi from run\nsecond line\n" in res.stdout
    again = nb.run("%%sky -f job.yaml --name filejob\n\n")
    assert "set-up-once" not in again.stdout and "hi from run" in again.stdout
    body = nb.run("%%sky -f job.yaml --name filejob\nprint('the body')")
    assert "the body" in body.stdout and "hi from run" not in body.stdout
    assert "run: in job.yaml is ignored" in body.error_text + "".join(
        o.text for o in body.outputs if o.msg_type == "stream"
    )
    _write(nb, "bad.yaml", "run: |\n  echo before\n  exit 3\n")
    failed = nb.run("%sky -f bad.yaml --name filejob")
    assert failed.status == "error" and "run exited with code 3" in failed.error_text
    assert "before" in failed.stdout


def test_failed_setup_is_an_error_and_runs_again(nb: Notebook) -> None:
    _write(
        nb, "flaky.yaml", "setup: |\n  echo try >> attempts.txt\n  test -f ok.flag\nrun: echo ran\n"
    )
    first = nb.run("%sky -f flaky.yaml --name flaky")
    assert (
        first.status == "error"
        and "setup of cluster 'flaky' exited with code 1" in first.error_text
    )
    nb.run("open('ok.flag', 'w').close()")
    second = nb.run("%sky -f flaky.yaml --name flaky")
    assert second.status == "ok", second.error_text
    assert "ran" in second.stdout
    assert nb.run("print(open('attempts.txt').read().count('try'))").stdout.strip() == "2"


def test_secret_reaches_the_run_but_is_never_printed_or_stored(
    nb: Notebook, session_home: Path
) -> None:
    _write(nb, "sec.yaml", "secrets: {API_KEY: null}\nrun: echo length ${#API_KEY}; exit 4\n")
    res = nb.run("%sky -f sec.yaml --name secret --env API_KEY=s3cr3t-value-xyz")
    assert "length 16" in res.stdout and "exited with code 4" in res.error_text
    shown = res.stdout + res.error_text + "".join(o.text for o in res.outputs if hasattr(o, "text"))
    assert "s3cr3t-value-xyz" not in shown
    for path in session_home.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert b"s3cr3t-value-xyz" not in path.read_bytes(), path
    missing = nb.run("%sky -f sec.yaml --name secret")
    assert missing.status == "error" and "needs API_KEY" in missing.error_text


def test_local_file_mounts_are_linked_at_their_target(nb: Notebook, tmp_path: Path) -> None:
    target = tmp_path / "mounted"
    nb.run(
        "import os; os.makedirs('data', exist_ok=True); open('data/f.txt', 'w').write('mounted-ok')"
    )
    _write(nb, "mnt.yaml", f"file_mounts:\n  {target}: ./data\nrun: cat {target}/f.txt\n")
    res = nb.run("%sky -f mnt.yaml --name mounts")
    assert res.status == "ok", res.error_text
    assert "mounted-ok" in res.stdout and os.path.islink(target)


def test_secrets_are_not_recorded_by_a_detached_job(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"has secrets \(K\), which --detach would record"):
        _task(tmp_path, "secrets: {K: v}\n", "--detach --infra slurm/hpc")
