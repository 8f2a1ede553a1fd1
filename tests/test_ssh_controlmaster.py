"""Reusing the user's OpenSSH ControlMaster (issue #5): no new login, so no MFA prompt.

The lab tests start a real master on the lab's sshd with the lab key, then point jupyter-sky
at an ssh config whose host has that ControlPath but only a key file that does not exist: a
paramiko login would fail, so whatever works went through the master. The sshd log and the
process's own sockets show that no login happened meanwhile.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slurm.conftest import SlurmLab, slurm_lab  # noqa: F401 - the lab fixture
from test_contract import _connected, _run

from jupyter_sky.errors import InfraError
from jupyter_sky.transport.hosts import SshSettings, resolve

ALIAS = "lab-alias"
needs_ssh = pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client (ssh)")


# ---- without the lab: what OpenSSH says the ControlPath is --------------------------------
def test_parse_ssh_g_keeps_the_first_value_of_each_option() -> None:
    from jupyter_sky.transport.openssh import parse_ssh_g

    text = "user me\nControlPath /run/cm-ab12\nhostname h.example\nuser other\n\n"
    assert parse_ssh_g(text) == {
        "user": "me",
        "controlpath": "/run/cm-ab12",
        "hostname": "h.example",
    }


@needs_ssh
def test_control_path_tokens_are_expanded_by_openssh(tmp_path: Path) -> None:
    from jupyter_sky.transport.openssh import control_path

    cfg = tmp_path / "ssh_config"
    cfg.write_text(
        f"Host {ALIAS}\n    HostName 10.1.2.3\n    Port 2200\n    User ann\n"
        "    ControlPath ~/.ssh/cm-%r@%h:%p-%n\n"
    )
    settings = SshSettings(config_file=str(cfg))
    spec = resolve(ALIAS, settings)
    assert spec.control_path  # the trigger; OpenSSH gives the real path
    assert control_path(spec, settings) == str(Path.home() / f".ssh/cm-ann@10.1.2.3:2200-{ALIAS}")
    # %C is OpenSSH's own hash, which paramiko's expansion does not reproduce.
    cfg.write_text(f"Host {ALIAS}\n    HostName 10.1.2.3\n    ControlPath /tmp/cm-%C\n")
    assert re.fullmatch(r"/tmp/cm-[0-9a-f]{40}", control_path(resolve(ALIAS, settings), settings))


@needs_ssh
def test_control_path_from_the_ssh_section(tmp_path: Path) -> None:
    from jupyter_sky.transport.openssh import control_path, live_master

    (tmp_path / "ssh_config").write_text("")
    entry = {"hostname": "10.1.2.3", "user": "bob", "control_path": f"{tmp_path}/%r@%h:%p"}
    settings = SshSettings(config_file=str(tmp_path / "ssh_config"), hosts={"gpu": entry})
    spec = resolve("gpu", settings)
    assert control_path(spec, settings) == f"{tmp_path}/bob@10.1.2.3:22"
    assert live_master(spec, settings) == ""  # no master there: paramiko logs in as before


def test_control_path_none_is_no_control_path(tmp_path: Path) -> None:
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host {ALIAS}\n    HostName 10.1.2.3\n    ControlPath none\n")
    assert resolve(ALIAS, SshSettings(config_file=str(cfg))).control_path == ""


# ---- on the lab's sshd ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab(slurm_lab: SlurmLab) -> SlurmLab:  # noqa: F811
    pytest.importorskip("paramiko")
    if shutil.which("ssh") is None:
        pytest.skip("no OpenSSH client (ssh)")
    return slurm_lab


class Master:
    """A real OpenSSH master on the lab's sshd, logged in with the lab key."""

    def __init__(self, lab: SlurmLab, where: Path) -> None:
        self.lab = lab
        self.path = str(where / "ctl")  # short: a unix socket path has ~100 bytes
        self.config = where / "master_config"
        self.config.write_text(
            f"Host {ALIAS}\n    HostName {lab.ssh_host}\n    Port {lab.ssh_port}\n"
            f"    User {lab.user}\n    IdentityFile {lab.key}\n    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {lab.known_hosts}\n    StrictHostKeyChecking yes\n"
            "    BatchMode yes\n"
        )

    def ssh(self, *args: str) -> subprocess.CompletedProcess:
        argv = ["ssh", "-F", str(self.config), "-S", self.path, *args, ALIAS]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)

    def start(self) -> None:
        res = self.ssh("-M", "-N", "-f", "-o", "ControlPersist=60")
        assert res.returncode == 0, res.stderr

    def pid(self) -> int:
        res = self.ssh("-O", "check")
        assert res.returncode == 0, res.stderr
        return int(re.search(r"pid=(\d+)", res.stderr).group(1))  # type: ignore[union-attr]

    def stop(self) -> None:
        self.ssh("-O", "exit")
        deadline = time.monotonic() + 10
        while Path(self.path).exists() and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def master(lab: SlurmLab) -> Iterator[Master]:
    where = Path(tempfile.mkdtemp(prefix="sky-mux-", dir="/tmp"))
    m = Master(lab, where)
    m.start()
    try:
        yield m
    finally:
        m.stop()
        shutil.rmtree(where, ignore_errors=True)


