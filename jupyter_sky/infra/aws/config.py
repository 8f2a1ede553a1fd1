"""``aws:`` — the settings of the AWS infra, and the checks of its own ``%%sky`` flags.

```yaml
aws:
  ssh_cidr: 203.0.113.7/32       # who may SSH in (default: this machine's public address)
  use_internal_ips: false        # reach the VMs' private addresses (a VPN, the lab)
  vpc_name: null                 # launch into the VPC tagged Name=this (default: the default VPC)
  image_id: {us-east-1: ami-0abc}   # per region ("*" for any), or one AMI for every region
  disk_size: 100                 # GB of the root volume
  ssh_timeout: 300               # seconds to wait for a new VM's sshd
  autostop_env: {}               # environment of the VM's own stop call (default: its role)
  autostop_shutdown: true        # without a role: `sudo shutdown` (instance-initiated stop)
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jupyter_sky.config_sections import (
    bad,
    boolean,
    cidr,
    env_names,
    gigabytes,
    mapping,
    optional_text,
    seconds,
)
from jupyter_sky.errors import SpecError
from jupyter_sky.infra.base import checked

AMI = re.compile(r"ami-[0-9a-f]{8,17}")


def _images(value: object, label: str) -> dict[str, str]:
    """``{region or '*': AMI}`` from one AMI or a mapping of them."""
    raw = {"*": value} if isinstance(value, str) else mapping(value, label)
    for region, ami in raw.items():
        if not isinstance(ami, str) or not AMI.fullmatch(ami):
            raise bad(f"{label} ({region})", "an AMI id such as ami-0abc1234", ami)
    return {str(k): str(v) for k, v in raw.items()}


@dataclass(frozen=True)
class AwsConfig:
    """``aws:`` — how the AWS infra creates and reaches its VMs."""

    ssh_cidr: str | None = field(default=None, metadata=checked(cidr))
    use_internal_ips: bool = field(default=False, metadata=checked(boolean))
    vpc_name: str | None = field(default=None, metadata=checked(optional_text))
    image_id: dict[str, str] = field(default_factory=dict, metadata=checked(_images))
    disk_size: int = field(default=100, metadata=checked(gigabytes))
    ssh_timeout: float = field(default=300.0, metadata=checked(seconds))
    autostop_env: dict[str, str] = field(default_factory=dict, metadata=checked(env_names))
    autostop_shutdown: bool = field(default=True, metadata=checked(boolean))

    def image_for(self, region: str) -> str | None:
        """The configured AMI of ``region`` (or of every region), else None."""
        return self.image_id.get(region) or self.image_id.get("*")


# ---- the infra's own %%sky flags (values arrive in task.infra_options) -----------------------
def image_id_flag(value: str, label: str) -> str:
    """``--image-id ami-0abc1234``: the AMI to boot instead of the class's default."""
    if not AMI.fullmatch(value):
        raise SpecError(f"{label} must be an AMI id such as ami-0abc1234, not {value!r}.")
    return value
