"""Benchmark ``%%sky`` on SSH hosts and Slurm (the local lab), beside submitit on the same Slurm.

Usage (as root: the lab is started with ``bash scripts/lab_up.sh``, which is idempotent and
shared with the test sessions; this script runs it and never stops the lab)::

    python benchmarks/bench_slurm.py            # the full measurement (~3 min)
    python benchmarks/bench_slurm.py --quick    # a short smoke run

jupyter-sky is measured as a notebook user sees it: this script is the frontend of one
notebook kernel (jupyter_client, kernel spec ``python3``, driven as ``bench_cells.py`` drives
it), whose ``JUPYTER_SKY_HOME`` has a ``config.yaml`` naming the lab's ssh_config (alias
``lab``: sshd 127.0.0.1:2222 as ``skyuser``; Slurm cluster ``lab`` with nodes n1, n2 in their
own network namespaces). The peer, submitit's ``AutoExecutor``, runs ``sbatch`` here as the
current user (root on the login host) with its folder in the lab's shared jobs directory.

The numbers (medians unless said otherwise):

1. Warm trivial cell, frontend wall time from sending the ``execute_request`` until its reply
   and iopub ``idle`` arrived: ``%%sky --infra ssh/lab --name N`` / ``x = 1`` (kernel on the
   login host over SSH), ``--infra slurm/lab`` (kernel on a compute node, through the login
   host) and ``--infra local``, interleaved in random order with a plain ``x = 1`` (the
   notebook kernel's own floor), after warm-up cells. Median and p90.
2. First output of a new Slurm cluster: from sending ``%%sky --infra slurm/lab --name <new>``
   / ``print('hi')`` until the stream message ``hi`` reaches the frontend. Beside it, over
   one SSH connection as ``skyuser`` in the same repetition: ``srun -N1 hostname`` and
   ``srun -N1 <lab python> -c 'import ipykernel.kernelapp'``; "kernel start" is the
   difference of the two. Target: srun hostname + kernel start + 1 s. The peer: submitit
   ``executor.submit(f)`` (``f`` prints ``hi`` and returns 1) until ``job.result()`` returns
   (submitit checks for the result file once a second), and until the result file exists
   (polled here every 20 ms).
3. Detached cell: from sending ``%%sky --detach --infra slurm/lab`` / ``print('hi')`` until
   the time ``t`` recorded with the first line of ``output.jsonl`` on the cluster (the lab
   is this machine: one clock). Beside it, the same cell's submit time (the frontend's wall
   time of the cell). Target 1 s (Slurm's scheduling tick) + 0.5 s. The peer: submitit
   submit until ``hi`` is in the job's stdout file (polled every 20 ms).

Before starting, the script waits (``--wait-queue``, default 900 s) until no job of others is
pending in the lab's queue: a pending job ahead in a partition makes Slurm's main scheduler
skip that partition, and every later job then waits for the backfill pass (every 30 s). The
output says how many starts still began with such a job pending.

Everything started here is stopped at the end, also on failure: remote kernels with
``%sky down``, any job of this run still queued with ``scancel`` by id, the job directories
this run created on the cluster, the notebook kernel, the temporary ``JUPYTER_SKY_HOME`` and
the submitit folder. The machine's load is printed as in ``bench_cells.py``; here "other
processes" include the lab's sshd, Slurm daemons and remote kernels (they do not inherit
this run's marker).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import pwd
import random
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cells import Load, Notebook, code_under_test, kill_leftovers, pct, say, table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LAB_DIR = Path(os.environ.get("JUPYTER_SKY_LAB", "/tmp/jupyter-sky-lab"))
TARGET_WARM_MS = 10.0
TARGET_MARGIN_S = 1.0
TARGET_DETACHED_S = 1.5
POLL_S = 0.02


# ---- the lab ------------------------------------------------------------------------------
class LabSsh:
    """One paramiko connection to the lab's login host as its user (``TCP_NODELAY``)."""

    def __init__(self, info: dict[str, Any]) -> None:
        import paramiko

        sock = socket.create_connection((info["ssh_host"], int(info["ssh_port"])), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = paramiko.SSHClient()
        self.client.load_host_keys(info["known_hosts"])
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self.client.connect(
            info["ssh_host"],
            int(info["ssh_port"]),
            username=info["user"],
            key_filename=info["key"],
            sock=sock,
            allow_agent=False,
            look_for_keys=False,
        )

    def run(self, cmd: str, timeout: float = 60) -> tuple[int, str]:
        _, out, err = self.client.exec_command(cmd, timeout=timeout)
        text = out.read().decode()
        err.read()
        return out.channel.recv_exit_status(), text

    def timed(self, cmd: str) -> float:
        t0 = time.perf_counter()
        rc, out = self.run(cmd)
        if rc != 0:
            raise RuntimeError(f"`{cmd}` exited {rc}: {out.strip()}")
        return time.perf_counter() - t0

    def queued(self, job: str) -> bool:
        return bool(self.run(f"squeue -h -j {shlex.quote(job)} -o %T 2>/dev/null")[1].strip())

    def wait_gone(self, job: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.queued(job) and time.monotonic() < deadline:
            time.sleep(0.1)


def lab_up() -> dict[str, Any]:
    """Run ``scripts/lab_up.sh`` (idempotent) and register this run as a user of the lab."""
    users = LAB_DIR / "run" / "users"
    users.mkdir(parents=True, exist_ok=True)
    (users / str(os.getpid())).touch()  # another session ending meanwhile keeps the lab up
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "lab_up.sh")], capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/lab_up.sh exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return dict(json.loads((LAB_DIR / "lab.json").read_text()))


