"""Issue 15 A: kernels closed to other users of the machine (a real second Unix user)."""

from __future__ import annotations

import json
import os
import pwd
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from nbdriver import Notebook

from jupyter_sky.infra.slurm.local_shell import LocalShell
from jupyter_sky.kernel.private import private_dir, socket_prefix
from jupyter_sky.transport.remote_kernel import start_kernel
from jupyter_sky.transport.ssh import Result

OTHER = "skyother15"


def _listen_as(user: pwd.struct_passwd, addresses: list[str], seconds: float) -> tuple[int, int]:
    """Fork a child that becomes ``user`` and subscribes to ``addresses``; return (pid, fd).

    A fork, not a new interpreter: the test's Python lives under /root, which the other user
    cannot read. The child writes how many message frames it received to the pipe.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end
    try:  # the child: never returns into pytest
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
        ctx = zmq.Context()
        poller = zmq.Poller()
        for address in addresses:
            sock = ctx.socket(zmq.SUB)
            sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(address)
            poller.register(sock, zmq.POLLIN)
        got = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for sock, _ in poller.poll(100):
                got += len(sock.recv_multipart())
        os.write(write_end, str(got).encode())
    finally:
        os._exit(0)


@pytest.fixture(scope="module")
def other_user() -> Iterator[pwd.struct_passwd]:
    """A second Unix user with no home and no login (CI runs as root and can add one)."""
    if os.geteuid() != 0:
        pytest.fail("the second-user tests need root to add a user (CI runs as root)")
    try:
        pwd.getpwnam(OTHER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER],
            check=True,
        )
    yield pwd.getpwnam(OTHER)


def _address(info: dict, channel: str) -> str:
    if info.get("transport") == "ipc":
        return f"ipc://{info['ip']}-{info[f'{channel}_port']}"
    return f"tcp://{info['ip']}:{info[f'{channel}_port']}"


def test_other_user_cannot_read_kernel_output(
    nb: Notebook, session_home: Path, other_user: pwd.struct_passwd
) -> None:
    """Another user subscribing to the kernel's iopub channel receives nothing."""
    res = nb.run("%%sky --name private1\nsecret = 'first'")
    assert res.status == "ok", res.error_text
    conn = session_home / "clusters" / "private1" / "kernel.json"
    info = json.loads(conn.read_text())
    addresses = [_address(info, "iopub")]
    pid, pipe = _listen_as(other_user, addresses, 4.0)
    time.sleep(0.5)  # let a connection that could succeed do so
    for k in range(5):
        res = nb.run(f"%%sky --name private1\nprint('secret output {k}')")
        assert res.status == "ok" and f"secret output {k}" in res.stdout, res.error_text
    os.waitpid(pid, 0)
    with os.fdopen(pipe) as fh:
        got = fh.read()
    assert got == "0", f"user {OTHER} read {got or 'an unknown number of'} frames of the kernel"


def test_other_user_cannot_open_kernel_files(
    nb: Notebook, session_home: Path, other_user: pwd.struct_passwd
) -> None:
    """The connection file (the HMAC key) and the sockets sit in directories of mode 0700."""
    res = nb.run("%%sky --name private2\nx = 1")
    assert res.status == "ok", res.error_text
    cluster_dir = session_home / "clusters" / "private2"
    info = json.loads((cluster_dir / "kernel.json").read_text())
    assert info["transport"] == "ipc"
    assert stat.S_IMODE(cluster_dir.stat().st_mode) & 0o777 == 0o700
    assert stat.S_IMODE(Path(info["ip"]).parent.stat().st_mode) & 0o777 == 0o700


def test_private_dir_tightens_an_existing_directory(tmp_path: Path) -> None:
    """A cluster directory created 0755 by an older version becomes 0700."""
    loose = tmp_path / "clusters" / "old"
    loose.mkdir(parents=True, mode=0o755)
    os.chmod(loose, 0o755)
    assert stat.S_IMODE(private_dir(loose).stat().st_mode) == 0o700


def test_socket_prefix_falls_back_to_a_private_temp_dir(tmp_path: Path) -> None:
    """A cluster directory too deep for a Unix socket address gets a 0700 temp directory."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    prefix = socket_prefix(deep)
    assert len(str(prefix)) < 100 and prefix.parent != deep
    assert stat.S_IMODE(prefix.parent.stat().st_mode) == 0o700
    prefix.parent.rmdir()


class RecordingShell(LocalShell):
    """This machine as the SSH host (real ``sh -c``), keeping every command it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[str] = []

    def run(self, command: str, timeout: float = 60.0, stdin: bytes | None = None) -> Result:
        self.commands.append(command)
        return super().run(command, timeout, stdin)


def test_env_values_never_on_the_remote_command_line(tmp_path: Path) -> None:
    """--env values reach the SSH host's kernel through stdin and a 0600 file, not argv (ps)."""
    shell = RecordingShell()
    secret = "hunter2 'with quotes' $HOME"
    cluster_dir = tmp_path / "cluster"
    pid, info = start_kernel(
        shell, sys.executable, str(cluster_dir), str(tmp_path), ["--idle-minutes", "1"],
        {"SKY_TOKEN": secret},
    )  # fmt: skip
    try:
        assert info["shell_port"]
        assert not any("hunter2" in command for command in shell.commands)
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"SKY_TOKEN={secret}".encode() in environ
        assert not (cluster_dir / "env.sh").exists()
    finally:
        os.kill(pid, signal.SIGKILL)
