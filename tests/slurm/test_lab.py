"""The Slurm lab itself works: jobs on compute nodes that are not the login host, typed fake
GPUs, up-front rejection, multi-node steps, fast cancel, and SSH as an ordinary user with a
tunnel from the login host to a service on a compute node (the later kernel-tunnel design).

Every job runs as the lab user, submitted over the session's SSH connection.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import threading
import time
import uuid

import pytest

from .conftest import LAB_UP, LabShell, SlurmLab

pytestmark = pytest.mark.slurm

# A one-connection echo server: prints "listening <addr> <port>", then the peer it accepted,
# then echoes one message back.  Binds to the node's cluster address (its name resolves to it
# through the lab's /etc/hosts lines), as a kernel on a real cluster node would.
ECHO_SERVER = r"""
import socket
addr = socket.gethostbyname(socket.gethostname())
s = socket.socket()
s.bind((addr, 0))
s.listen(1)
print("listening", *s.getsockname(), flush=True)
c, peer = s.accept()
print("peer", *peer, flush=True)
c.sendall(c.recv(100))
c.close()
"""


def test_lab_json_and_ready_line(slurm_lab: SlurmLab) -> None:
    lab = slurm_lab
    assert lab.cluster == "lab"
    assert lab.ready_line == (
        f"LAB_READY ssh_port={lab.ssh_port} user={lab.user} key={lab.key} "
        f"nodes={','.join(lab.nodes)} partitions={','.join(lab.partitions)}"
    )
    assert lab.user != "root"
    assert sorted(lab.nodes) == ["n1", "n2"]
    assert lab.login_host not in lab.nodes
    assert lab.partitions == ["cpu", "gpu"] and lab.default_partition == "cpu"
    assert stat.S_IMODE(lab.key.stat().st_mode) == 0o600
    assert lab.key.with_suffix(".pub").read_text().startswith("ssh-ed25519 ")


def test_sinfo_shows_typed_gpus_on_both_nodes(lab_ssh: LabShell) -> None:
    rows = lab_ssh.run("sinfo -h -N -o '%N|%P|%G|%T'").out.split()
    by_node: dict[str, dict[str, object]] = {}
    for row in rows:
        node, part, gres, state = row.split("|")
        entry = by_node.setdefault(node, {"parts": set(), "gres": gres, "state": state})
        entry["parts"].add(part.rstrip("*"))  # type: ignore[attr-defined]
    assert sorted(by_node) == ["n1", "n2"]
    assert by_node["n1"]["gres"] == "gpu:a100:1,gpu:t4:1"
    assert by_node["n2"]["gres"] == "gpu:t4:2"
    for entry in by_node.values():
        assert entry["parts"] == {"cpu", "gpu"}
        assert entry["state"] in ("idle", "mixed", "allocated")


def test_batch_job_runs_on_a_compute_node_not_the_login_host(lab_ssh: LabShell) -> None:
    login = lab_ssh.run("hostname").out.strip()
    assert login == lab_ssh.lab.login_host
    job, out = lab_ssh.sbatch('echo "host=$(hostname) user=$(id -un) part=$SLURM_JOB_PARTITION"')
    lab_ssh.wait_gone(job)
    text = lab_ssh.wait_output(out, "host=")
    host = text.split("host=")[1].split()[0]
    assert host in ("n1", "n2") and host != login, text
    assert f"user={lab_ssh.lab.user}" in text and "part=cpu" in text, text
    assert lab_ssh.job_info(job)["JobState"] == "COMPLETED"


@pytest.mark.parametrize(
    ("gres", "nodes"),
    [("gpu:1", ("n1", "n2")), ("gpu:a100:1", ("n1",)), ("gpu:t4:2", ("n2",))],
)
def test_gpu_jobs_see_cuda_visible_devices(
    lab_ssh: LabShell, gres: str, nodes: tuple[str, ...]
) -> None:
    job, out = lab_ssh.sbatch(
        'echo "host=$(hostname) cvd=${CUDA_VISIBLE_DEVICES:-unset}"', "-p", "gpu", f"--gres={gres}"
    )
    lab_ssh.wait_gone(job)
    text = lab_ssh.wait_output(out, "cvd=")
    host = text.split("host=")[1].split()[0]
    cvd = text.split("cvd=")[1].split()[0]
    assert host in nodes, text
    count = int(gres.rsplit(":", 1)[1])
    # indices are the node's device numbers (no cgroup ConstrainDevices renumbering)
    assert cvd != "unset" and len(cvd.split(",")) == count, text
    assert all(i.isdigit() for i in cvd.split(",")), text


@pytest.mark.parametrize("gres", ["gpu:h100:1", "gpu:5"])
def test_impossible_gpu_request_is_rejected_by_sbatch(lab_ssh: LabShell, gres: str) -> None:
    name = f"reject-{uuid.uuid4().hex[:8]}"
    r = lab_ssh.run(f"sbatch -J {name} -p gpu --gres={gres} --wrap true", check=False)
    assert r.rc == 1, r
    assert r.err.strip() == (
        "sbatch: error: Batch job submission failed: Requested node configuration is not available"
    ), r.err
    assert r.out == ""
    # nothing was left queued: Slurm keeps only a FAILED record (reason BadConstraints)
    assert lab_ssh.run(f"squeue -h -n {name}").out == ""
    states = lab_ssh.run(f"squeue -h -n {name} -t all -o '%T %r'").out.split("\n")[:-1]
    assert states in ([], ["FAILED BadConstraints"]), states


def test_srun_spans_both_nodes(lab_ssh: LabShell) -> None:
    t0 = time.monotonic()
    r = lab_ssh.run("srun -N2 --ntasks-per-node=1 -l hostname")
    took = time.monotonic() - t0
    assert sorted(r.out.split("\n")[:-1]) == ["0: n1", "1: n2"], r.out
    assert took < 5, took


def test_scancel_ends_a_running_job_within_2s(lab_ssh: LabShell) -> None:
    job, out = lab_ssh.sbatch("echo started; sleep 300")
    lab_ssh.wait_output(out, "started")
    assert lab_ssh.state(job) == "RUNNING"
    t0 = time.monotonic()
    lab_ssh.run(f"scancel {job}")
    lab_ssh.wait_gone(job, timeout=10)
    took = time.monotonic() - t0
    assert took < 2.0, took
    assert lab_ssh.job_info(job)["JobState"] == "CANCELLED"


def test_ssh_as_ordinary_user_with_nodelay(slurm_lab: SlurmLab, lab_ssh: LabShell) -> None:
    sock = lab_ssh.client.get_transport().sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert lab_ssh.run("id -un").out.strip() == slurm_lab.user
    r = lab_ssh.run("squeue")
    assert r.out.split()[:4] == ["JOBID", "PARTITION", "NAME", "USER"], r.out
    # with TCP_NODELAY a command round trip takes a few ms; without it never less than ~40 ms
    # (Nagle + delayed ACK).  The fastest of 10 is robust to a busy machine.
    times = []
    for _ in range(10):
        t0 = time.monotonic()
        lab_ssh.run("true")
        times.append(time.monotonic() - t0)
    assert min(times) < 0.025, times


def test_root_login_and_unknown_key_are_refused(slurm_lab: SlurmLab, tmp_path) -> None:
    import paramiko

    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    for user, key in (("root", slurm_lab.key), (slurm_lab.user, other)):
        client = paramiko.SSHClient()
        client.load_host_keys(str(slurm_lab.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        with pytest.raises(paramiko.AuthenticationException):
            client.connect(
                slurm_lab.ssh_host,
                slurm_lab.ssh_port,
                username=user,
                key_filename=str(key),
                allow_agent=False,
                look_for_keys=False,
                timeout=10,
            )
        client.close()


def test_tunnel_from_login_host_to_a_service_on_n1(lab_ssh: LabShell) -> None:
    """direct-tcpip through sshd to a listener a job opened at n1's cluster address."""
    script = lab_ssh.lab.jobs_dir / f"echo_server-{os.getpid()}.py"
    script.write_text(ECHO_SERVER)
    job, out = lab_ssh.sbatch(f"exec python3 {script}", "-w", "n1")
    try:
        text = lab_ssh.wait_output(out, "listening")
        _, addr, port = text.split("\n")[0].split()
        assert addr == lab_ssh.lab.nodes["n1"]["addr"], text
        # by node name, as a client would tunnel to <node>:<port>; sshd resolves it
        t0 = time.monotonic()
        chan = lab_ssh.client.get_transport().open_channel(
            "direct-tcpip", ("n1", int(port)), ("127.0.0.1", 0), timeout=10
        )
        opened = time.monotonic() - t0
        chan.sendall(b"ping through the login host")
        assert chan.recv(100) == b"ping through the login host"
        chan.close()
        # the node saw the connection come from the login host's cluster address
        text = lab_ssh.wait_output(out, "peer")
        assert f"peer {lab_ssh.lab.login_addr} " in text, text
        assert opened < 1.0, opened
        lab_ssh.wait_gone(job)
    finally:
        lab_ssh.run(f"scancel {job}", check=False)