def others_jobs(mine: list[str], state: str = "") -> list[str]:
    """Jobs in the lab's queue that are not this run's (only in ``state``, e.g. PENDING)."""
    states = ["-t", state] if state else []
    proc = subprocess.run(["squeue", "-h", *states, "-o", "%i"], capture_output=True, text=True)
    return [j for j in proc.stdout.split() if j not in mine]


def wait_queue(seconds: float) -> str:
    """Wait up to ``seconds`` until no job of others has been in the queue for 20 s (another
    session's tests cancel every ``sky-*`` job of the lab user when they clean up)."""
    t0 = quiet_since = time.monotonic()
    while time.monotonic() - t0 < seconds and time.monotonic() - quiet_since < 20:
        if others_jobs([]):
            quiet_since = time.monotonic()
        time.sleep(1)
    others, pending = others_jobs([]), others_jobs([], "PENDING")
    return (
        f"Slurm queue at the start (after waiting {time.monotonic() - t0:.0f} s): "
        f"{len(others) - len(pending)} job(s) of others running, {len(pending)} pending"
    )


def sky_home(root: Path, info: dict[str, Any]) -> dict[str, str]:
    """A temporary ``JUPYTER_SKY_HOME`` whose config reaches the lab; the kernel's env."""
    home = root / "sky_home"
    home.mkdir()
    (home / "config.yaml").write_text(
        "defaults: {idle_minutes: 10}\n"
        f"ssh: {{config_file: {info['ssh_config']}, hosts: {{{info['ssh_alias']}: {{}}}}}}\n"
        f"slurm: {{cluster: {info['cluster']}, time: 30m}}\n"
    )
    return {"JUPYTER_SKY_HOME": str(home), "IPYTHONDIR": str(root / "ipython")}


