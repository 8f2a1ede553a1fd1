"""The simulated GCP lab: the fake Compute Engine (real google-cloud-compute SDK over HTTP), its
OAuth token endpoint for a real ADC credentials file, and the VM booter that makes each RUNNING
instance a network-namespace host with a real sshd. SIMULATED: only the hypervisor and the
Compute Engine API are; provisioning, SSH, bootstrap, kernel, cell, autostop and down run for real.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fakes.booted import booted
from fakes.gcp_compute import GcpComputeFake

PROJECT = "sim-project"
CIDR = "10.213.128.0/18"


@dataclass
class GcpLab:
    fake: GcpComputeFake
    booter: object
    adc: Path
    vm_endpoint: str  # the fake as the simulated VMs reach it (the lab bridge's gateway)

    def config(self, **extra: object) -> str:
        """The user's ``gcp:`` section for this lab (plus ``extra`` keys)."""
        lines = [
            "gcp:", f"  project: {PROJECT}", f"  ssh_cidr: {CIDR}", "  ssh_timeout: 60",
            f"  api_endpoint: {self.fake.url}",
            f"  autostop_env: {{JUPYTER_SKY_GCP_ENDPOINT: '{self.vm_endpoint}', JUPYTER_SKY_GCP_TOKEN: simulated-token}}",
            *(f"  {k}: {v}" for k, v in extra.items()),
        ]  # fmt: skip
        return "\n".join(lines) + "\n"

    def leftovers(self) -> list[str]:
        """Every instance and firewall rule the fake still holds."""
        return [k[2] for k in self.fake.instances] + [k[1] for k in self.fake.firewalls]


def service_account(token_uri: str) -> dict[str, str]:
    """A service-account key file (a fresh RSA key) whose ``token_uri`` is the fake's: google-auth
    signs its JWT grant and exchanges it there, as it would at oauth2.googleapis.com."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    return {"type": "service_account", "project_id": PROJECT, "private_key_id": "simulated",
            "private_key": pem, "client_email": f"sky@{PROJECT}.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": token_uri}  # fmt: skip


def running_lab(root: Path) -> Iterator[GcpLab]:
    """Start the fake and the booter; ADC is a service-account file whose ``token_uri`` is the
    fake's, so google-auth gets its token there (no request leaves the machine)."""
    os.environ.setdefault("NO_GCE_CHECK", "true")
    fake = GcpComputeFake()
    fake.start()
    adc = root / "adc.json"
    adc.write_text(json.dumps(service_account(f"{fake.url}/token")))
    try:
        with booted(fake.running_instances, "skygcp", CIDR, root / "vms") as booter:
            yield GcpLab(fake, booter, adc, fake.server.also_listen(booter.net.gateway))  # type: ignore[attr-defined]
    finally:
        fake.stop()
