"""``gcp:`` — the settings of the GCP infra (and the catalog refresh's API key).

```yaml
gcp:
  project: my-project          # default: GOOGLE_CLOUD_PROJECT, the credentials file, gcloud
  ssh_cidr: 203.0.113.7/32     # who may SSH in (default: this machine's public address)
  ssh_user: sky                # the login the instance metadata's key is for
  disk_size: 100               # GB of the boot disk
  ssh_timeout: 300             # seconds to wait for a new VM's sshd
  use_internal_ips: false      # reach the VMs' internal addresses (a VPN)
  api_endpoint: null           # another Compute Engine endpoint (a test double)
  autostop_env: {}             # environment of the VM's own stop call (default: its service account)
  api_key: null                # Cloud Billing Catalog key for `jupyter-sky catalog refresh`
```
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jupyter_sky.config_sections import (
    bad,
    boolean,
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


@dataclass(frozen=True)
class GcpConfig:
    """``gcp:`` — how the GCP infra creates and reaches its VMs."""

    project: str | None = field(default=None, metadata=checked(optional_text))
    ssh_cidr: str | None = field(default=None, metadata=checked(cidr))
    ssh_user: str = field(default="sky", metadata=checked(_login))
    disk_size: int = field(default=100, metadata=checked(gigabytes))
    ssh_timeout: float = field(default=300.0, metadata=checked(seconds))
    use_internal_ips: bool = field(default=False, metadata=checked(boolean))
    api_endpoint: str | None = field(default=None, metadata=checked(optional_text))
    autostop_env: dict[str, str] = field(default_factory=dict, metadata=checked(env_names))
    api_key: str | None = field(default=None, metadata=checked(optional_text))