# ---- a cell's first output --------------------------------------------------------------
def first_output(nb: Notebook, code: str, needle: str, timeout: float = 180) -> tuple[float, str]:
    """Seconds from sending ``code`` until a stdout stream containing ``needle`` arrives,
    and the cell's whole stdout (read until its reply and ``idle``)."""
    kc = nb.kc
    start = time.perf_counter()
    msg_id = kc.execute(code)
    seen_at, stdout, error = None, "", ""
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            stdout += content["text"]
            if seen_at is None and needle in content["text"]:
                seen_at = time.perf_counter() - start
        elif kind == "error":
            error = "\n".join(content["traceback"])
        elif kind == "status" and content["execution_state"] == "idle":
            break
    kc.get_shell_msg(timeout=30)
    if seen_at is None:
        raise RuntimeError(f"no {needle!r} from:\n{code}\n{stdout}\n{error}")
    return seen_at, stdout


# ---- 1. warm cells ------------------------------------------------------------------------
@dataclass
class Stats:
    values: list[float] = field(default_factory=list)

    @property
    def med(self) -> float:
        return statistics.median(self.values)

    def med_p90(self, unit: str = "ms") -> str:
        return f"{self.med:.2f} / {pct(self.values, 0.9):.2f} {unit}"


def warm_cells(nb: Notebook, prefix: str, cells: int, warm: int) -> dict[str, Stats]:
    kinds = {
        "plain": "x = 1",
        **{k: f"%%sky --infra {where} --name {prefix}-{k}\nx = 1" for k, where in INFRAS.items()},
    }
    for _ in range(warm):
        for code in kinds.values():
            nb.run(code, timeout=180)
    order = [k for k in kinds for _ in range(cells)]
    random.Random(5).shuffle(order)
    times = {k: Stats() for k in kinds}
    for kind in order:
        times[kind].values.append(nb.run(kinds[kind]).seconds * 1000)
    return times


INFRAS = {"ssh": "ssh/lab", "slurm": "slurm/lab", "local": "local"}


def warm_phase(run: Run, cells: int, warm_n: int, out: dict[str, Any]) -> None:
    """Section 1 on new clusters (a retry starts over), then the lab's Python; all down."""
    assert run.nb is not None
    tag = f"{run.prefix}-{uuid.uuid4().hex[:3]}"
    try:
        out.update(warm_cells(run.nb, tag, cells, warm_n))
        name = f"{tag}-slurm"
        run.sky_jobs.append(cell_value(run.nb, name, "__import__('os').environ['SLURM_JOB_ID']"))
        out["python"] = cell_value(run.nb, name, "__import__('sys').executable")
    finally:
        run.nb.run("%sky down --all", timeout=120, check=False)


def cell_value(nb: Notebook, name: str, expr: str) -> str:
    """The printed value of ``expr`` evaluated in cluster ``name``'s kernel."""
    return nb.run(f"%%sky --name {name}\nprint({expr})").stdout.strip().splitlines()[-1]


# ---- 2. first output of a new Slurm cluster -------------------------------------------------
@dataclass
class Fresh:
    sky: Stats = field(default_factory=Stats)
    srun: Stats = field(default_factory=Stats)
    srun_py: Stats = field(default_factory=Stats)
    jobs: list[str] = field(default_factory=list)

    @property
    def kernel_start(self) -> float:
        return self.srun_py.med - self.srun.med

    @property
    def target(self) -> float:
        return self.srun.med + self.kernel_start + TARGET_MARGIN_S


def fresh_cluster(nb: Notebook, ssh: LabSsh, prefix: str, python: str, out: Fresh) -> None:
    srun = ssh.timed("srun -N1 hostname")
    srun_py = ssh.timed(f"srun -N1 {shlex.quote(python)} -c 'import ipykernel.kernelapp'")
    name = f"{prefix}-fresh{uuid.uuid4().hex[:4]}"
    seconds, _ = first_output(nb, f"%%sky --infra slurm/lab --name {name}\nprint('hi')", "hi")
    job = cell_value(nb, name, "__import__('os').environ['SLURM_JOB_ID']")
    out.jobs.append(job)
    nb.run(f"%sky down {name}", timeout=60)
    ssh.wait_gone(job)
    out.srun.values.append(srun)
    out.srun_py.values.append(srun_py)
    out.sky.values.append(seconds)


