"""Fixtures for tests on a real local Slurm cluster and a real sshd (``scripts/lab_up.sh``).

- ``slurm_lab`` (session): runs ``scripts/lab_up.sh`` (installs the Debian packages when
  missing, then starts munged, slurmctld, two slurmd nodes ``n1``/``n2`` in their own
  network namespaces and sshd on 127.0.0.1:2222) and returns a :class:`SlurmLab` built from
  ``$JUPYTER_SKY_LAB/lab.json`` (default ``/tmp/jupyter-sky-lab``): cluster ``lab``, the login
  host's name and its address as the nodes see it, the SSH endpoint (127.0.0.1:2222, user
  ``skyuser``, key, known_hosts, an ssh_config with ``Host lab``), the nodes with address,
  namespace, CPUs and GRES, the partitions (``cpu`` default, ``gpu``), the GPU types, a shared
  job-output directory, and which daemons this run started.  At the end of the session it runs ``scripts/lab_down.sh``
  only if this session started something and no other live test session uses the lab
  (``JUPYTER_SKY_LAB_KEEP=1`` keeps it up).
- ``lab_ssh`` (session): a :class:`LabShell`, one paramiko connection as the lab's ordinary
  user (``TCP_NODELAY`` set, host key checked against the lab's known_hosts), with helpers to
  run commands, submit jobs and wait for them.

Skipped, with the reason, when not root, when apt cannot install the packages or when
paramiko is missing; when ``CI`` is set every one of these is a failure instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB_UP = ROOT / "scripts" / "lab_up.sh"
LAB_DOWN = ROOT / "scripts" / "lab_down.sh"
APT_FAILED = 3  # lab_up.sh's exit status when the packages cannot be installed


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slurm: needs root; starts a local Slurm cluster + sshd")


def is_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(msg: str) -> None:
    if is_ci():
        pytest.fail(f"CI is set, so this is a failure: {msg}", pytrace=False)
    pytest.skip(msg)


def lab_dir() -> Path:
    return Path(os.environ.get("JUPYTER_SKY_LAB", "/tmp/jupyter-sky-lab"))


@dataclass
class SlurmLab:
    """The facts of ``lab.json`` (see ``scripts/lab_up.sh``) plus how the session got them."""

    info: dict[str, Any]
    ready_line: str
    started_here: bool
    up_seconds: float

    cluster: str = field(init=False)
    lab_dir: Path = field(init=False)
    login_host: str = field(init=False)  # `hostname -s` of the login host (not a node)
    login_addr: str = field(init=False)  # the login host as the compute nodes reach it
    ssh_host: str = field(init=False)
    ssh_port: int = field(init=False)
    user: str = field(init=False)
    key: Path = field(init=False)
    known_hosts: Path = field(init=False)
    ssh_config: Path = field(init=False)  # has `Host <ssh_alias>`
    ssh_alias: str = field(init=False)
    nodes: dict[str, dict[str, Any]] = field(init=False)  # name -> addr, netns, cpus, gres
    partitions: list[str] = field(init=False)
    default_partition: str = field(init=False)
    gpu_types: list[str] = field(init=False)
    jobs_dir: Path = field(init=False)  # mode 1777, shared by login host and nodes

    def __post_init__(self) -> None:
        i = self.info
        self.cluster = i["cluster"]
        self.lab_dir = Path(i["lab_dir"])
        self.login_host = i["login_host"]
        self.login_addr = i["login_addr"]
        self.ssh_host = i["ssh_host"]
        self.ssh_port = int(i["ssh_port"])
        self.user = i["user"]
        self.key = Path(i["key"])
        self.known_hosts = Path(i["known_hosts"])
        self.ssh_config = Path(i["ssh_config"])
        self.ssh_alias = i["ssh_alias"]
        self.nodes = i["nodes"]
        self.partitions = i["partitions"]
        self.default_partition = i["default_partition"]
        self.gpu_types = i["gpu_types"]
        self.jobs_dir = Path(i["jobs_dir"])

    def connect(self, nodelay: bool = True) -> Any:
        """A new paramiko ``SSHClient`` logged in as the lab user with the lab key."""
        import paramiko

        sock = socket.create_connection((self.ssh_host, self.ssh_port), timeout=10)
        if nodelay:  # paramiko does not set it: ~45 ms per command (Nagle + delayed ACK)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            self.ssh_host,
            self.ssh_port,
            username=self.user,
            key_filename=str(self.key),
            sock=sock,
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
        )
        return client


@dataclass
class Result:
    rc: int
    out: str
    err: str


class LabShell:
    """Commands as the lab user over one SSH connection, and small Slurm helpers."""

    def __init__(self, lab: SlurmLab, client: Any) -> None:
        self.lab = lab
        self.client = client

    def run(self, cmd: str, check: bool = True, timeout: float = 30) -> Result:
        _, stdout, stderr = self.client.exec_command(cmd, timeout=timeout)
        out = stdout.read().decode()
        err = stderr.read().decode()
        rc = stdout.channel.recv_exit_status()
        if check and rc != 0:
            raise AssertionError(f"`{cmd}` exited {rc}: {err.strip() or out.strip()}")
        return Result(rc, out, err)

    def sbatch(self, script: str, *args: str) -> tuple[int, Path]:
        """Submit ``script`` (shell text, ``--wrap``) with sbatch ``args``; (job id, output file)."""
        out = self.lab.jobs_dir / f"{self.lab.user}-%j.out"
        cmd = " ".join(
            ["sbatch", "--parsable", "-o", str(out), *map(shlex.quote, args)]
            + ["--wrap", shlex.quote(script)]
        )
        job = int(self.run(cmd).out.strip().split(";")[0])
        return job, Path(str(out).replace("%j", str(job)))

    def state(self, job: int) -> str:
        """squeue's state (PENDING, RUNNING, COMPLETING, ...), "" once the job has left it."""
        return self.run(f"squeue -h -j {job} -o %T", check=False).out.strip()

    def wait_gone(self, job: int, timeout: float = 20) -> float:
        """Poll squeue every 20 ms until the job has left it; returns the seconds waited."""
        t0 = time.monotonic()
        while self.state(job):
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"job {job} still in squeue after {timeout} s")
            time.sleep(0.02)
        return time.monotonic() - t0

    def wait_output(self, path: Path, contains: str, timeout: float = 20) -> str:
        """Poll a job's output file (same filesystem) until it contains ``contains``."""
        t0 = time.monotonic()
        while True:
            with contextlib.suppress(FileNotFoundError):
                text = path.read_text()
                if contains in text:
                    return text
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"{path} has no {contains!r} after {timeout} s")
            time.sleep(0.02)

    def job_info(self, job: int) -> dict[str, str]:
        """`scontrol show job -o` as a dict (kept for MinJobAge=3600 s after the end)."""
        line = self.run(f"scontrol show job -o {job}").out.strip()
        return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def slurm_lab() -> Iterator[SlurmLab]:
    if os.geteuid() != 0:
        skip_or_fail(
            "the Slurm lab needs root (scripts/lab_up.sh installs packages, starts daemons)"
        )
    if not Path("/usr/bin/apt-get").exists() and not Path("/usr/sbin/slurmctld").exists():
        skip_or_fail("the Slurm lab needs Debian (apt-get) or an installed slurmctld")

    lab = lab_dir()
    # Register this session as a user of the lab before starting it, so that another session
    # finishing meanwhile does not stop the lab under us (see the end of this fixture).
    users = lab / "run" / "users"
    users.mkdir(parents=True, exist_ok=True)
    me = users / str(os.getpid())
    me.touch()

    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(LAB_UP)], capture_output=True, text=True, timeout=900, check=False
    )
    up_seconds = time.monotonic() - t0
    if proc.returncode != 0:
        me.unlink(missing_ok=True)
        log = proc.stderr.strip()[-3000:]
        if proc.returncode == APT_FAILED:
            skip_or_fail(f"apt-get could not install the Slurm lab's packages:\n{log}")
        pytest.fail(f"scripts/lab_up.sh exited {proc.returncode}:\n{log}", pytrace=False)
    ready = proc.stdout.strip().splitlines()[-1]
    info = json.loads((lab / "lab.json").read_text())
    started_here = bool(info["started"])
    try:
        yield SlurmLab(info, ready, started_here, up_seconds)
    finally:
        me.unlink(missing_ok=True)
        _maybe_stop(lab, users, started_here)


def _maybe_stop(lab: Path, users: Path, started_here: bool) -> None:
    """Stop the lab if this session started it and nobody else uses it.

    When another live session still uses it, leave a note; the last session to leave stops it.
    """
    if os.environ.get("JUPYTER_SKY_LAB_KEEP", "") not in ("", "0"):
        return
    note = lab / "run" / "stop-when-unused"
    if not (started_here or note.exists()):
        return
    others = [p for p in users.iterdir() if p.name.isdigit() and _pid_alive(int(p.name))]
    if others:
        note.touch()
        return
    note.unlink(missing_ok=True)
    subprocess.run(["bash", str(LAB_DOWN)], capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def lab_ssh(slurm_lab: SlurmLab) -> Iterator[LabShell]:
    try:
        import paramiko  # noqa: F401
    except ImportError:
        skip_or_fail("paramiko is not installed (pip install -e '.[ssh]')")
    client = slurm_lab.connect()
    yield LabShell(slurm_lab, client)
    client.close()
