"""Make the simulated clouds' running VMs real SSH hosts with the lab's VM booter.

:func:`booted` starts ``tests/labs/vmboot.py``'s :class:`Watcher` on a fake's
``running_instances()``: each running VM becomes a network-namespace host with a real sshd at
the VM's ``ssh_address`` that accepts the keys its metadata / ``linux_configuration`` gave.
Needs root (namespaces); without root the test is skipped, except under CI, where it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fakes.base import RunningInstance

LABS = Path(__file__).resolve().parents[1] / "labs"


def need_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the simulated VM hosts need root (network namespaces)")
        pytest.skip("the simulated VM hosts need root (network namespaces)")


@contextmanager
def booted(running: Callable[[], list[RunningInstance]], prefix: str, cidr: str, root: Path) -> Iterator[object]:
    """Boot a real SSH host for every running simulated VM while the block runs; yield the booter."""
    need_root()
    sys.path.insert(0, str(LABS))
    import vmboot

    net = vmboot.VmNet(prefix, cidr)
    net.up()
    booter = vmboot.Booter(net, root)
    watcher = vmboot.Watcher(booter, lambda: {r.id: r.vm_spec(vmboot.VmSpec) for r in running()}).start()  # type: ignore[misc]
    try:
        yield booter
    finally:
        watcher.stop()
        booter.halt_all()
        net.down()


def wait_ready(booter: object, vm_id: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while vm_id not in booter.ready:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"the simulated VM {vm_id} never answered on port 22"
        time.sleep(0.05)


def new_key(tmp: Path) -> tuple[Path, str]:
    key = tmp / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key, (tmp / "id_ed25519.pub").read_text().strip()


def ssh(key: Path, user: str, host: str, command: str) -> str:
    """Run ``command`` on the host with the real OpenSSH client; return its stdout."""
    argv = ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", f"{user}@{host}", command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
