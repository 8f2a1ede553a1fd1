"""The %%sky flag table: every bad input gets its exact one-sentence message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jupyter_sky.config import Defaults
from jupyter_sky.errors import SpecError
from jupyter_sky.spec.task import (
    FLAGS,
    RESERVED,
    Resources,
    Task,
    apply_flags,
    parse_line,
    task_from_args,
)

BAD_LINES = [
    ("--gpu A100", "Unknown flag --gpu; did you mean --gpus?"),
    ("--gpus=A1000", "Unknown accelerator 'A1000'; did you mean A100, A6000, A5000?"),
    ("--xyz", "Unknown flag --xyz; run %%sky? to see the flags."),
    ("--help", "Unknown flag --help; run %%sky? to see the flags."),
    (
        "train",
        "Unexpected word 'train' on the %%sky line; every value needs a flag before it, "
        "such as --gpus A100:1.",
    ),
    ("'A100", "The %%sky line has an unclosed quote; close it or remove it."),
    ("--gpus", "--gpus needs a value, such as --gpus A100:1."),
    ("--gpus --spot", "--gpus needs a value, such as --gpus A100:1."),
    ("-f", "--file needs a value, such as --file task.yaml."),
    ("--spot=yes", "--spot takes no value; write --spot alone."),
    (
        "--gpus A100:0",
        "--gpus must be NAME, NAME:N or N with N a positive whole number, such as A100:1, "
        "not 'A100:0'.",
    ),
    (
        "--gpus A100:1.5",
        "--gpus must be NAME, NAME:N or N with N a positive whole number, such as A100:1, "
        "not 'A100:1.5'.",
    ),
    (
        "--gpus XYZZY",
        "Unknown accelerator 'XYZZY'; use a catalog name such as A100, H100, L4 or T4.",
    ),
    (
        "--infra foo",
        "--infra names unknown infra 'foo'; valid kinds are aws, azure, gcp, k8s, local, "
        "slurm, ssh and the catalog's clouds (%sky gpus lists them).",
    ),
    ("--infra local/x", "--infra must be local, not 'local/x'."),
    ("--infra ssh", "--infra must be ssh/<host>, not 'ssh'."),
    (
        "--infra aws/us_east",
        "--infra must be aws, aws/<region> or aws/<region>/<zone>, not 'aws/us_east'.",
    ),
    (
        "--infra aws/us-east-1a",
        "--infra must be aws, aws/<region> or aws/<region>/<zone>, not 'aws/us-east-1a' "
        "(a zone where the region goes): write aws/us-east-1/us-east-1a.",
    ),
    (
        "--infra aws/xx-nowhere-9",
        "--infra names unknown AWS region 'xx-nowhere-9' (regions are such as us-east-1, eu-west-1).",
    ),
    (
        "--infra aws/us-east-1/us-east-2a",
        "--infra names 'us-east-2a', which is not a zone of us-east-1 (such as us-east-1a).",
    ),
    (
        "--infra slurm/a/b/c",
        "--infra must be slurm, slurm/<cluster> or slurm/<cluster>/<partition>, not 'slurm/a/b/c'.",
    ),
    (
        "--name 9lives",
        "--name must be a letter followed by up to 39 letters, digits, - or _, not '9lives'.",
    ),
    (
        "--name " + "a" * 41,
        f"--name must be a letter followed by up to 39 letters, digits, - or _, not '{'a' * 41}'.",
    ),
    ("--cpus abc", "--cpus must be a positive number such as 4 or 4+, not 'abc'."),
    ("--cpus 0", "--cpus must be a positive number such as 4 or 4+, not '0'."),
    ("--memory nan+", "--memory must be a positive number such as 16 or 16+, not 'nan+'."),
    (
        "--max-price -1",
        "--max-price must be a price in dollars per hour of 0 or more, such as 2.5, not '-1'.",
    ),
    ("--autostop 0", "--autostop must be a positive number of minutes such as 30, not '0'."),
    ("--instance-type ''", "--instance-type must be an instance type such as p3.2xlarge, not ''."),
    (
        "--push df,1b",
        "--push names '1b', which is not a Python variable name; "
        "use comma-separated names such as df,model.",
    ),
    (
        "--exclude class",
        "--exclude names 'class', which is not a Python variable name; "
        "use comma-separated names such as df,model.",
    ),
    (
        "--pull a,,b",
        "--pull names '', which is not a Python variable name; "
        "use comma-separated names such as df,model.",
    ),
    ("--pull x --no-pull", "--pull and --no-pull contradict each other; keep one of them."),
    (
        "--env 1X=2",
        "--env must be KEY=VALUE with KEY made of letters, digits and _, not '1X=2'.",
    ),
    ("--env PATH", "--env must be KEY=VALUE with KEY made of letters, digits and _, not 'PATH'."),
    ("--num-nodes 0", "--num-nodes must be a whole number of nodes of 1 or more, such as 2, not '0'."),
    ("--time 0", "--time must be a positive run time such as 1.5, 90m or 2h, not '0'."),
    ("--pick 0", "--pick must be a row number of the placement table such as 2, not '0'."),
    ("--pick", "--pick needs a value, such as --pick 2."),
    ("--output-gb -1", "--output-gb must be a number of GB of 0 or more, such as 5, not '-1'."),
    ("--max-cost 0", "--max-cost must be a positive number of dollars such as 5, not '0'."),
    (
        "--infra slurm/lab --qos 'a b'",
        "--qos must be a Slurm name such as gpu (letters, digits, _, ., -), not 'a b'.",
    ),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_bad_line_message(line: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_line(line)
    assert str(err.value) == message


def test_no_flag_is_reserved_any_more_and_max_cost_parses() -> None:
    assert RESERVED == {}  # --max-cost, the last one, arrived with budgets
    assert parse_line("--gpus T4 --max-cost 2.5").max_cost == 2.5


def test_argparse_never_writes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    for line in ("--gpus", "--spot=1", "--nope", "-h", "--gpus A100 --gpus"):
        with pytest.raises(SpecError):
            parse_line(line)
    assert capsys.readouterr() == ("", "")


def _task(line: str, tmp_path: Path, cell: str = "x = 1", **kw: object) -> Task:
    return task_from_args(parse_line(line), cell, tmp_path, **kw)  # type: ignore[arg-type]


def test_full_line_builds_task(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    line = (
        "--infra Kubernetes/ctx-1 --name train_1 --gpus h100-sxm:8 --cpus 32+ --memory 256 "
        "--spot --instance-type p5.48xlarge --max-price 12.5 --push df,model --exclude secret "
        "--env A=1 --env B=x=y --workdir src --autostop 15"
    )
    task = _task(line, tmp_path, cell="model.fit(df)")
    assert task.resources == Resources(
        infra="k8s/ctx-1",
        accelerator="H100-SXM",
        accelerator_count=8,
        cpus=32.0,
        cpus_plus=True,
        memory_gb=256.0,
        memory_plus=False,
        spot=True,
        instance_type="p5.48xlarge",
        max_price=12.5,
    )
    assert task.cluster == "train_1"
    assert (task.push, task.pull, task.no_pull, task.exclude) == (
        ("df", "model"),
        None,
        False,
        ("secret",),
    )
    assert task.envs == {"A": "1", "B": "x=y"}
    assert task.workdir == str((tmp_path / "src").resolve())
    assert (task.autostop_minutes, task.setup, task.run) == (15.0, None, "model.fit(df)")
    assert (
        task.resources.describe()
        == "H100-SXM:8, 32+ CPUs, 256 GB, p5.48xlarge, spot, at most $12.5/h"
    )


def test_empty_line_and_defaults(tmp_path: Path) -> None:
    task = _task("", tmp_path)
    assert task.resources == Resources()
    assert task.resources.describe() == "any resources"
    assert (task.cluster, task.push, task.pull, task.exclude, task.envs) == (
        None,
        None,
        None,
        (),
        {},
    )
    defaults = Defaults(infra="aws/us-east-1", autostop_minutes=45.0)
    task = _task("--gpus 2 --no-pull", tmp_path, defaults=defaults)
    assert (task.resources.infra, task.autostop_minutes, task.no_pull) == (
        "aws/us-east-1",
        45.0,
        True,
    )
    assert task.resources.describe() == "any accelerator:2"
    task = _task("--infra local --autostop 5", tmp_path, defaults=defaults)
    assert (task.resources.infra, task.autostop_minutes) == ("local", 5.0)


def test_workdir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        _task("--workdir nowhere", tmp_path)
    missing = (tmp_path / "nowhere").resolve()
    assert str(err.value) == (
        f"--workdir {missing} is not an existing directory; create it or fix the path."
    )


TASK_YAML = """\
name: ignored-task-name
resources:
  accelerators: {a100: 2}
  cpus: 8+
  memory: 32
  infra: gcp/us-central1
  use_spot: true
  instance_type: a2-highgpu-2g