def test_compute_node_reaches_login_host_at_its_cluster_address(lab_ssh: LabShell) -> None:
    """A node reaches the login host at login_addr; the login host's 127.0.0.1 is not its own."""
    lab = lab_ssh.lab
    got: list[bytes] = []
    srv = socket.socket()
    srv.bind((lab.login_addr, 0))
    srv.listen(1)
    srv.settimeout(15)
    port = srv.getsockname()[1]

    def accept() -> None:
        with srv:
            c, _ = srv.accept()
            with c:
                got.append(c.recv(100))

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    probe = (
        "import socket\n"
        f"socket.create_connection(({lab.login_addr!r}, {port}), 5).sendall(socket.gethostname().encode())\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {lab.ssh_port}), 2)\n"
        "    print('loopback reaches login sshd')\n"
        "except OSError:\n"
        "    print('loopback is the node own')\n"
    )
    script = lab.jobs_dir / f"probe_login-{os.getpid()}.py"
    script.write_text(probe)
    job, out = lab_ssh.sbatch(f"python3 {script}", "-w", "n2")
    lab_ssh.wait_gone(job)
    t.join(5)
    assert got == [b"n2"]
    assert "loopback is the node own" in lab_ssh.wait_output(out, "loopback")


def test_lab_up_again_restarts_nothing(slurm_lab: SlurmLab) -> None:
    pids = {p.name: p.read_text() for p in (slurm_lab.lab_dir / "run").glob("*.pid")}
    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(LAB_UP)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "JUPYTER_SKY_LAB": str(slurm_lab.lab_dir)},
    )
    took = time.monotonic() - t0
    why = f"took {took:.2f} s; stderr:\n{proc.stderr}"
    assert proc.stdout.strip() == slurm_lab.ready_line, why
    assert "started: nothing" in proc.stderr, why
    assert {p.name: p.read_text() for p in (slurm_lab.lab_dir / "run").glob("*.pid")} == pids, why
    assert took < 2.0, why
