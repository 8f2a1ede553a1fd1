"""The simulated Azure lab: the fake ARM (real azure-mgmt SDKs over HTTPS), a stand-in ``az`` CLI
that DefaultAzureCredential's AzureCliCredential asks for a token, an ``azureProfile.json`` naming
the subscription, and the VM booter that makes each running VM a network-namespace host with a
real sshd. SIMULATED: only Resource Manager and the hypervisor are; sign-in (azure-identity),
provisioning, SSH, bootstrap, kernel, cell and down run for real.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fakes.azure_arm import AzureArmFake
from fakes.azure_fixtures import SUBSCRIPTION
from fakes.booted import booted

CIDR = "10.213.192.0/18"
GATEWAY = "10.213.192.1"  # the lab bridge (vmboot.VmNet's first host): what the simulated VMs reach
AZ = """#!/bin/sh
# stand-in for the Azure CLI: only `az account get-access-token` (what AzureCliCredential runs)
case "$*" in
  *get-access-token*) echo '{"accessToken": "simulated-token", "expires_on": 4102444800, "tokenType": "Bearer"}' ;;
  *) echo "simulated az: unsupported: $*" >&2; exit 2 ;;
esac
"""


@dataclass
class AzureLab:
    fake: AzureArmFake
    booter: object
    bin_dir: Path  # holds the stand-in ``az``
    cli_dir: Path  # AZURE_CONFIG_DIR with azureProfile.json
    vm_endpoint: str  # the fake as the simulated VMs reach it (a TCP relay on the bridge)

    def config(self, **extra: object) -> str:
        """The user's ``azure:`` section for this lab (plus ``extra`` keys)."""
        selfstop = (f"{{JUPYTER_SKY_AZURE_ENDPOINT: '{self.vm_endpoint}', JUPYTER_SKY_AZURE_TOKEN: simulated-token, "
                    f"JUPYTER_SKY_AZURE_CA: '{self.fake.ca_pem}'}}")  # fmt: skip
        lines = ["azure:", f"  ssh_cidr: {CIDR}", "  ssh_timeout: 60", "  poll_seconds: 0",
                 f"  base_url: {self.fake.url}", f"  ca_bundle: {self.fake.ca_pem}", f"  autostop_env: {selfstop}",
                 *(f"  {k}: {v}" for k, v in extra.items())]  # fmt: skip
        return "\n".join(lines) + "\n"

    def env(self, path: str) -> dict[str, str]:
        """The environment that signs in through the stand-in ``az`` only."""
        return {"PATH": f"{self.bin_dir}:{path}", "AZURE_CONFIG_DIR": str(self.cli_dir),
                "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential"}  # fmt: skip

    def leftovers(self) -> list[str]:
        """Every resource group and resource the fake still holds."""
        return sorted(self.fake.groups) + sorted(self.fake.resources)


def relay(host: str, target: tuple[str, int]) -> tuple[str, socket.socket]:
    """Forward TCP connections on ``host`` (free port) to ``target`` (TLS passes through
    untouched); ``https://host:port`` and the listening socket (close it to stop)."""
    listener = socket.create_server((host, 0))

    def pump(src: socket.socket, dst: socket.socket) -> None:
        with src, dst:
            while data := src.recv(65536):
                dst.sendall(data)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(target)
            threading.Thread(target=pump, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, conn), daemon=True).start()

    threading.Thread(target=serve, name="azure-lab-relay", daemon=True).start()
    return f"https://{host}:{listener.getsockname()[1]}", listener


def running_lab(root: Path) -> Iterator[AzureLab]:
    """Start the fake and the booter with the stand-in CLI and profile under ``root``."""
    bin_dir, cli_dir = root / "bin", root / "azure-cli"
    bin_dir.mkdir()
    cli_dir.mkdir()
    (bin_dir / "az").write_text(AZ)
    (bin_dir / "az").chmod(0o755)
    profile = {"subscriptions": [{"id": SUBSCRIPTION, "name": "simulated", "isDefault": True, "state": "Enabled"}]}
    (cli_dir / "azureProfile.json").write_text(json.dumps(profile))
    fake = AzureArmFake(tls_hosts=(GATEWAY,))
    fake.start()
    ca = Path(fake.ca_pem)
    ca.parent.chmod(0o755)  # the VMs' own login reads the (public) CA for its deallocate call
    ca.chmod(0o644)
    try:
        with booted(fake.running_instances, "skyaz", CIDR, root / "vms") as booter:
            url, listener = relay(GATEWAY, ("127.0.0.1", int(fake.url.rsplit(":", 1)[1])))
            try:
                yield AzureLab(fake, booter, bin_dir, cli_dir, url)
            finally:
                listener.close()
    finally:
        fake.stop()
