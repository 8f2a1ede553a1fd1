"""Detached cells on the lab's real Slurm: ``%%sky --detach`` submits, the notebook kernel
goes away, and ``%sky attach JOB`` in a new kernel brings back every recorded line and the
variables; attach follows a running job live; a cancelled job and an unknown id are one
sentence each.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nbdriver import Notebook
from slurm.conftest import LabShell, SlurmLab, lab_ssh, slurm_lab  # noqa: F401 - lab fixtures

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(180)]

SETUP = (
    "from jupyter_sky.infra import _loaded, register\n"
    "from jupyter_sky.infra.slurm import SlurmInfra\n"
    "register('jupyter_sky.infra.slurm:SlurmInfra')\n"
    "_loaded['slurm'] = SlurmInfra({{'config_file': {config!r}}}, 'lab')\n"
)


def _counting(n: int, pause: float, tail: str = "") -> str:
    return (
        f"%%sky --infra slurm/lab --detach --name dt\nimport time\nfor i in range({n}):\n"
        f"    print(f'line {{i}}', flush=True)\n    time.sleep({pause})\n{tail}"
    )


@pytest.fixture(scope="module")
def lab(slurm_lab: SlurmLab) -> SlurmLab:  # noqa: F811
    pytest.importorskip("paramiko")
    return slurm_lab


@pytest.fixture
def notebook(lab: SlurmLab, session_home: Path, tmp_path: Path) -> Iterator[Callable[[], Notebook]]:
    """Starts notebook kernels (same JUPYTER_SKY_HOME) with the lab's slurm infra set up."""
    started: list[Notebook] = []

    def start() -> Notebook:
        env = {**os.environ, "JUPYTER_SKY_HOME": str(session_home)}
        nb = Notebook(env, str(tmp_path))
        started.append(nb)
        res = nb.run("%load_ext jupyter_sky\n" + SETUP.format(config=str(lab.ssh_config)))
        assert res.status == "ok", res.error_text
        return nb

    yield start
    for nb in started:
        nb.shutdown()


def _queued(lab: SlurmLab, lab_ssh: LabShell) -> list[str]:  # noqa: F811
    """Ids of this module's jobs (named sky-dt) in the queue."""
    out = lab_ssh.run(f"squeue -h -u {lab.user} -o '%i|%j'").out
    return [ln.split("|")[0] for ln in out.splitlines() if ln.endswith("|sky-dt")]


@pytest.fixture(scope="module", autouse=True)
def no_leftover_jobs(lab: SlurmLab, lab_ssh: LabShell) -> Iterator[None]:  # noqa: F811
    """Every job of this module ends by itself (a finished one leaves the queue in moments)."""
    yield
    deadline = time.monotonic() + 10
    while _queued(lab, lab_ssh) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _queued(lab, lab_ssh)
    if left:
        lab_ssh.run(f"scancel {' '.join(left)}", check=False)
    assert not left, f"detached jobs left in the queue: {left}"


def _submit(nb: Notebook, cell: str) -> str:
    res = nb.run(cell)
    assert res.status == "ok", res.error_text
    last = res.stdout.splitlines()[-1]  # after any bootstrap progress lines
    match = re.fullmatch(
        r"submitted detached job (\d+) on slurm/lab \(sky-dt\); %sky attach \1 brings it back",
        last,
    )
    assert match, res.stdout
    return match.group(1)


def _job_field(nb: Notebook, job: str, name: str) -> str:
    """A field of the job's record in the notebook's state store."""
    find = "__import__('jupyter_sky.infra.slurm.jobs').infra.slurm.jobs.find"
    store = "__import__('jupyter_sky.notebook.magics').notebook.magics.manager().store"
    return nb.value(f"{find}({store}, {job!r}).{name}")


def _job_dir(nb: Notebook, job: str) -> str:
    return _job_field(nb, job, "dir").strip("'")


def _first_output_seconds(nb: Notebook, lab_ssh: LabShell, job: str) -> float:  # noqa: F811
    submitted = float(_job_field(nb, job, "submitted_at"))
    first = lab_ssh.run(f"head -n 1 {_job_dir(nb, job)}/output.jsonl").out
    return float(json.loads(first)["t"]) - submitted


