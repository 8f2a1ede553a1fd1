"""A simulated hypervisor: cloud "VMs" as network-namespace hosts running a real sshd.

Cloud-neutral: the AWS lab uses it with moto, the GCP and Azure fakes can use it the same way.
Only the hypervisor is simulated; whatever talks to a VM (SSH, bootstrap, kernel) is real.

- :class:`VmNet` owns the lab's bridge and routes: the whole address range is ``unreachable``
  (an address without a booted host fails at once with "No route to host" and no packet ever
  leaves the machine), and each booted VM gets a ``/32`` route into the bridge.
- :class:`Booter` boots a VM: a namespace ``<prefix>-<a>-<b>`` at the VM's private address
  (veth into the bridge), its own UTS (hostname) and mount namespace, in which a dedicated home
  directory of the VM (never the notebook's) is bind-mounted over the login user's home, and a
  real ``sshd`` that accepts the keys the launch gave (cloud-init user data, see
  :func:`cloud_config_logins`).  ``halt`` kills every process of the namespace and removes it;
  ``keep_disk=True`` (a stopped VM) keeps the VM's home for the next boot.
- :class:`Watcher` polls a ``list_running()`` callable (the fake cloud's view) and boots or
  halts hosts to match it.

Needs root (namespaces, veth, users).  Names: bridge ``<prefix>br0``, namespaces
``<prefix>-*``, host-side veths ``<prefix>v*`` (all ≤ 15 characters for a short prefix).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

log = logging.getLogger("vmboot")


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one command (no shell); raise with its stderr when it fails and ``check`` is set."""
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {res.stderr.strip() or res.stdout.strip()}")
    return res


@dataclass(frozen=True)
class VmSpec:
    """What the fake cloud says about one running VM."""

    vm_id: str
    ip: str
    ssh_user: str
    authorized_keys: tuple[str, ...]
    user_data: str = ""
    hostname: str = ""


def cloud_config_logins(user_data: str, default_user: str) -> dict[str, list[str]]:
    """``{user: [public keys]}`` from cloud-init user data, as cloud-init would set them up.

    Reads ``users:`` entries with ``ssh_authorized_keys`` (or ``ssh-authorized-keys``) and the
    top-level ``ssh_authorized_keys`` (which go to ``default_user``).  Anything that is not a
    ``#cloud-config`` document gives ``{}``.
    """
    if not user_data.lstrip().startswith("#cloud-config"):
        return {}
    try:
        doc = yaml.safe_load(user_data)
    except yaml.YAMLError:
        return {}
    if not isinstance(doc, dict):
        return {}
    logins: dict[str, list[str]] = {}
    top = _keys_of(doc)
    if top:
        logins[default_user] = top
    for entry in doc.get("users") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            keys = _keys_of(entry)
            if keys:
                logins.setdefault(entry["name"], []).extend(keys)
    return logins


def _keys_of(doc: dict[str, object]) -> list[str]:
    keys = doc.get("ssh_authorized_keys", doc.get("ssh-authorized-keys")) or []
    return [k.strip() for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


@dataclass
class VmNet:
    """The bridge and routes of one lab (``prefix`` names, ``cidr`` range, first host = bridge)."""

    prefix: str
    cidr: str

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br0"

    @property
    def gateway(self) -> str:
        return str(next(ipaddress.ip_network(self.cidr).hosts()))

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.cidr).prefixlen

    def up(self) -> None:
        """Create the bridge (gateway address only, no connected route) and the unreachable route."""
        if not Path(f"/sys/class/net/{self.bridge}").exists():
            sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "replace", f"{self.gateway}/32", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        sh("ip", "route", "replace", "unreachable", self.cidr)

    def down(self) -> None:
        """Remove every namespace of the prefix, the bridge and the unreachable route."""
        for ns in self.namespaces():
            _kill_netns(ns)
            sh("ip", "netns", "delete", ns, check=False)
        sh("ip", "link", "delete", self.bridge, check=False)
        sh("ip", "route", "delete", "unreachable", self.cidr, check=False)

    def namespaces(self) -> list[str]:
        out = sh("ip", "netns", "list", check=False).stdout
        return [line.split()[0] for line in out.splitlines() if line.startswith(f"{self.prefix}-")]

    def route_dev(self, ip: str) -> str:
        """The device ``ip route get`` picks for ``ip`` ('unreachable' when refused)."""
        res = sh("ip", "route", "get", ip, check=False)
        if res.returncode != 0:
            return "unreachable"
        words = res.stdout.split()
        return words[words.index("dev") + 1] if "dev" in words else res.stdout.strip()

    def contains(self, ip: str) -> bool:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(self.cidr)