envs:
  SEED: 7
  MODE: fast
workdir: .
setup: pip install torch
"""


def test_task_yaml_under_flags(tmp_path: Path) -> None:
    (tmp_path / "task.yaml").write_text(TASK_YAML)
    task = _task("-f task.yaml", tmp_path)
    assert task.resources == Resources(
        infra="gcp/us-central1",
        accelerator="A100",
        accelerator_count=2,
        cpus=8.0,
        cpus_plus=True,
        memory_gb=32.0,
        spot=True,
        instance_type="a2-highgpu-2g",
    )
    assert task.envs == {"SEED": "7", "MODE": "fast"}
    assert (task.workdir, task.setup, task.cluster) == (
        str(tmp_path.resolve()),
        "pip install torch",
        None,
    )
    line = "--file task.yaml --gpus T4 --cpus 2 --infra aws --env MODE=slow"
    task = _task(line, tmp_path, defaults=Defaults(infra="local"))
    r = task.resources
    assert (r.accelerator, r.accelerator_count, r.cpus, r.cpus_plus, r.infra) == (
        "T4",
        1,
        2.0,
        False,
        "aws",
    )
    assert (r.memory_gb, r.spot) == (32.0, True)
    assert task.envs == {"SEED": "7", "MODE": "slow"}


def test_task_yaml_string_accelerators_and_empty_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("resources:\n  accelerators: V100:4\n")
    assert _task("-f a.yaml", tmp_path).resources.describe() == "V100:4"
    (tmp_path / "empty.yaml").write_text("")
    assert (
        _task("-f empty.yaml", tmp_path, defaults=Defaults(infra="local")).resources.infra
        == "local"
    )


BAD_YAML = [
    ("resources: [1, 2\n", "Task file t.yaml is not valid YAML at line 2 (expected ',' or ']', but got '<stream end>'); fix the syntax there."),
    ("resources:\n  cpus: 4\n  memory: 8: 9\n", "Task file t.yaml is not valid YAML at line 3 (mapping values are not allowed here); fix the syntax there."),
    ("- a\n- b\n", "Task file t.yaml must be a mapping with keys such as resources:, not ['a', 'b']."),
    ("resources: 4\n", "resources in t.yaml must be a mapping such as {accelerators: A100:1}, not 4."),
    ("resources:\n  any_of: {accelerators: A100}\n", "resources.any_of in t.yaml must be a non-empty list of mappings such as - accelerators: A100:1, not {'accelerators': 'A100'}."),
    ("resources:\n  any_of: [{cpus: 2}]\n  ordered: [{cpus: 2}]\n", "resources in t.yaml has both any_of and ordered; keep one of them."),
    ("resources:\n  any_of: [{ordered: [{cpus: 2}]}]\n", "resources.any_of in t.yaml cannot nest any_of or ordered; list plain resources."),
    ("resources:\n  any_of: [{cpus: x}]\n", "resources.cpus in t.yaml (any_of[0]) must be a positive number such as 4 or 4+, not 'x'."),
    ("resources:\n  ordered: []\n", "resources.ordered in t.yaml must be a non-empty list of mappings such as - accelerators: A100:1, not []."),
    ("resources:\n  accelerators: {A100: two}\n", "resources.accelerators in t.yaml must be NAME, NAME:N or N with N a positive whole number, such as A100:1, not 'A100:two'."),
    ("resources:\n  accelerators: A1000\n", "Unknown accelerator 'A1000'; did you mean A100, A6000, A5000?"),
    ("resources:\n  cpus: many\n", "resources.cpus in t.yaml must be a positive number such as 4 or 4+, not 'many'."),
    ("resources:\n  memory: -1\n", "resources.memory in t.yaml must be a positive number such as 16 or 16+, not -1."),
    ("resources:\n  use_spot: sometimes\n", "resources.use_spot in t.yaml must be true or false, not 'sometimes'."),
    ("resources:\n  infra: moon\n", "resources.infra in t.yaml names unknown infra 'moon'; valid kinds are aws, azure, gcp, k8s, local, slurm, ssh and the catalog's clouds (%sky gpus lists them)."),
    ("resources:\n  instance_type: 5\n", "resources.instance_type in t.yaml must be an instance type such as p3.2xlarge, not 5."),
    ("envs: [A]\n", "envs in t.yaml must be a mapping of NAME: value, not ['A']."),
    ("envs:\n  1A: x\n", "Each name in envs in t.yaml must be letters, digits and _, not '1A'."),
    ("envs:\n  A: [1]\n", "envs.A in t.yaml must be a string or a number, not [1]."),
    ("setup: [pip, install]\n", "setup in t.yaml must be a string of commands, not ['pip', 'install']."),
    ("workdir: 3\n", "workdir in t.yaml must be a directory path, not 3."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_YAML)
def test_bad_task_yaml_message(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "t.yaml").write_text(text)
    with pytest.raises(SpecError) as err:
        _task("-f t.yaml", tmp_path)
    assert str(err.value) == message


def test_task_yaml_missing_and_bad_workdir(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        _task("-f nope.yaml", tmp_path)
    assert (
        str(err.value)
        == f"Task file {tmp_path / 'nope.yaml'} does not exist; check the path after -f."
    )
    (tmp_path / "t.yaml").write_text("workdir: gone\n")
    with pytest.raises(SpecError) as err:
        _task("-f t.yaml", tmp_path)
    gone = (tmp_path / "gone").resolve()
    assert (
        str(err.value)
        == f"workdir in t.yaml {gone} is not an existing directory; create it or fix the path."
    )


def test_apply_flags_builds_ipython_help() -> None:
    def sky(line: str, cell: str) -> None:
        """Run a cell elsewhere."""

    decorated = apply_flags(sky)
    help_text = decorated.__doc__ or ""
    for names, _ in FLAGS:
        assert names[-1] in help_text
    assert "not available yet" not in help_text and "--max-cost" in help_text
    assert help_text.index("--infra") < help_text.index("--gpus") < help_text.index("--autostop")
    assert decorated.parser.parse_args(["--gpus", "A100:1"]).gpus == "A100:1"  # type: ignore[attr-defined]


def test_yaml_is_not_imported_by_parsing() -> None:
    import subprocess
    import sys

    code = textwrap.dedent(
        """
        import sys
        from jupyter_sky.spec.task import parse_line
        parse_line("--gpus A100:1 --cpus 4+")
        bad = [m for m in ("yaml", "pydantic", "pandas") if m in sys.modules]
        print(",".join(bad))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


