"""Run ON a Compute Engine VM: stop this instance through the Compute Engine API.

The autostop watcher calls it once the notebook is gone and the kernel has been idle, so the
bill stops while the laptop sleeps. Standard library only (the VM's venv has no Google SDK):
one ``instances.stop`` POST (https://cloud.google.com/compute/docs/reference/rest/v1/instances/stop)
with a bearer token of the VM's own service account from the metadata server, or
``JUPYTER_SKY_GCP_TOKEN`` when set. Endpoint: ``JUPYTER_SKY_GCP_ENDPOINT`` when set, else
Compute Engine's.

    python -m jupyter_sky.infra.gcp.selfstop --project P --zone Z --instance NAME
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request

METADATA = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
ENDPOINT = "https://compute.googleapis.com"


def token() -> str:
    """The environment's token, else the VM service account's from the metadata server."""
    given = os.environ.get("JUPYTER_SKY_GCP_TOKEN")
    if given:
        return given
    req = urllib.request.Request(METADATA, headers={"Metadata-Flavor": "Google"})
    return str(json.loads(urllib.request.urlopen(req, timeout=5).read())["access_token"])


def stop_self(project: str, zone: str, instance: str) -> str:
    """Ask Compute Engine to stop this instance; returns its answer (the operation)."""
    base = os.environ.get("JUPYTER_SKY_GCP_ENDPOINT", ENDPOINT).rstrip("/")
    url = f"{base}/compute/v1/projects/{project}/zones/{zone}/instances/{instance}/stop"
    req = urllib.request.Request(url, data=b"", method="POST",
                                 headers={"Authorization": f"Bearer {token()}"})  # fmt: skip
    return str(urllib.request.urlopen(req, timeout=30).read().decode())


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--project", "--zone", "--instance"):
        ap.add_argument(name, required=True)
    args = ap.parse_args(argv)
    stop_self(args.project, args.zone, args.instance)
    print(f"stop of {args.instance} requested")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
