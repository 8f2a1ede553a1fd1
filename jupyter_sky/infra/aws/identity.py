"""Who creates what: the per-user ed25519 key, cloud-init user data, and the tags.

The key is given to the instance through cloud-init user data rather than an EC2 key pair:
no key-pair count limit, no ``ec2:ImportKeyPair`` permission, nothing to delete at ``down``.
The private key lives at ``$JUPYTER_SKY_HOME/keys/aws-<user>`` with mode 0600.
"""

from __future__ import annotations

import getpass
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from jupyter_sky.errors import InfraError

TAG_CLUSTER = "jupyter-sky-cluster"
TAG_USER = "jupyter-sky-user"
TAG_HOST = "jupyter-sky-host"
LOGIN_USER = "ubuntu"  # the login user of Ubuntu and Deep Learning (Ubuntu) images


def user_name() -> str:
    """The local user, reduced to what a tag value and a group name accept."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", getpass.getuser()) or "user"


@dataclass(frozen=True)
class Owner:
    """The tags every resource of a cluster carries."""

    cluster: str
    user: str
    host: str

    @classmethod
    def of(cls, cluster: str) -> Owner:
        return cls(cluster, user_name(), socket.gethostname())

    def tags(self) -> list[dict[str, str]]:
        return [{"Key": TAG_CLUSTER, "Value": self.cluster}, {"Key": TAG_USER, "Value": self.user},
                {"Key": TAG_HOST, "Value": self.host}, {"Key": "Name", "Value": f"sky-{self.cluster}"}]  # fmt: skip


def user_key(user: str | None = None) -> tuple[Path, str]:
    """``(private key path, public key line)`` of this user's AWS key, made on first use."""
    from jupyter_sky.infra.vm_access import user_key as cloud_key

    return cloud_key("aws", user or user_name())


def user_data(public_key: str) -> str:
    """cloud-init user data that lets ``public_key`` log in as the image's login user."""
    if "\n" in public_key or not public_key.startswith("ssh-"):
        raise InfraError("the AWS public key is not one OpenSSH key line.")
    return f"#cloud-config\nssh_authorized_keys:\n  - {public_key}\n"