def _row(table: str, job: str) -> list[str]:
    rows = [ln.split() for ln in table.splitlines() if f" {job} " in f" {ln} "]
    assert len(rows) == 1, table
    return rows[0]


def test_detached_job_survives_a_kernel_restart(
    notebook: Callable[[], Notebook],
    lab_ssh: LabShell,  # noqa: F811
) -> None:
    first = notebook()
    assert first.run("base = 20").status == "ok"
    job = _submit(first, _counting(10, 0.2, "result = base * 2 + 2\n"))
    first.shutdown()  # the notebook kernel is gone; the job is not
    second = notebook()
    res = second.run(f"%sky attach {job}")
    assert res.status == "ok", res.error_text
    assert res.stdout == "".join(f"line {i}\n" for i in range(10))
    assert second.value("result") == "42"
    took = _first_output_seconds(second, lab_ssh, job)
    print(f"\ndetached submit -> first recorded output: {took:.2f} s")
    row = _row(second.run("%sky jobs").stdout, job)
    assert row[4] == "DONE" and re.fullmatch(r"\d+s", row[5]), row
    again = second.run(f"%sky attach {job}")  # attaching twice replays the same record
    assert again.stdout == res.stdout


def test_attach_follows_a_running_job_live(notebook: Callable[[], Notebook]) -> None:
    nb = notebook()
    job = _submit(nb, _counting(15, 0.2))
    res = nb.run(f"%sky attach {job}")
    assert res.status == "ok", res.error_text
    assert res.stdout == "".join(f"line {i}\n" for i in range(15))
    lines = [o for o in res.outputs if o.msg_type == "stream" and "line" in o.text]
    assert lines[0].t < res.elapsed - 1.5, [(o.t, o.text) for o in lines]  # seen as printed
    assert len({round(o.t, 1) for o in lines}) > 3  # in several pieces, not at the end


def test_a_cancelled_job_is_one_sentence_after_its_recorded_lines(
    notebook: Callable[[], Notebook],
    lab_ssh: LabShell,  # noqa: F811
) -> None:
    nb = notebook()
    job = _submit(nb, _counting(200, 0.1))
    output = f"{_job_dir(nb, job)}/output.jsonl"
    deadline = time.monotonic() + 30
    while lab_ssh.run(f"grep -c line {output}", check=False).out.strip() in ("", "0", "1", "2"):
        assert time.monotonic() < deadline, "no output recorded"
        time.sleep(0.1)
    cancelled = nb.run(f"%sky jobs --cancel {job}")
    assert cancelled.stdout == (
        f"cancelled detached job {job}; %sky attach {job} shows what it recorded\n"
    )
    lab_ssh.wait_gone(int(job))
    res = nb.run(f"%sky attach {job}")
    assert res.status == "error"
    assert res.error_text == (
        f"SkyError: Detached job {job} ended before its cell finished (the job was cancelled "
        "(scancel)); the recorded output above is all there is."
    )
    shown = res.stdout.splitlines()
    assert len(shown) >= 3 and shown == [f"line {i}" for i in range(len(shown))]
    row = _row(nb.run("%sky jobs").stdout, job)
    assert row[4] == "CANCELLED", row


def test_an_error_in_the_cell_comes_back_as_the_cells_error(
    notebook: Callable[[], Notebook],
) -> None:
    nb = notebook()
    job = _submit(
        nb, _counting(2, 0.1, "import os\nwhere = os.environ['JUPYTER_SKY_INFRA']\n1 / 0\n")
    )
    res = nb.run(f"%sky attach {job}")
    assert res.status == "error" and res.error is not None
    assert res.stdout == "line 0\nline 1\n"
    assert res.error["ename"] == "ZeroDivisionError"
    assert f"slurm/lab detached job {job}" in res.error_text
    assert nb.value("where") == "'slurm'"  # names assigned before the error come home too
    row = _row(nb.run("%sky jobs").stdout, job)
    assert row[4] == "ERROR", row