def _kill_netns(ns: str) -> None:
    """SIGKILL every process in network namespace ``ns`` (sshd, its sessions, kernels)."""
    for _ in range(20):
        pids = [int(p) for p in sh("ip", "netns", "pids", ns, check=False).stdout.split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


SSHD_CONFIG = """\
Port 22
ListenAddress {ip}
HostKey {dir}/ssh_host_ed25519_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers {user}
UsePAM no
StrictModes no
AllowTcpForwarding yes
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
"""


@dataclass
class Booter:
    """Boots and halts VM hosts of one :class:`VmNet`; state under ``root/<vm_id>/``."""

    net: VmNet
    root: Path
    ready_timeout: float = 10.0
    booted: dict[str, VmSpec] = field(default_factory=dict)
    ready: set[str] = field(default_factory=set)  # booted and sshd answering
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def netns(self, ip: str) -> str:
        a, b = ip.split(".")[2:]
        return f"{self.net.prefix}-{a}-{b}"

    def veth(self, ip: str) -> str:
        a, b = ip.split(".")[2:]
        return f"{self.net.prefix}v{a}x{b}"

    def boot(self, vm: VmSpec) -> None:
        """Start the host of ``vm``: namespace, address, route, home, sshd; wait until it answers."""
        if not self.net.contains(vm.ip):
            raise ValueError(f"{vm.ip} is outside the lab range {self.net.cidr}")
        with self._lock:
            if vm.vm_id in self.booted:
                return
            vmdir = self.root / vm.vm_id
            vmdir.mkdir(parents=True, exist_ok=True)
            (vmdir / "user-data").write_text(vm.user_data)
            home = _prepare_home(vmdir, vm.ssh_user, vm.authorized_keys)
            self.booted[vm.vm_id] = vm  # before plumbing: a half-booted host is halted the same way
            self._plumb(vm.ip)
            self._start_sshd(vm, vmdir, home)
        _wait_port(vm.ip, 22, self.ready_timeout)
        self.ready.add(vm.vm_id)

    def halt(self, vm_id: str, keep_disk: bool = False) -> None:
        """Stop the host: every process in its namespace, the namespace, its route (idempotent)."""
        with self._lock:
            vm = self.booted.get(vm_id)
            if vm is not None:  # gone from `booted` only once the host is really gone
                ns = self.netns(vm.ip)
                _kill_netns(ns)
                sh("ip", "netns", "delete", ns, check=False)
                sh("ip", "link", "delete", self.veth(vm.ip), check=False)
                sh("ip", "route", "delete", f"{vm.ip}/32", "dev", self.net.bridge, check=False)
            self.booted.pop(vm_id, None)
            self.ready.discard(vm_id)
        if not keep_disk:
            shutil.rmtree(self.root / vm_id, ignore_errors=True)

    def halt_all(self) -> None:
        for vm_id in list(self.booted):
            self.halt(vm_id, keep_disk=True)

    def _plumb(self, ip: str) -> None:
        ns, veth = self.netns(ip), self.veth(ip)
        sh("ip", "netns", "delete", ns, check=False)
        sh("ip", "link", "delete", veth, check=False)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", veth, "master", self.net.bridge, "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/{self.net.prefixlen}", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "route", "replace", f"{ip}/32", "dev", self.net.bridge)

    def _start_sshd(self, vm: VmSpec, vmdir: Path, home: Path) -> None:
        key = vmdir / "ssh_host_ed25519_key"
        if not key.exists():
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", vm.vm_id, "-f", str(key))
        cfg = vmdir / "sshd_config"
        cfg.write_text(SSHD_CONFIG.format(ip=vm.ip, dir=vmdir, user=vm.ssh_user))
        Path("/run/sshd").mkdir(exist_ok=True)
        mount_point = pwd.getpwnam(vm.ssh_user).pw_dir
        hostname = vm.hostname or "ip-" + vm.ip.replace(".", "-")
        script = (
            f"mount --bind {home} {mount_point} && hostname {hostname} && "
            f"exec /usr/sbin/sshd -D -f {cfg} -E {vmdir}/sshd.log"
        )
        argv = ["nsenter", f"--net=/run/netns/{self.netns(vm.ip)}", "unshare", "--mount",
                "--uts", "--propagation", "private", "sh", "-c", script]  # fmt: skip
        with open(vmdir / "boot.log", "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # fmt: skip
        (vmdir / "host.pid").write_text(str(proc.pid))

    def host_key(self, vm_id: str) -> str:
        """The VM's public host key line (what a console-output fingerprint would show)."""
        return (self.root / vm_id / "ssh_host_ed25519_key.pub").read_text().strip()


def _prepare_home(vmdir: Path, user: str, keys: Iterable[str]) -> Path:
    """The VM's own home for ``user`` (created on first boot, kept while the disk is kept)."""
    if user == "root":
        raise ValueError("the lab does not give root logins")
    ensure_user(user)
    pw = pwd.getpwnam(user)
    home = vmdir / "home"
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text("".join(k + "\n" for k in keys))
    (ssh_dir / "authorized_keys").chmod(0o600)
    ssh_dir.chmod(0o700)
    for path in (home, ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(path, pw.pw_uid, pw.pw_gid)
    vmdir.chmod(0o755)
    return home


def ensure_user(user: str) -> None:
    """Create the VM login user (no home of its own on this machine, key-only) when missing."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        sh("useradd", "--system", "-M", "-d", f"/home/{user}", "-s", "/bin/bash", user)
        sh("usermod", "-p", "*", user)
        pw = pwd.getpwnam(user)
    Path(pw.pw_dir).mkdir(parents=True, exist_ok=True)  # the mount point of each VM's home


def _wait_port(ip: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((ip, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"sshd on {ip}:{port} did not answer in {timeout:.0f} s") from None
            time.sleep(0.02)


RunningLister = Callable[[], dict[str, VmSpec]]
IdLister = Callable[[], set[str]]


class Watcher:
    """Keeps the booted hosts equal to what the fake cloud says is running.

    ``list_running()`` gives ``{vm_id: VmSpec}`` of running VMs; ``list_existing()`` (optional)
    the ids that still exist stopped, whose disk (home) is kept.  A boot that fails is logged
    and tried again on a later poll (at most ``max_tries`` times).
    """

    def __init__(self, booter: Booter, list_running: RunningLister,
                 list_existing: IdLister | None = None, interval: float = 0.1,
                 max_tries: int = 3) -> None:  # fmt: skip
        self.booter = booter
        self.list_running = list_running
        self.list_existing = list_existing or (lambda: set())
        self.interval = interval
        self.max_tries = max_tries
        self.failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vm-watcher", daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception as exc:  # the fake cloud may be restarting; try again
                log.warning("watcher: %s", exc)
            self._stop.wait(self.interval)

    def sync(self) -> None:
        """One reconcile pass: boot what runs and is not booted, halt what no longer runs."""
        running = self.list_running()
        for vm_id in list(self.booter.booted):
            if vm_id not in running or running[vm_id].ip != self.booter.booted[vm_id].ip:
                keep = vm_id in running or vm_id in self.list_existing()
                self.booter.halt(vm_id, keep_disk=keep)
        for vm_id, vm in running.items():
            if vm_id not in self.booter.booted and self.failures.get(vm_id, 0) < self.max_tries:
                self._boot(vm)

    def _boot(self, vm: VmSpec) -> None:
        try:
            self.booter.boot(vm)
            self.failures.pop(vm.vm_id, None)
        except Exception as exc:
            self.failures[vm.vm_id] = self.failures.get(vm.vm_id, 0) + 1
            log.warning("boot %s at %s failed: %s", vm.vm_id, vm.ip, exc)
            self.booter.halt(vm.vm_id, keep_disk=True)