# ---- 3. detached cells ----------------------------------------------------------------------
@dataclass
class Detached:
    first: Stats = field(default_factory=Stats)
    submit: Stats = field(default_factory=Stats)
    jobs: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)


def detached_cell(nb: Notebook, ssh: LabSsh, prefix: str, out: Detached) -> None:
    t0 = time.time()
    res = nb.run(f"%%sky --detach --infra slurm/lab --name {prefix}-dt\nprint('hi')", timeout=120)
    job = res.stdout.split("submitted detached job ")[1].split()[0]
    out.jobs.append(job)
    find = "__import__('jupyter_sky.notebook.detach_jobs').detach_jobs.find"
    store = "__import__('jupyter_sky.notebook.magics').notebook.magics.manager().store"
    directory = nb.run(f"print({find}({store}, {job!r}).dir)").stdout.strip()
    out.dirs.append(directory)
    output = shlex.quote(f"{directory}/output.jsonl")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = ssh.run(f"head -n 1 {output} 2>/dev/null")[1].strip()
        if line:
            out.first.values.append(float(json.loads(line)["t"]) - t0)
            out.submit.values.append(res.seconds)
            break
        if not ssh.queued(job) and not ssh.run(f"head -n 1 {output} 2>/dev/null")[1].strip():
            raise RuntimeError(f"detached job {job} ended without output ({job_state(job)})")
        time.sleep(POLL_S)
    else:
        raise RuntimeError(f"detached job {job}: nothing recorded in {output} after 60 s")
    ssh.wait_gone(job)


def job_state(job: str) -> str:
    """Slurm's final word on a job (kept for MinJobAge), e.g. to tell a foreign scancel."""
    line = subprocess.run(
        ["scontrol", "show", "job", "-o", job], capture_output=True, text=True
    ).stdout
    fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    return f"JobState={fields.get('JobState', '?')} ExitCode={fields.get('ExitCode', '?')}"


def attempt(what: str, notes: list[str], step: Any, *args: Any) -> None:
    """Run one start; retry (twice) when it failed, e.g. because another session's test
    cleanup cancelled every ``sky-*`` job of the lab user. Each failure is reported."""
    for tries in range(3):
        try:
            step(*args)
            return
        except Exception as exc:  # noqa: BLE001 - reported, then retried or re-raised
            notes.append(f"{what}: attempt {tries + 1} failed: {type(exc).__name__}: {exc}")
            if tries == 2:
                raise


# ---- 4. the peer: submitit ----------------------------------------------------------------
def _hi_and_one() -> int:
    print("hi", flush=True)
    return 1


@dataclass
class Peer:
    result: Stats = field(default_factory=Stats)
    result_file: Stats = field(default_factory=Stats)
    first_line: Stats = field(default_factory=Stats)
    jobs: list[str] = field(default_factory=list)


def _watch(job: Any, t0: float, seen: dict[str, float], stop: threading.Event) -> None:
    """Poll the job's stdout and result file every 20 ms; record when each appeared."""
    while not stop.is_set() and len(seen) < 2:
        with contextlib.suppress(OSError):
            if "first" not in seen and "hi" in job.paths.stdout.read_text().splitlines():
                seen["first"] = time.perf_counter() - t0
        if "result" not in seen and job.paths.result_pickle.exists():
            seen["result"] = time.perf_counter() - t0
        time.sleep(POLL_S)


