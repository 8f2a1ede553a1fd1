"""Run ON an Azure VM: deallocate this VM through Azure Resource Manager.

The autostop watcher calls it once the notebook is gone and the kernel has been idle, so the
bill stops while the laptop sleeps. Standard library only (the VM's venv has no Azure SDK):
one ``virtualMachines/deallocate`` POST
(https://learn.microsoft.com/rest/api/compute/virtual-machines/deallocate) with a token of the
VM's own managed identity from the instance metadata service
(https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token),
or ``JUPYTER_SKY_AZURE_TOKEN`` when set. Endpoint: ``JUPYTER_SKY_AZURE_ENDPOINT`` when set,
else Resource Manager's; ``JUPYTER_SKY_AZURE_CA`` names a CA file to trust.

    python -m jupyter_sky.infra.azure.selfstop --vm /subscriptions/S/resourceGroups/G/providers/Microsoft.Compute/virtualMachines/N
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.request

ENDPOINT = "https://management.azure.com"
IMDS = ("http://169.254.169.254/metadata/identity/oauth2/token"
        "?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F")  # fmt: skip


def token() -> str:
    """The environment's token, else the VM managed identity's from the metadata service."""
    given = os.environ.get("JUPYTER_SKY_AZURE_TOKEN")
    if given:
        return given
    req = urllib.request.Request(IMDS, headers={"Metadata": "true"})
    return str(json.loads(urllib.request.urlopen(req, timeout=5).read())["access_token"])


def deallocate(vm_path: str, polls: int = 120) -> str:
    """Ask ARM to deallocate the VM at ``vm_path`` and follow its ``Azure-AsyncOperation``
    (https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations)
    until it is no longer InProgress; its last status."""
    base = os.environ.get("JUPYTER_SKY_AZURE_ENDPOINT", ENDPOINT).rstrip("/")
    ca = os.environ.get("JUPYTER_SKY_AZURE_CA")
    ctx = ssl.create_default_context(cafile=ca) if ca else None
    auth = {"Authorization": f"Bearer {token()}"}
    req = urllib.request.Request(f"{base}{vm_path}/deallocate?api-version=2024-07-01", data=b"", method="POST", headers=auth)
    with urllib.request.urlopen(req, timeout=30, context=ctx) as resp:
        operation, pause = resp.headers.get("Azure-AsyncOperation"), resp.headers.get("Retry-After", "5")
    status = "Accepted"
    for _ in range(polls if operation else 0):
        time.sleep(min(30.0, float(pause or 0)))
        with urllib.request.urlopen(urllib.request.Request(operation, headers=auth), timeout=30, context=ctx) as resp:
            status, pause = str(json.loads(resp.read()).get("status")), resp.headers.get("Retry-After", "5")
        if status != "InProgress":
            break
    return status


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vm", required=True)
    args = parser.parse_args(argv)
    status = deallocate(args.vm)
    print(f"deallocate of {args.vm}: {status}")
    return 0 if status in ("Succeeded", "Accepted") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
