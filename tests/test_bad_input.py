"""Bad input: each gets one exact sentence, and no kernel is started (real IPython shell)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from IPython.testing import globalipapp

from jupyter_sky.errors import SkyError
from jupyter_sky.infra.local import machine

HERE = machine()
YAML = {
    "run.yaml": "resources:\n  acelerators: A100:1\nrun: echo hi\n",
    "cloud.yaml": "resources:\n  cloud: mars\n",
    "broken.yaml": "resources: [\n",
}

CASES = [
    ("--gpus A1OO", "pass", "Unknown accelerator 'A1OO'; did you mean A100, A10, V100?"),
    (
        "--name -x",
        "pass",
        "--name must be a letter followed by up to 39 letters, digits, - or _, not '-x'.",
    ),
    ("--time -1h", "pass", "--time must be a positive run time such as 1.5, 90m or 2h, not '-1h'."),
    ("--name a --name b", "pass", "--name is given twice on the %%sky line; keep one of them."),
    ("--cpus 2 --cpus=4", "pass", "--cpus is given twice on the %%sky line; keep one of them."),
    ("-f a.yaml --file b.yaml", "pass", "--file is given twice on the %%sky line; keep one of them."),
    ("--gpus A1000:1", "pass", "Unknown accelerator 'A1000'; did you mean A100, A6000, A5000?"),
    (
        "--gpus A100:0",
        "pass",
        "--gpus must be NAME, NAME:N or N with N a positive whole number, such as A100:1, not 'A100:0'.",
    ),
    (
        "--gpus A100:x",
        "pass",
        "--gpus must be NAME, NAME:N or N with N a positive whole number, such as A100:1, not 'A100:x'.",
    ),
    ("--gpu A100", "pass", "Unknown flag --gpu; did you mean --gpus?"),
    ("--cpus abc", "pass", "--cpus must be a positive number such as 4 or 4+, not 'abc'."),
    ("--cpus -2", "pass", "--cpus must be a positive number such as 4 or 4+, not '-2'."),
    ("--memory 0", "pass", "--memory must be a positive number such as 16 or 16+, not '0'."),
    (
        "--max-price -1",
        "pass",
        "--max-price must be a price in dollars per hour of 0 or more, such as 2.5, not '-1'.",
    ),
    (
        "--infra mars",
        "pass",
        "--infra names unknown infra 'mars'; valid kinds are aws, azure, gcp, k8s, local, slurm, ssh and the catalog's clouds (%sky gpus lists them).",
    ),
    (
        "--infra aws",
        "pass",
        "No usable placement for a CPU-only machine: aws: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run `aws configure`).",
    ),
    (
        "--name 9lives",
        "pass",
        "--name must be a letter followed by up to 39 letters, digits, - or _, not '9lives'.",
    ),
    (
        "--env 1X=2",
        "pass",
        "--env must be KEY=VALUE with KEY made of letters, digits and _, not '1X=2'.",
    ),
    ("--pull a --no-pull", "pass", "--pull and --no-pull contradict each other; keep one of them."),
    (
        "--push not-a-name",
        "pass",
        "--push names 'not-a-name', which is not a Python variable name; use comma-separated names such as df,model.",
    ),
    (
        "--workdir /nonexistent/dir",
        "pass",
        "--workdir /nonexistent/dir is not an existing directory; create it or fix the path.",
    ),
    (
        "--autostop 0",
        "pass",
        "--autostop must be a positive number of minutes such as 30, not '0'.",
    ),
    (
        "--detach",
        "pass",
        "--detach does not work with no --infra; it needs --infra slurm.",
    ),
    (
        "--task prep --after prep",
        "pass",
        "--after names task 'prep', which no %%sky --task cell has declared yet; run that cell first.",
    ),
    (
        "--task 9x",
        "pass",
        "--task must be a task name such as train (letters, digits and _), not '9x'.",
    ),
    (
        "--time 2x",
        "pass",
        "--time must be a positive run time such as 1.5, 90m or 2h, not '2x'.",
    ),
    (
        "--max-cost five",
        "pass",
        "--max-cost must be a positive number of dollars such as 5, not 'five'.",
    ),
    (
        "--num-nodes 2",
        "pass",
        "No usable placement for a CPU-only machine: local, seeweb, primeintellect, oci, gcp, jarvislabs and 8 more: cannot span 2 nodes yet (num_nodes).",
    ),
    (
        "-f {tmp}/missing.yaml",
        "pass",
        "Task file {tmp}/missing.yaml does not exist; check the path after -f.",
    ),
    (
        "-f {tmp}",
        "pass",
        "Task file {tmp} is a directory; give the YAML file inside it after -f.",
    ),
    (
        "-f {tmp}/run.yaml",
        "pass",
        "Unknown key 'resources.acelerators' in {tmp}/run.yaml; valid keys in resources are accelerator_args, accelerators, any_of, autostop, cloud, cpus, disk_size, disk_tier, gpus, image_id, infra, instance_type, job_recovery, labels, memory, network_tier, ordered, ports, region, spot_recovery, use_spot, zone.",
    ),
    (
        "-f {tmp}/cloud.yaml",
        "pass",
        "resources.cloud/region/zone in {tmp}/cloud.yaml names unknown infra 'mars'; valid kinds are aws, azure, gcp, k8s, local, slurm, ssh and the catalog's clouds (%sky gpus lists them).",
    ),
    (
        "-f {tmp}/broken.yaml",
        "pass",
        "Task file {tmp}/broken.yaml is not valid YAML at line 2 (expected the node content, but found '<stream end>'); fix the syntax there.",
    ),
    (
        "--gpus A100:1",
        "pass",
        "No usable placement for A100:1: the local machine has no GPUs; verda, vast, shadeform, lambda, primeintellect, cudo and 1 more: price reference — no launcher yet; gcp: no Google Cloud credentials: run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS.",
    ),
    (
        "--cpus 100000",
        "pass",
        "No row for 100000 CPUs (no GPU) has exactly 100000 vCPUs; the sizes are 1, 2, 4, 6, 8, 12, 16, 20, 24, 32, 40, 48, ...; write --cpus 100000+ for at least 100000.",
    ),
    (
        "--memory 100000",
        "pass",
        "No row for a CPU-only machine has exactly 100000 GB of memory; the sizes are 1, 2, 3.75, 4, 7.5, 8, 8.59, 13, 15, 16, 17.2, 24, ...; write --memory 100000+ for at least 100000.",
    ),
    (
        "--spot",
        "pass",
        "No usable placement for a CPU-only machine: the local machine has no spot capacity; gcp: no Google Cloud credentials: run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS; primeintellect, oci: price reference — no launcher yet; aws: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run `aws configure`); azure: no Azure credentials: run `az login` or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET.",
    ),
    (
        "--instance-type p3.2xlarge",
        "pass",
        "No usable placement for p3.2xlarge: the local machine is not instance type p3.2xlarge; aws: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run `aws configure`).",
    ),
    (
        "--name bad1",
        "print(lock)",
        "Cannot send `lock` (_thread.lock) to the remote kernel: it cannot be pickled (cannot pickle '_thread.lock' object); exclude it with --exclude lock, or create it inside the cell.",
    ),
    (
        "--name bad2",
        "print(gen)",
        "Cannot send `gen` (generator) to the remote kernel: it cannot be pickled (cannot pickle 'generator' object); exclude it with --exclude gen, or create it inside the cell.",
    ),
    ("--push nothere", "pass", "--push names `nothere`, which is not defined in the notebook."),
    ("--pick 99", "pass", "--pick 99 is not a row of the placement table; it has rows 1 to 59."),
    (
        "--pick 1 --infra aws",
        "pass",
        "Row 1 (aws c6i.large in ap-south-1/aps1-az1) cannot launch: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run `aws configure`); pick a usable row.",
    ),
]
LINE_CASES = [
    ('down "abc', "The %sky line has an unclosed quote; close it or remove it."),
    ("status extra words", "%sky status takes no arguments or --infra KIND, not 'extra words'."),
    ("", "%sky needs a subcommand: status, stop, down, check, gpus, plan, jobs, attach, cost (or use %%sky on a cell)."),
    ("stat", "Unknown %sky subcommand 'stat'; choose one of status, stop, down, check, gpus, plan, jobs, attach, cost."),
    ("down", "Usage: %sky down NAME, or %sky down --all."),
    ("down nosuchcluster", "There is no cluster named 'nosuchcluster'; %sky status lists them."),
]


@pytest.fixture(scope="module")
def ip(session_home: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "jupyter_sky")
    shell.user_ns["lock"] = threading.Lock()
    shell.user_ns["gen"] = (i for i in range(3))
    tmp = tmp_path_factory.mktemp("yaml")
    for name, text in YAML.items():
        (tmp / name).write_text(text)
    shell.user_ns["__tmp"] = str(tmp)
    return shell


def _kernels(home: Path) -> set[Path]:
    return set((home / "clusters").glob("*/kernel.json"))


def test_the_table_is_big_enough() -> None:
    assert len(CASES) + len(LINE_CASES) >= 20


@pytest.mark.parametrize(("line", "cell", "message"), CASES, ids=[c[0] + "|" + c[1] for c in CASES])
def test_bad_cell_input(ip, session_home: Path, line: str, cell: str, message: str) -> None:  # type: ignore[no-untyped-def]
    tmp = ip.user_ns["__tmp"]
    before = _kernels(session_home)
    with pytest.raises(SkyError) as caught:
        ip.run_cell_magic("sky", line.format(tmp=tmp), cell)
    assert str(caught.value) == message.format(tmp=tmp)
    assert _kernels(session_home) == before  # no kernel was started


@pytest.mark.parametrize(("line", "message"), LINE_CASES)
def test_bad_line_input(ip, line: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SkyError) as caught:
        ip.run_line_magic("sky", line)
    assert str(caught.value) == message


def test_errors_render_as_one_sentence_not_a_traceback(ip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SkyError) as caught:
        ip.run_cell_magic("sky", "--gpu A100", "pass")
    rendered = caught.value._render_traceback_()
    assert len(rendered) == 1 and rendered[0].endswith("Unknown flag --gpu; did you mean --gpus?")


def test_sky_gpus_unknown_name(ip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SkyError) as caught:
        ip.run_line_magic("sky", "gpus A1000")
    assert str(caught.value) == "Unknown accelerator 'A1000'; did you mean A100, A6000, A5000?"
