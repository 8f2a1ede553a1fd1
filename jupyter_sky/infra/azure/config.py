"""``azure:`` — the settings of the Azure infra.

```yaml
azure:
  subscription_id: 0000...     # default: AZURE_SUBSCRIPTION_ID, then the az CLI's default subscription
  resource_group: null         # an existing group to create in (default: one group per cluster)
  ssh_cidr: 203.0.113.7/32     # who may SSH in (default: this machine's public address)
  ssh_user: sky                # the VM's admin login (its linux_configuration key)
  image: null                  # publisher:offer:sku (default: Ubuntu 22.04, the NVIDIA-ready HPC image for GPUs)
  disk_size: 64                # GB of the OS disk
  ssh_timeout: 300             # seconds to wait for a new VM's sshd
  poll_seconds: 5              # between polls of a long-running ARM operation without Retry-After
  base_url: null               # another Resource Manager endpoint (a test double)
  ca_bundle: null              # the CA file that endpoint's certificate is checked against
  autostop_env: {}             # environment of the VM's own deallocate call (default: its managed identity)
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from jupyter_sky.config_sections import (
    bad,
    cidr,
    env_names,
    gigabytes,
    optional_text,
    seconds,
)
from jupyter_sky.infra.base import checked


def _login(value: object, label: str) -> str:
    text = str(value)
    if not text or not text.replace("_", "a").replace("-", "a").isalnum() or text[0].isdigit():
        raise bad(label, "a login name such as sky", value)
    return text


def _urn(value: object, label: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value.split(":")) != 3 or not all(value.split(":")):
        raise bad(label, "a marketplace image publisher:offer:sku such as Canonical:ubuntu-24_04-lts:server", value)
    return value


def _pause(value: object, label: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))
    if not ok or float(value) < 0:  # type: ignore[arg-type]
        raise bad(label, "a number of seconds (0 or more) such as 5", value)
    return float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AzureConfig:
    """``azure:`` — how the Azure infra creates and reaches its VMs."""

    subscription_id: str | None = field(default=None, metadata=checked(optional_text))
    resource_group: str | None = field(default=None, metadata=checked(optional_text))
    ssh_cidr: str | None = field(default=None, metadata=checked(cidr))
    ssh_user: str = field(default="sky", metadata=checked(_login))
    image: str | None = field(default=None, metadata=checked(_urn))
    disk_size: int = field(default=64, metadata=checked(gigabytes))
    ssh_timeout: float = field(default=300.0, metadata=checked(seconds))
    poll_seconds: float = field(default=5.0, metadata=checked(_pause))
    base_url: str | None = field(default=None, metadata=checked(optional_text))
    ca_bundle: str | None = field(default=None, metadata=checked(optional_text))
    autostop_env: dict[str, str] = field(default_factory=dict, metadata=checked(env_names))