def test_a_gpu_type_the_cluster_lacks_queues_nothing(
    notebook: Callable[[], Notebook],
    lab: SlurmLab,
    lab_ssh: LabShell,  # noqa: F811
) -> None:
    before = set(_queued(lab, lab_ssh))
    res = notebook().run("%%sky --infra slurm/lab --detach --gpus H100:1 --name dt\nprint(1)")
    assert res.status == "error"
    assert res.error_text == (
        "InfraError: Slurm cluster 'lab' has no H100 GPUs (it declares a100, t4); choose one of "
        "those in --gpus or drop the type."
    )
    assert set(_queued(lab, lab_ssh)) <= before  # nothing new (a job ending may leave)


def test_an_unknown_job_is_one_sentence(notebook: Callable[[], Notebook]) -> None:
    res = notebook().run("%sky attach 999999")
    assert res.status == "error"
    assert res.error_text == (
        "SkyError: There is no detached job '999999'; %sky jobs lists the detached jobs."
    )
    res = notebook().run("%sky jobs --cancel 999999")
    assert res.error_text == (
        "SkyError: There is no detached job '999999'; %sky jobs lists the detached jobs."
    )


def test_a_detached_two_node_cell_sruns_across_the_allocation(
    notebook: Callable[[], Notebook], lab: SlurmLab
) -> None:
    """``--num-nodes 2`` with ``--detach``: the runner's node is MASTER_ADDR for both tasks."""
    nb = notebook()
    cell = (
        "%%sky --infra slurm/lab --detach --name dt --num-nodes 2\nimport subprocess\n"
        "out = subprocess.run(['srun', '-N2', '-n2', 'bash', '-c', "
        "'echo $SLURM_PROCID $(hostname -s) $MASTER_ADDR $WORLD_SIZE'], "
        "capture_output=True, text=True, check=True).stdout\nprint(out, end='')"
    )
    job = _submit(nb, cell)
    res = nb.run(f"%sky attach {job}")
    assert res.status == "ok", res.error_text
    rows = sorted(line.split() for line in res.stdout.splitlines())
    assert [r[0] for r in rows] == ["0", "1"] and {r[1] for r in rows} == set(lab.nodes)
    addrs = {info["addr"] for info in lab.nodes.values()}
    assert len({r[2] for r in rows}) == 1 and rows[0][2] in addrs and {r[3] for r in rows} == {"2"}


def test_a_detached_cell_is_held_to_its_budget(
    notebook: Callable[[], Notebook],
    lab: SlurmLab,
    lab_ssh: LabShell,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A priced slurm (a ``prices:`` entry; $3600 a vCPU-hour): an estimate over ``--max-cost``
    queues nothing; under it, the job's own kernel interrupts the cell at the limit."""
    (tmp_path / "jupyter_sky.yaml").write_text("prices:\n  slurm:\n    cpu: 3600\n    memory: 0\n")
    nb = notebook()
    before = set(_queued(lab, lab_ssh))
    refused = nb.run("%%sky --infra slurm/lab --detach --name dt --time 2h --max-cost 1\nx = 1")
    assert refused.status == "error"
    assert "Refused before launch: the estimate $" in refused.error_text, refused.error_text
    assert "exceeds --max-cost $1.00 ($0.00 spent, $1.00 left)" in refused.error_text
    assert set(_queued(lab, lab_ssh)) == before  # nothing was queued
    job = _submit(nb, _counting(300, 0.1).replace("--name dt", "--name dt --max-cost 2"))
    res = nb.run(f"%sky attach {job}", timeout=120)
    assert res.status == "error" and res.error is not None
    said = re.search(r"budget reached on the target: the cell spent \$[\d.]+ at \$[\d.]+/h, "
                     r"reaching --max-cost \$2\.00 \(\$0\.00 spent, \$2\.00 left\); it was "
                     r"interrupted and the kernel stays idle", res.stderr)  # fmt: skip
    assert said, res.stderr
    assert res.error["ename"] == "KeyboardInterrupt", res.error_text
    assert 1 <= len(res.stdout.splitlines()) < 100  # stopped early, not after 30 s