def _sky_settings(lab: SlurmLab, master: Master, tmp_path: Path) -> dict[str, Any]:
    """jupyter-sky's side: the master's ControlPath, and no key that could log in."""
    cfg = tmp_path / "sky_ssh_config"
    cfg.write_text(
        f"Host {ALIAS}\n    HostName {lab.ssh_host}\n    Port {lab.ssh_port}\n"
        f"    User {lab.user}\n    IdentityFile {tmp_path}/no_such_key\n    IdentitiesOnly yes\n"
        f"    UserKnownHostsFile {lab.known_hosts}\n    ControlPath {master.path}\n"
    )
    return {"config_file": str(cfg), "known_hosts": str(tmp_path / "pins")}


def _fresh_connections() -> None:
    from jupyter_sky.transport.ssh import close_all

    close_all()


def _logins(lab: SlurmLab) -> list[str]:
    """The sshd log's 'Accepted publickey' lines (scripts/lab_up.sh: sshd -E log/sshd.log)."""
    log = lab.lab_dir / "log" / "sshd.log"
    return [line for line in log.read_text().splitlines() if "Accepted publickey" in line]


def _tcp_to_sshd(lab: SlurmLab) -> dict[int, str]:
    """Client port -> the `users:` field of `ss`, for every TCP connection to the lab's sshd."""
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", "dst", f"{lab.ssh_host}:{lab.ssh_port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        fields = line.split()
        local = next(f for f in fields if f.startswith(f"{lab.ssh_host}:"))
        found[int(local.rsplit(":", 1)[1])] = " ".join(fields[fields.index(local) + 2 :])
    return found


def _ours(users: str) -> bool:
    return f"pid={os.getpid()}," in users


@pytest.mark.slurm
@pytest.mark.timeout(300)
def test_everything_goes_through_the_master_without_a_login(
    lab: SlurmLab, master: Master, tmp_path: Path, session_home: Path
) -> None:
    from jupyter_sky.config import Config
    from jupyter_sky.infra.base import Launch
    from jupyter_sky.infra.ssh import SshInfra
    from jupyter_sky.spec.task import parse_line, task_from_args
    from jupyter_sky.transport.openssh import MuxConnection
    from jupyter_sky.transport.ssh import connection

    settings = _sky_settings(lab, master, tmp_path)
    _fresh_connections()
    # The control: without the ControlPath this config cannot log in.
    ssh_settings = SshSettings.from_any(settings)
    spec = resolve(ALIAS, ssh_settings)
    with pytest.raises(InfraError, match="no_such_key named for SSH host 'lab-alias' does not"):
        connection(dataclasses.replace(spec, control_path=""), ssh_settings)

    master_pid = master.pid()
    (master_port,) = [p for p, users in _tcp_to_sshd(lab).items() if f"pid={master_pid}," in users]
    logins_before = _logins(lab)
    assert any(f" port {master_port} " in line for line in logins_before)  # the log is the witness
    # Connections this process already holds (the session's lab shell) are not new logins.
    held_before = {p for p, users in _tcp_to_sshd(lab).items() if _ours(users)}
    notes: list[str] = []
    infra = SshInfra(settings, default_host=ALIAS, notify=notes.append)
    conn = infra._conn(ALIAS)
    assert isinstance(conn, MuxConnection)
    assert notes[0] == f"ssh/{ALIAS}: using the OpenSSH master at {master.path}"
    res = conn.run("echo $SSH_CONNECTION; echo fed-$(cat)", stdin=b"in")
    assert res.rc == 0 and res.out.splitlines()[1] == "fed-in"
    assert int(res.out.split()[1]) == master_port  # the command ran on the master's connection

    task = task_from_args(parse_line("--name mux"), "pass", tmp_path)
    handle = infra.launch(Launch("mux", task, Config()))
    try:
        # A cell on the kernel, over forwarded channels (ssh -W through the master).
        live = _connected(infra, "mux", handle)
        msgs = _run(live, "import os; print(os.environ['JUPYTER_SKY_INFRA'], 6 * 7)")
        assert "".join(m["content"].get("text", "") for m in msgs) == "ssh 42\n"
        assert infra._kernel(handle).forwards.connections()["shell_port"] == 1
        # An SFTP read (ssh -s ... sftp through the master).
        with conn.lock, conn.sftp().open(handle.connection_file) as fh:
            assert json.loads(fh.read())["shell_port"] > 0
        # No login meanwhile: the master is still the one connection, this process holds
        # no TCP connection to the sshd, and the sshd logged no login of ours.
        assert master.pid() == master_pid
        tcp = _tcp_to_sshd(lab)
        assert not [p for p, users in tcp.items() if _ours(users) and p not in held_before], tcp
        new = _logins(lab)[len(logins_before) :]
        # Another test session may log in meanwhile: its connection is open and not ours.
        theirs = {p for p, users in tcp.items() if users and not _ours(users)}
        mine = [line for line in new if int(line.split(" port ")[1].split()[0]) not in theirs]
        assert mine == [], mine
        live.detach()
    finally:
        infra.down(handle)
    assert not infra.is_alive(handle)


@pytest.mark.slurm
@pytest.mark.timeout(120)
def test_a_master_that_is_gone_is_one_sentence_until_it_is_back(
    lab: SlurmLab, master: Master, tmp_path: Path
) -> None:
    from jupyter_sky.infra.ssh import SshInfra

    _fresh_connections()
    notes: list[str] = []
    infra = SshInfra(_sky_settings(lab, master, tmp_path), default_host=ALIAS, notify=notes.append)
    conn = infra._conn(ALIAS)
    assert conn.run("echo up").out == "up\n"
    master.stop()
    gone = (
        f"The OpenSSH master connection for '{ALIAS}' ({master.path}) is gone; "
        f"log in again with `ssh -fNM {ALIAS}` or remove its ControlPath."
    )
    for operation in (
        lambda: conn.run("true"),
        lambda: conn.open_channel(("127.0.0.1", lab.ssh_port)),
        lambda: conn.sftp(),
        lambda: infra._conn(ALIAS, None).run("true"),
    ):
        with pytest.raises(InfraError) as err:
            operation()
        assert str(err.value) == gone
    master.start()  # the user logs in again: the same connection works again
    assert conn.run("echo back").out == "back\n"
    with conn.lock:
        assert conn.sftp().normalize(".") == conn.home()
    with contextlib.suppress(Exception):
        conn.close()


@pytest.mark.slurm
@pytest.mark.timeout(120)
def test_a_proxy_jump_through_the_master(lab: SlurmLab, master: Master, tmp_path: Path) -> None:
    from jupyter_sky.infra.ssh import SshInfra
    from jupyter_sky.transport.openssh import MuxConnection

    settings = _sky_settings(lab, master, tmp_path)
    cfg = Path(settings["config_file"])
    cfg.write_text(
        cfg.read_text() + f"Host behind\n    HostName {lab.ssh_host}\n    Port {lab.ssh_port}\n"
        f"    User {lab.user}\n    IdentityFile {lab.key}\n"
        f"    UserKnownHostsFile {lab.known_hosts}\n    ProxyJump {ALIAS}\n"
    )
    _fresh_connections()
    conn = SshInfra(settings, notify=lambda _: None)._conn("behind")
    assert isinstance(conn._jump, MuxConnection)  # the hop is the master; behind logs in itself
    assert conn.run("echo $USER").out == f"{lab.user}\n"
    _fresh_connections()
