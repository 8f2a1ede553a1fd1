"""How this machine reaches a cloud VM: the user's SSH key, the VM's host key, and the
address the VM's firewall lets in.

The key is ``$JUPYTER_SKY_HOME/keys/<cloud>-<user>`` (ed25519, made on first use, mode 0600);
its public half goes to the VM through the cloud's own mechanism (AWS cloud-init user data,
GCP instance metadata, Azure ``linux_configuration``), so no key pair object exists in the
cloud and nothing is left to delete at ``down``.
"""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path
from typing import TypeVar

from jupyter_sky.config import sky_home
from jupyter_sky.errors import InfraError, SpecError
from jupyter_sky.infra.base import InfraFlag


def user_key(cloud: str, user: str) -> tuple[Path, str]:
    """``(private key path, public key line)`` of ``user``'s key for ``cloud``."""
    path = sky_home() / "keys" / f"{cloud}-{user}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        res = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "jupyter-sky",
                              "-f", str(path)], capture_output=True, text=True)  # fmt: skip
        if res.returncode != 0:
            raise InfraError(f"could not make the SSH key {path}: {res.stderr.strip()}")
    path.chmod(0o600)
    return path, Path(f"{path}.pub").read_text().strip()


def forget_host(known_hosts: Path, address: str) -> None:
    """Drop ``address``'s entries: a new VM that got an old address has a new host key."""
    if not known_hosts.exists():
        return
    kept = [ln for ln in known_hosts.read_text().splitlines() if ln.split(" ", 1)[0] != address]
    known_hosts.write_text("".join(f"{ln}\n" for ln in kept))


CHECKIP = "https://checkip.amazonaws.com"


def public_cidr(setting: str) -> str:
    """This machine's public address as ``a.b.c.d/32`` (one short call); ``setting`` names the
    config key that avoids the call."""
    try:
        with urllib.request.urlopen(CHECKIP, timeout=5) as resp:
            address = resp.read().decode().strip()
    except OSError as exc:
        raise InfraError(f"this machine's public address is unknown ({exc}); set {setting}.") from None
    return f"{address}/32"


def _disk_size(value: str, label: str) -> str:
    if not value.isdigit() or not 10 <= int(value) <= 16384:
        raise SpecError(f"{label} must be a disk size in GB from 10 to 16384, not {value!r}.")
    return value


#: ``--disk-size GB``: the boot disk of a cloud VM; every VM infra declares this same flag.
DISK_SIZE = InfraFlag("--disk-size", "disk_size", "Cloud VMs: boot disk size in GB (default: the infra's disk_size).",
                      "200", _disk_size)  # fmt: skip


def cloud_user() -> str:
    """This user's name as a GCP label or an Azure tag value may hold it (lower case, [a-z0-9_-])."""
    import getpass
    import re

    return re.sub(r"[^a-z0-9_-]", "-", getpass.getuser().lower()) or "user"


S = TypeVar("S")


def section_here(section: type[S]) -> S:
    """``section`` of the config files of this directory; its defaults when they cannot be read
    (the command that reads them says why)."""
    from jupyter_sky.config import load_config

    try:
        return load_config(Path.cwd()).of(section)
    except Exception:  # noqa: BLE001 - an unreadable config is said by the command that reads it
        return section()