@contextlib.contextmanager
def quiet_stderr() -> Any:
    """Hide the lab's ``sacct`` complaint ("accounting storage is disabled"): submitit runs
    sacct with our stderr while it waits; it then relies on the result file alone."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def submitit_job(executor: Any, out: Peer) -> None:
    with quiet_stderr():
        _submitit_job(executor, out)


def _submitit_job(executor: Any, out: Peer) -> None:
    seen: dict[str, float] = {}
    stop = threading.Event()
    t0 = time.perf_counter()
    job = executor.submit(_hi_and_one)
    out.jobs.append(str(job.job_id))
    watcher = threading.Thread(target=_watch, args=(job, t0, seen, stop), daemon=True)
    watcher.start()
    try:
        value = job.result()
        out.result.values.append(time.perf_counter() - t0)
    finally:
        watcher.join(timeout=5)
        stop.set()
    assert value == 1, value
    out.first_line.values.append(seen["first"])
    out.result_file.values.append(seen["result"])


def submitit_executor(folder: Path, partition: str) -> Any:
    import logging

    import submitit

    logging.getLogger("submitit").setLevel(logging.ERROR)  # its sacct warnings, see above

    executor = submitit.AutoExecutor(folder=str(folder / "%j"), cluster="slurm")
    executor.update_parameters(
        timeout_min=10, slurm_partition=partition, cpus_per_task=1, mem_gb=1, name="bench-submitit"
    )
    return executor


# ---- the table ------------------------------------------------------------------------------
def _met(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def warm_rows(warm: dict[str, Stats]) -> list[list[str]]:
    rows = []
    for kind, label in (("ssh", "ssh/lab"), ("slurm", "slurm/lab"), ("local", "local")):
        s = warm[kind]
        added = f" (+{s.med - warm['plain'].med:.2f} over plain)"
        target = "(reference)" if kind == "local" else f"≤ {TARGET_WARM_MS:g} ms median"
        met = "" if kind == "local" else _met(s.med, TARGET_WARM_MS)
        rows.append(
            [
                f"warm `x = 1`, `--infra {label}` (notebook frontend), median / p90",
                s.med_p90() + added,
                "– (no warm kernel)",
                target,
                met,
            ]
        )
    rows.append(
        ["plain `x = 1` in the notebook kernel (floor)", warm["plain"].med_p90(), "–", "", ""]
    )
    return rows


def start_rows(fresh: Fresh, det: Detached, peer: Peer) -> list[list[str]]:
    s = "s"
    return [
        [
            "new Slurm cluster: cell sent → first output `hi`; submitit: submit → `job.result()`",
            f"{fresh.sky.med:.2f} {s}",
            f"{peer.result.med:.2f} {s}",
            f"≤ {fresh.target:.2f} s (srun hostname {fresh.srun.med:.2f} + kernel start "
            f"{fresh.kernel_start:.2f} + {TARGET_MARGIN_S:g})",
            _met(fresh.sky.med, fresh.target),
        ],
        [
            "  submitit: submit → result file exists (polled every 20 ms)",
            "–",
            f"{peer.result_file.med:.2f} {s}",
            "",
            "",
        ],
        [
            "  `srun -N1 hostname` over SSH; `srun -N1 python -c 'import ipykernel.kernelapp'`",
            f"{fresh.srun.med:.2f} {s}; {fresh.srun_py.med:.2f} {s}",
            "–",
            "",
            "",
        ],
        [
            "detached: cell sent → first line in output.jsonl; submitit: submit → first stdout line",
            f"{det.first.med:.2f} {s}",
            f"{peer.first_line.med:.2f} {s}",
            f"≤ {TARGET_DETACHED_S:g} s",
            _met(det.first.med, TARGET_DETACHED_S),
        ],
        [
            "  detached: the submitting cell itself (frontend)",
            f"{det.submit.med:.2f} {s}",
            "–",
            "",
            "",
        ],
    ]


def samples(rows: list[tuple[str, Stats]]) -> list[str]:
    return [f"- {label}: " + ", ".join(f"{v:.2f}" for v in s.values) for label, s in rows]


# ---- cleanup --------------------------------------------------------------------------------
@dataclass
class Run:
    """What this run started, for the cleanup."""

    prefix: str
    folder: Path
    nb: Notebook | None = None
    ssh: LabSsh | None = None
    home: str = ""
    sky_jobs: list[str] = field(default_factory=list)  # slurm clusters' jobs (kernels)
    notes: list[str] = field(default_factory=list)  # failed attempts
    fresh: Fresh = field(default_factory=Fresh)
    det: Detached = field(default_factory=Detached)
    peer: Peer = field(default_factory=Peer)

    def jobs(self) -> list[str]:
        return [*self.sky_jobs, *self.fresh.jobs, *self.det.jobs, *self.peer.jobs]

    def remote_dirs(self) -> list[str]:
        """The job directories (and batch output files) this run left on the cluster."""
        base = f"{self.home}/.jupyter_sky/slurm"
        jobs = [j for j in [*self.sky_jobs, *self.fresh.jobs] if j.isdigit()]
        kernels = [p for j in jobs for p in (f"{base}/{j}", f"{base}/{j}.out")]
        return kernels + [d for d in self.det.dirs if "/.jupyter_sky/detached/" in d]

    def rm_command(self) -> str:
        """Removes :meth:`remote_dirs` and the ssh kernel's directory (``<prefix>-ssh-<tag>``)."""
        quoted = " ".join(shlex.quote(d) for d in self.remote_dirs())
        return f"rm -rf -- {quoted} {shlex.quote(self.home)}/.jupyter_sky/clusters/{self.prefix}-*"


