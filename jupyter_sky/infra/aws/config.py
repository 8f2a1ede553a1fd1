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

import ipaddress
import math
import re
from dataclasses import dataclass, field

from jupyter_sky.config_sections import bad, boolean, mapping, optional_text
from jupyter_sky.errors import SpecError
from jupyter_sky.infra.base import checked

AMI = re.compile(r"ami-[0-9a-f]{8,17}")


def _cidr(value: object, label: str) -> str | None:
    """An IPv4/IPv6 network that is not everyone (``/0``)."""
    if value is None:
        return None
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise bad(label, "an address range such as 203.0.113.7/32", value) from None
    if net.prefixlen == 0:
        raise bad(label, "a range narrower than /0 (SSH is never opened to everyone)", value)
    return str(net)


def _images(value: object, label: str) -> dict[str, str]:
    """``{region or '*': AMI}`` from one AMI or a mapping of them."""
    raw = {"*": value} if isinstance(value, str) else mapping(value, label)
    for region, ami in raw.items():
        if not isinstance(ami, str) or not AMI.fullmatch(ami):
            raise bad(f"{label} ({region})", "an AMI id such as ami-0abc1234", ami)
    return {str(k): str(v) for k, v in raw.items()}


def _gigabytes(value: object, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 8 <= value <= 16384:
        raise bad(label, "a disk size in GB from 8 to 16384", value)
    return value


def _seconds(value: object, label: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:  # type: ignore[arg-type]
        raise bad(label, "a positive number of seconds such as 300", value)
    return float(value)  # type: ignore[arg-type]


def _env(value: object, label: str) -> dict[str, str]:
    raw = mapping(value, label)
    if not all(isinstance(k, str) and re.fullmatch(r"[A-Z_][A-Z0-9_]*", k) for k in raw):
        raise bad(label, "a mapping of environment variable names to values", value)
    return {str(k): str(v) for k, v in raw.items()}


@dataclass(frozen=True)
class AwsConfig:
    """``aws:`` — how the AWS infra creates and reaches its VMs."""

    ssh_cidr: str | None = field(default=None, metadata=checked(_cidr))
    use_internal_ips: bool = field(default=False, metadata=checked(boolean))
    vpc_name: str | None = field(default=None, metadata=checked(optional_text))
    image_id: dict[str, str] = field(default_factory=dict, metadata=checked(_images))
    disk_size: int = field(default=100, metadata=checked(_gigabytes))
    ssh_timeout: float = field(default=300.0, metadata=checked(_seconds))
    autostop_env: dict[str, str] = field(default_factory=dict, metadata=checked(_env))
    autostop_shutdown: bool = field(default=True, metadata=checked(boolean))

    def image_for(self, region: str) -> str | None:
        """The configured AMI of ``region`` (or of every region), else None."""
        return self.image_id.get(region) or self.image_id.get("*")


# ---- the infra's own %%sky flags (values arrive in task.infra_options) -----------------------
def disk_size_flag(value: str, label: str) -> str:
    """``--disk-size 200``: GB of the root volume."""
    if not value.isdigit() or not 8 <= int(value) <= 16384:
        raise SpecError(f"{label} must be a disk size in GB from 8 to 16384, not {value!r}.")
    return value


def image_id_flag(value: str, label: str) -> str:
    """``--image-id ami-0abc1234``: the AMI to boot instead of the class's default."""
    if not AMI.fullmatch(value):
        raise SpecError(f"{label} must be an AMI id such as ami-0abc1234, not {value!r}.")
    return value
