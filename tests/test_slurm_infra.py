"""The ``slurm`` infra on the lab's real Slurm (two compute nodes in their own network
namespaces, the login host = this machine, reached over sshd 127.0.0.1:2222 as ``skyuser``).

The infra contract suite runs here unchanged (imported from test_contract with a slurm
``infra`` fixture), then what only Slurm has: the kernel on a compute node reached through the
login host, typed and untyped GRES, restart inside the same allocation, ``scancel`` on down,
and one sentence (nothing queued) for a GPU type or partition the cluster lacks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slurm.conftest import LabShell, SlurmLab, lab_ssh, slurm_lab  # noqa: F401 - lab fixtures
from test_contract import (  # noqa: F401 - the contract suite, run on slurm
    _connected,
    _run,
    launched,
    test_check_is_a_sentence_or_empty,
    test_interrupt_keeps_the_kernel,
    test_launch_connect_run_and_down,
    test_offerings_describe_the_target,
    test_restart_replaces_the_kernel_in_place,
    test_unmet_names_what_is_missing,
)

import jupyter_sky.infra
from jupyter_sky.errors import InfraError
from jupyter_sky.infra.base import Infra, Launch
from jupyter_sky.kernel.cluster import LiveCluster

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]

jupyter_sky.infra.register("jupyter_sky.infra.slurm:SlurmInfra")


@pytest.fixture(scope="module")
def lab(slurm_lab: SlurmLab) -> SlurmLab:  # noqa: F811
    pytest.importorskip("paramiko")
    return slurm_lab


@pytest.fixture
def notes() -> list[str]:
    return []


@pytest.fixture
def infra(lab: SlurmLab, session_home: Path, notes: list[str]) -> Iterator[Infra]:
    from jupyter_sky.infra.slurm import SlurmInfra

    yield SlurmInfra(
        {"config_file": str(lab.ssh_config)}, default_cluster=lab.ssh_alias, notify=notes.append
    )


@pytest.fixture(scope="module", autouse=True)
def no_leftover_jobs(lab: SlurmLab, session_home: Path) -> Iterator[None]:
    """Cancel (by id) any job of this module left in the queue; the tests should leave none."""
    yield
    client = lab.connect()
    try:
        deadline = time.monotonic() + 10  # a job just cancelled is COMPLETING for a moment
        while True:
            _, out, _ = client.exec_command(f"squeue -h -u {lab.user} -o '%i|%j|%T'")
            rows = [line.split("|") for line in out.read().decode().splitlines()]
            left = [r[0] for r in rows if r[1].startswith("sky-") and r[1] != "sky-dt"]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if left:
            client.exec_command(f"scancel {' '.join(left)}")
    finally:
        client.close()
    assert not left, f"jobs left in the queue: {left}"


def _request(name: str, tmp_path: Path, flags: str = "") -> Launch:
    from jupyter_sky.config import Config
    from jupyter_sky.spec.task import parse_line, task_from_args

    task = task_from_args(parse_line(f"--name {name} {flags}"), "pass", tmp_path)
    return Launch(name, task, Config())


def _texts(msgs: list[dict]) -> str:
    return "".join(m["content"].get("text", "") for m in msgs)


def _sky_jobs(shell: LabShell) -> list[str]:
    out = shell.run(f"squeue -h -u {shell.lab.user} -o '%i|%j'").out
    return [ln.split("|")[0] for ln in out.splitlines() if ln.split("|")[-1].startswith("sky-")]


# ---- the kernel is on a compute node, reached through the login host -------------------
def test_kernel_runs_on_a_compute_node_and_down_scancels(
    infra: Any,
    lab: SlurmLab,
    lab_ssh: LabShell,  # noqa: F811
    tmp_path: Path,
) -> None:
    t0 = time.monotonic()
    lab_ssh.run("srun -N1 hostname")
    srun = time.monotonic() - t0
    t0 = time.monotonic()
    handle = infra.launch(_request("node", tmp_path, "--time 90m --cpus 2 --memory 1"))
    try:
        live = _connected(infra, "node", handle)
        text = _texts(_run(live, "import os, socket\nprint(socket.gethostname(), os.getpid())"))
        first = time.monotonic() - t0
        print(
            f"\nfirst cell output of a new Slurm cluster: {first:.2f} s (srun hostname {srun:.2f} s)"
        )
        modes = lab_ssh.run(f"stat -c %a {handle.connection_file} {handle.dir}").out
        assert [m[-3:] for m in modes.split()] == ["600", "700"]
        host, pid = text.split()
        assert host in lab.nodes and host != lab.login_host
        assert int(pid) == handle.pid and host == handle.node
        assert handle.addr == lab.nodes[host]["addr"]
        where = f"slurm/lab job {handle.job} on {host} pid {pid} · 1 h 29 min left"
        assert infra.where(handle) == where  # the allocation's remaining time, for the status
        job = lab_ssh.job_info(int(handle.job))
        assert job["JobState"] == "RUNNING" and job["TimeLimit"] == "01:30:00"
        assert job["NumCPUs"] == "2" and job["MinMemoryNode"] == "1G"
        live.detach()
    finally:
        infra.down(handle)
    assert not infra.is_alive(handle)
    lab_ssh.wait_gone(int(handle.job))
    assert infra.exit_reason(handle) == "the job was cancelled (scancel)"


@pytest.mark.parametrize(
    ("flags", "visible"),
    [("--gpus 1", 1), ("--gpus A100:1", 1), ("--gpus t4:2", 2)],
)
def test_gres_reaches_the_cell(
    infra: Any, lab: SlurmLab, tmp_path: Path, flags: str, visible: int
) -> None:
    handle = infra.launch(_request("gres", tmp_path, f"--infra slurm/lab/gpu {flags}"))
    try:
        live = _connected(infra, "gres", handle)
        text = _texts(_run(live, "import os\nprint(os.environ['CUDA_VISIBLE_DEVICES'])"))
        assert len(text.strip().split(",")) == visible
        if "A100" in flags:
            assert handle.node == "n1"  # the only node with an a100
        if "t4:2" in flags:
            assert handle.node == "n2"  # the only node with two t4
        live.detach()
    finally:
        infra.down(handle)


def test_restart_keeps_the_allocation(infra: Any, tmp_path: Path, lab_ssh: LabShell) -> None:  # noqa: F811
    request = _request("again", tmp_path)
    handle = infra.launch(request)
    new = handle
    try:
        live = _connected(infra, "again", handle)
        _run(live, "x = 1")
        live.detach()
        new = infra.restart(handle, request)
        assert new.job == handle.job and new.pid != handle.pid
        assert lab_ssh.state(int(new.job)) == "RUNNING"
        fresh = _connected(infra, "again", new)
        assert _texts(_run(fresh, "print('x' in globals())")) == "False\n"
        fresh.detach()
    finally:
        infra.down(new)


# ---- bad input: one sentence, nothing queued ------------------------------------------
@pytest.mark.parametrize(
    ("flags", "sentence"),
    [
        (
            "--infra slurm/lab --gpus H100:1",  # a GPU type the cluster lacks
            "Slurm cluster 'lab' has no H100 GPUs (it declares a100, t4); choose one of those "
            "in --gpus or drop the type.",
        ),
        (
            "--infra slurm/lab/gpu --gpus T4:3",  # a request no node can hold
            "This cell asks for T4:3, but partition 'gpu' of Slurm cluster 'lab' has at most "
            "2 T4 GPUs per node.",
        ),
    ],
)
def test_an_impossible_request_is_one_sentence_and_queues_nothing(
    infra: Any,
    tmp_path: Path,
    lab_ssh: LabShell,  # noqa: F811
    flags: str,
    sentence: str,
) -> None:
    before = _sky_jobs(lab_ssh)
    with pytest.raises(InfraError) as err:
        infra.launch(_request("bad", tmp_path, flags))
    assert str(err.value) == sentence
    assert set(_sky_jobs(lab_ssh)) <= set(before)  # nothing new (a job ending may leave)


def test_an_unknown_cluster_is_one_sentence(infra: Any, tmp_path: Path) -> None:
    with pytest.raises(InfraError) as err:
        infra.launch(_request("c", tmp_path, "--infra slurm/nosuchcluster"))
    text = str(err.value)
    assert text.startswith("Unknown SSH host 'nosuchcluster'") and text.count(".") == 1


def test_an_unknown_partition_is_one_sentence(infra: Any, tmp_path: Path) -> None:
    with pytest.raises(InfraError) as err:
        infra.launch(_request("p", tmp_path, "--infra slurm/lab/nosuch"))
    assert (
        str(err.value)
        == "Slurm cluster 'lab' has no partition 'nosuch'; its partitions are cpu, gpu."
    )


def test_too_many_gpus_per_node_is_unmet(infra: Any, tmp_path: Path) -> None:
    resources = _request("u", tmp_path, "--infra slurm/lab --gpus A100:2").task.resources
    assert infra.unmet(resources) == (
        "This cell asks for A100:2, but Slurm cluster 'lab' has at most 1 A100 GPUs per node."
    )


def test_offerings_are_the_partitions_unpriced(infra: Any) -> None:
    offers = infra.live()
    assert {(o.instance_type, o.accelerator) for o in offers} == {
        ("cpu", "A100"),
        ("cpu", "T4"),
        ("gpu", "A100"),
        ("gpu", "T4"),
    }
    assert all(o.infra == "slurm" and o.price is None for o in offers)
    assert {o.note for o in offers} == {"nodes: 1 idle"}  # each shape is one idle node here


# ---- records --------------------------------------------------------------------------
def test_slurm_output_is_parsed_into_records() -> None:
    from jupyter_sky.infra.slurm import records as rec
    rows = rec.parse_sinfo("cpu*|4|4000|gpu:a100:1,gpu:t4:1(S:0)|up\ngpu|8+|16000|gpu:2|down\n")
    assert rows[0].partition == "cpu" and rows[0].default and rows[0].gpus == {"a100": 1, "t4": 1}
    assert rows[1].cpus == 8 and rows[1].gpus == {"": 2} and not rows[1].up
    assert rec.parse_gres("(null)") == {}
    states = rec.parse_sinfo(
        "gpu|8|16000|gpu:a100:4|up|mix|2\ngpu|8|16000|gpu:a100:4|up|idle|1\n"
        "gpu|8|16000|gpu:a100:4|up|alloc|3\ngpu|8|16000|gpu:a100:4|up|drain*|1\n"
    )
    assert len(states) == 1  # one shape of node, its states summed
    assert states[0].describe_nodes() == "nodes: 1 idle, 2 mixed, 3 allocated, 1 drain"
    job = rec.parse_squeue("PENDING|Resources|\n")
    assert job.state == "PENDING" and job.reason == "Resources" and not job.running
    assert rec.parse_squeue("RUNNING|None|n1").reason == ""
    assert rec.parse_squeue("").state == ""


def test_pending_shows_the_reason_live(
    infra: Any,
    tmp_path: Path,
    notes: list[str],
    lab_ssh: LabShell,  # noqa: F811
) -> None:
    blocker, _ = lab_ssh.sbatch("sleep 60", "-p", "gpu", "--gres=gpu:a100:1", "-J", "sky-blocker")
    box: dict[str, Any] = {}

    def launch() -> None:
        try:
            box["handle"] = infra.launch(_request("wait", tmp_path, "--gpus A100:1"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            box["error"] = exc

    import threading

    thread = threading.Thread(target=launch)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not any("PENDING (Resources)" in n for n in notes):
            assert time.monotonic() < deadline, notes
            time.sleep(0.05)
    finally:
        lab_ssh.run(f"scancel {blocker}")
        thread.join(30)
    assert "error" not in box, box.get("error")
    handle = box["handle"]
    infra.down(handle)
    pending = [n for n in notes if "PENDING" in n]
    assert f"slurm/lab: job {handle.job} PENDING (Resources)" in pending
    assert len(pending) == len(set(pending))  # said when it changes, not every poll


def test_closing_the_client_lets_the_idle_watchdog_end_the_job(
    infra: Any,
    tmp_path: Path,
    lab_ssh: LabShell,  # noqa: F811
) -> None:
    import dataclasses

    request = _request("idle", tmp_path)
    defaults = dataclasses.replace(request.config.defaults, idle_minutes=0.03)
    request.config = dataclasses.replace(request.config, defaults=defaults)  # ~2 s, no client
    handle = infra.launch(request)
    try:
        live = LiveCluster("idle", infra, handle, lease_seconds=0.5)
        live.connect()  # a notebook holds it: the watchdog leaves it alone ...
        for _ in range(4):
            time.sleep(1)
            _run(live, "pass")
        assert lab_ssh.state(int(handle.job)) == "RUNNING"
        live.detach()  # ... until the notebook lets go
        lab_ssh.wait_gone(int(handle.job), timeout=30)
        deadline = time.monotonic() + 10  # the cached liveness catches up within a check
        while infra.is_alive(handle) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not infra.is_alive(handle)
        assert infra.exit_reason(handle).startswith("idle watchdog: no notebook client")
    finally:
        infra.down(handle)


def test_sky_cell_on_slurm_like_local(
    lab: SlurmLab,
    fresh_nb: Any,
    lab_ssh: LabShell,  # noqa: F811
) -> None:
    """The magic end to end: a variable goes, the cell runs on a node with its GPU, the
    result comes back, and ``%sky down`` cancels the job."""
    setup = (
        "from jupyter_sky.infra import _loaded, register\n"
        "from jupyter_sky.infra.slurm import SlurmInfra\n"
        "register('jupyter_sky.infra.slurm:SlurmInfra')\n"
        f"_loaded['slurm'] = SlurmInfra({{'config_file': {str(lab.ssh_config)!r}}}, 'lab')\n"
        "base = 20\n"
    )
    assert fresh_nb.run(setup).status == "ok"
    res = fresh_nb.run(
        "%%sky --infra slurm/lab --gpus 1 --name nb-slurm\nimport os, socket, time\n"
        "result = base * 2 + 2\n"
        "print('on', socket.gethostname(), 'job', os.environ['SLURM_JOB_ID'],"
        " 'gpus', os.environ['CUDA_VISIBLE_DEVICES'], flush=True)\n"
        "for k in range(3):\n    time.sleep(0.7)\n    print('tick', k, flush=True)"
    )
    assert res.status == "ok", res.error_text
    ticks = [(o.t, ln) for o in res.of_type("stream") for ln in o.text.splitlines() if "tick" in ln]
    assert [ln for _, ln in ticks] == ["tick 0", "tick 1", "tick 2"], res.stdout
    assert ticks[2][0] - ticks[0][0] >= 1.0, ticks  # live: 1.4 s apart as printed, not at the end
    words = res.stdout.split()
    on, job = words[words.index("on") + 1], words[words.index("job") + 1]
    assert on in lab.nodes and "gpus" in words
    assert fresh_nb.value("result") == "42"
    assert lab_ssh.state(int(job)) == "RUNNING"
    assert fresh_nb.run("%sky down nb-slurm").status == "ok"
    lab_ssh.wait_gone(int(job))


def test_partition_and_account_flags_reach_sbatch(
    infra: Any,
    tmp_path: Path,
    lab_ssh: LabShell,  # noqa: F811
) -> None:
    flags = "--infra slurm/lab --partition gpu --account acct1 --gpus 1"
    handle = infra.launch(_request("acct", tmp_path, flags))
    try:
        job = lab_ssh.job_info(int(handle.job))
        assert (job["Partition"], job["Account"]) == ("gpu", "acct1")
    finally:
        infra.down(handle)
    lab_ssh.wait_gone(int(handle.job))


def test_two_nodes_srun_across_both_with_torchrun_variables(
    infra: Any,
    lab: SlurmLab,
    tmp_path: Path,
    lab_ssh: LabShell,  # noqa: F811
) -> None:
    """``--num-nodes 2``: the kernel is on the first node; ``srun`` from the cell reaches both,
    each task with its rank and the rendezvous variables torchrun expects."""
    handle = infra.launch(_request("pair", tmp_path, "--infra slurm/lab/cpu --num-nodes 2"))
    try:
        assert lab_ssh.job_info(int(handle.job))["NumNodes"] == "2"
        live = _connected(infra, "pair", handle)
        code = (
            "import subprocess\n"
            "print(subprocess.run(['srun', '-N2', '-n2', 'bash', '-c', "
            "'echo $SLURM_PROCID $(hostname -s) $MASTER_ADDR $MASTER_PORT $WORLD_SIZE'], "
            "capture_output=True, text=True, check=True).stdout)"
        )
        rows = sorted(line.split() for line in _texts(_run(live, code)).split("\n") if line)
        assert [r[0] for r in rows] == ["0", "1"]
        assert {r[1] for r in rows} == set(lab.nodes)  # both nodes ran a task
        assert {r[2] for r in rows} == {handle.addr}  # the kernel's node is the master
        assert {r[4] for r in rows} == {"2"} and int(rows[0][3]) >= 20000
        live.detach()
    finally:
        infra.down(handle)
    lab_ssh.wait_gone(int(handle.job))


def test_a_job_killed_by_its_time_limit_is_reported_as_such(
    infra: Any,
    tmp_path: Path,
    lab_ssh: LabShell,  # noqa: F811
) -> None:
    """``--time 1m`` (Slurm's shortest limit); a cell still running then dies with the reason."""
    from jupyter_sky.kernel.execute import KernelDied, run_cell
    from jupyter_sky.kernel.relay import CellRelay

    handle = infra.launch(_request("short", tmp_path, "--time 1m"))
    try:
        assert lab_ssh.job_info(int(handle.job))["TimeLimit"] == "00:01:00"
        assert infra.where(handle).endswith((" s left", " 1 min left"))
        live = _connected(infra, "short", handle)
        with pytest.raises(KernelDied) as died:
            run_cell(live, "import time\ntime.sleep(600)", CellRelay(None))
        assert died.value.args[0] == "the job hit its time limit"
        live.detach()
    finally:
        infra.down(handle)


def test_sbatch_options_fold_in_the_slurm_config(tmp_path: Path) -> None:
    from jupyter_sky.infra.slurm.kernel import sbatch_options

    task = _request("o", tmp_path, "--infra slurm/lab --num-nodes 2 --qos q1").task
    entry = {"time": 90.0, "account": "a1", "qos": "ignored"}
    assert sbatch_options(task, "gpu", "gpu:t4:1", entry) == [
        "--partition=gpu", "--gres=gpu:t4:1", "--nodes=2", "--time=90",
        "--account=a1", "--qos=q1",
    ]  # fmt: skip
    timed = _request("o", tmp_path, "--infra slurm/lab --time 2h").task
    assert sbatch_options(timed, "", "", entry) == ["--time=120", "--account=a1", "--qos=ignored"]


def test_time_left_is_parsed_from_squeue() -> None:
    from jupyter_sky.infra.slurm import records as rec
    assert rec.parse_squeue("RUNNING|None|n1|1-02:03:04").seconds_left == 93784
    assert rec.parse_squeue("RUNNING|None|n1|59:58").seconds_left == 3598
    assert rec.parse_squeue("RUNNING|None|n1|UNLIMITED").seconds_left is None


def test_sbatch_on_this_path_is_the_local_cluster_without_ssh(
    lab: SlurmLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook on the login node itself: with no cluster named and ``sbatch`` on PATH,
    ``--infra slurm`` is ``slurm/local`` — commands run here, files are read from the shared
    filesystem, the kernel's ports are reached directly at the node's address."""
    from jupyter_sky.infra.slurm import SlurmInfra
    from jupyter_sky.infra.slurm.local_shell import LocalShell
    from jupyter_sky.transport import ssh

    ssh.close_all()
    opened: list[Any] = []
    monkeypatch.setattr(ssh, "connection", lambda *a, **k: opened.append(a))
    infra = SlurmInfra(notify=print)
    request = _request("loc", tmp_path, "--infra slurm --gpus T4:1")
    handle = infra.launch(request)
    try:
        assert isinstance(infra.connection("local"), LocalShell) and handle.cluster == "local"
        live = _connected(infra, "loc", handle)
        text = _texts(_run(live, "import os, socket\nprint(socket.gethostname(), os.getuid())"))
        host, uid = text.split()
        assert host in lab.nodes and uid == str(os.getuid())  # this machine's user, no login
        live.detach()
    finally:
        infra.down(handle)
    assert opened == []  # no SSH connection was asked for


@pytest.mark.timeout(90)
def test_killing_the_login_hosts_ssh_session_mid_stream_loses_no_line(
    infra: Any, tmp_path: Path
) -> None:
    """The kernel is on a compute node, its ports tunnelled through the login host's sshd;
    that sshd session is SIGKILLed mid-stream: every line still arrives once, in order."""
    from test_fault_drop_transport import stream_through_a_killed_session

    handle = infra.launch(_request("kill", tmp_path))
    try:
        live = _connected(infra, "kill", handle)
        stream_through_a_killed_session(live, infra.connection("lab"))
        live.detach()
    finally:
        infra.down(handle)