def cleanup(run: Run) -> None:
    """``%sky down`` every cluster, scancel this run's jobs still queued (by id), remove the
    job directories this run created on the cluster."""
    if run.nb is not None:
        with contextlib.suppress(Exception):
            run.nb.run("%sky down --all", timeout=120, check=False)
        run.nb.shutdown()
    ids = run.jobs()
    if run.ssh is not None:  # a cluster whose launch was interrupted before its id was seen
        _, out = run.ssh.run("squeue -h -u $(id -un) -o '%i|%j'")
        ids += [ln.split("|")[0] for ln in out.splitlines() if f"|sky-{run.prefix}" in ln]
    queued = [j for j in dict.fromkeys(ids) if _queued(j)]
    if queued:
        subprocess.run(["scancel", *queued], check=False)
        say(f"(cleanup: scancel {' '.join(queued)})")
    if run.ssh is not None and run.home:
        run.ssh.run(run.rm_command())
    shutil.rmtree(run.folder, ignore_errors=True)


def _queued(job: str) -> bool:
    proc = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True)
    return bool(proc.stdout.strip())


# ---- main -----------------------------------------------------------------------------------
def header(
    load: Load, idle: tuple[Any, Any], info: dict[str, Any], quick: bool, queue: str
) -> None:
    import submitit

    say(f"# bench_slurm {'--quick' if quick else '(full)'}")
    say()
    say(f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    say(
        f"- machine: {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}; "
        f"Python {platform.python_version()}; Slurm {info['slurm_version']} (lab: nodes "
        f"{', '.join(info['nodes'])}, login {info['login_host']}, sshd "
        f"{info['ssh_host']}:{info['ssh_port']} as {info['user']})"
    )
    me = pwd.getpwuid(os.getuid()).pw_name
    say(
        f"- submitit {submitit.__version__}: sbatch runs here as {me} "
        f"(uid {os.getuid()}) on the login host, jobs as that user; jupyter-sky reaches "
        f"Slurm over SSH as {info['user']}"
    )
    say(f"- jupyter_sky under test: {code_under_test()}")
    say(f"- {queue}")
    say("- before starting, " + load.describe(*idle))
    say()


def measure(
    opts: argparse.Namespace,
    env: dict[str, str],
    root: Path,
    info: dict[str, Any],
    load: Load,
    run: Run,
) -> None:
    cells, warm_n, reps = (30, 5, 2) if opts.quick else (200, 20, 5)
    ssh = run.ssh = LabSsh(info)
    run.home = ssh.run("echo $HOME")[1].strip()
    nb = run.nb = Notebook(env, str(root))
    nb.run("%load_ext jupyter_sky")
    t = load.snapshot()
    warm: dict[str, Any] = {}
    attempt("warm cells", run.notes, warm_phase, run, cells, warm_n, warm)
    python = warm.pop("python")
    loads = ["warm cells: " + load.describe(t, load.snapshot())]
    executor = submitit_executor(run.folder, info["default_partition"])
    t = load.snapshot()
    blocked, notes = 0, run.notes
    for _ in range(reps):
        blocked += bool(others_jobs(run.jobs(), "PENDING"))
        attempt("new cluster", notes, fresh_cluster, nb, ssh, run.prefix, python, run.fresh)
        blocked += bool(others_jobs(run.jobs(), "PENDING"))
        attempt("detached", notes, detached_cell, nb, ssh, run.prefix, run.det)
        blocked += bool(others_jobs(run.jobs(), "PENDING"))
        attempt("submitit", notes, submitit_job, executor, run.peer)
    loads.append(
        f"Slurm queue: {blocked} of {3 * reps} starts began while a job of others was pending "
        "(Slurm's main scheduler then skips the partition; ours wait for the backfill pass)"
    )
    loads.append("starts (sections 2–4): " + load.describe(t, load.snapshot()))
    loads += [f"retried: {n}" for n in notes]
    report(warm, run.fresh, run.det, run.peer, cells, warm_n, reps, loads)


def report(
    warm: dict[str, Stats],
    fresh: Fresh,
    det: Detached,
    peer: Peer,
    cells: int,
    warm_n: int,
    reps: int,
    loads: list[str],
) -> None:
    say(
        f"## Slurm and SSH ({cells} warm cells per kind after {warm_n} warm-up, interleaved; "
        f"{reps} repetitions of each start, interleaved; medians)"
    )
    say()
    rows = warm_rows(warm) + start_rows(fresh, det, peer)
    say(table(["measurement", "jupyter-sky", "peer (submitit)", "target", "met?"], rows))
    say()
    say("Samples (s):")
    say(
        "\n".join(
            samples(
                [
                    ("new Slurm cluster → `hi`", fresh.sky),
                    ("srun -N1 hostname", fresh.srun),
                    ("srun -N1 python -c 'import ipykernel.kernelapp'", fresh.srun_py),
                    ("detached → first recorded line", det.first),
                    ("submitit → job.result()", peer.result),
                    ("submitit → result file", peer.result_file),
                    ("submitit → first stdout line", peer.first_line),
                ]
            )
        )
    )
    say()
    say("\n".join(f"- {line}" for line in loads))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--wait-queue",
        type=float,
        default=900,
        metavar="SECONDS",
        help="first wait up to SECONDS until no job of others is pending in the lab's queue",
    )
    opts = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill too
    marker = uuid.uuid4().hex
    load = Load(marker)
    os.environ["JUPYTER_SKY_BENCH_RUN"] = marker
    root = Path(tempfile.mkdtemp(prefix="bench_slurm_"))
    run: Run | None = None
    failed = False
    try:
        info = lab_up()
        run = Run(f"bs{marker[:4]}", Path(info["jobs_dir"]) / f"bench_slurm-{marker[:8]}")
        env = {**os.environ, **sky_home(root, info), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        queue = wait_queue(opts.wait_queue)
        idle0 = load.snapshot()
        time.sleep(2)
        header(load, (idle0, load.snapshot()), info, opts.quick, queue)
        measure(opts, env, root, info, load, run)
    except BaseException as exc:
        failed = True
        say(f"\nFAILED: {type(exc).__name__}: {exc}")
        import traceback

        traceback.print_exc()
    finally:
        if run is not None:
            cleanup(run)
        left = kill_leftovers(load)
        if left:
            say(f"(cleanup: stopped {len(left)} process(es) still running at the end)")
        shutil.rmtree(root, ignore_errors=True)
        (LAB_DIR / "run" / "users" / str(os.getpid())).unlink(missing_ok=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