SLURM_ONLY = "--partition goes with --infra slurm[/<cluster>[/<partition>]]."
NODES_BAD = "--num-nodes must be a whole number of nodes of 1 or more, such as 2, not {}."


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--partition gpu", SLURM_ONLY),
        ("--account a1", "--account goes with --infra slurm[/<cluster>[/<partition>]]."),
        ("--detach", "--detach does not work with no --infra; it needs --infra slurm."),
        ("--detach --infra local", "--detach does not work with --infra local; it needs --infra slurm."),
        ("--infra slurm/lab --num-nodes 0", NODES_BAD.format("'0'")),
        ("--infra slurm/lab --num-nodes two", NODES_BAD.format("'two'")),
        (
            "--infra slurm --partition gpu",
            "--partition needs the cluster too: --infra slurm/<cluster>.",
        ),
        (
            "--infra slurm/lab/cpu --partition gpu",
            "--infra names partition 'cpu' but --partition says 'gpu'; keep one of them.",
        ),
    ],
)
def test_slurm_flags_need_a_slurm_cluster(line: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        task_from_args(parse_line(line), "pass", tmp_path)
    assert str(err.value) == message


def test_partition_folds_into_the_infra(tmp_path: Path) -> None:
    task = task_from_args(parse_line("--infra slurm/lab --partition gpu --qos high"), "", tmp_path)
    assert (task.resources.infra, task.infra_options) == ("slurm/lab/gpu", {"partition": "gpu", "qos": "high"})


def test_num_nodes_and_detach_reach_the_task(tmp_path: Path) -> None:
    task = task_from_args(parse_line("--infra slurm/lab --num-nodes 2 --detach"), "pass", tmp_path)
    assert (task.num_nodes, task.detach) == (2, True)
    plain = task_from_args(parse_line("--infra slurm/lab"), "pass", tmp_path)
    assert (plain.num_nodes, plain.detach) == (1, False)
