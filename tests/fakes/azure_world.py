"""What the simulated Azure knows: locations, VM sizes, images, error payloads, and its TLS cert.

Locations and sizes come from the project's shipped catalog (a size exists in a location iff the
catalog prices it there). Error bodies follow the ARM error contract,
https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors
and https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/common-api-details.md#error-response-content
(``{"error": {"code", "message", "target", "details"}}``).
"""

from __future__ import annotations

import ssl
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from fakes.base import Json, Response

# Marketplace images the fake knows (publisher, offer, sku); "latest" is the only version served.
IMAGES = {
    ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2"),
    ("Canonical", "ubuntu-24_04-lts", "server"),
    ("Debian", "debian-12", "12-gen2"),
    ("microsoft-dsvm", "ubuntu-hpc", "2204"),  # NVIDIA-driver-ready HPC image for GPU sizes
}


@dataclass
class AzureWorld:
    """Locations and the VM sizes offered in each."""

    sizes: dict[str, set[str]] = field(default_factory=dict)  # location -> VM sizes

    @classmethod
    def from_catalog(cls) -> AzureWorld:
        from jupyter_sky.catalog.offers import load_offers

        sizes: dict[str, set[str]] = defaultdict(set)
        for offer in load_offers():
            if offer.infra == "azure":
                sizes[offer.region].add(offer.instance_type)
        return cls(dict(sizes))

    def all_sizes(self) -> set[str]:
        return set().union(*self.sizes.values()) if self.sizes else set()


def arm_error(status: int, code: str, message: str, target: str | None = None) -> Response:
    body: Json = {"error": {"code": code, "message": message}}
    if target:
        body["error"]["target"] = target
    return Response(status, body)


def fault_error(code: str, facts: dict[str, str], message: str | None) -> tuple[int, str, str]:
    """(HTTP status, ARM code, message) for a fault rule's code."""
    loc, size, name = facts.get("location", "?"), facts.get("vmSize", "?"), facts.get("name", "?")
    sub = facts.get("subscription", "?")
    table = {
        "AllocationFailed": (200, "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance"),
        "ZonalAllocationFailed": (200, "Allocation failed. We do not have sufficient capacity for the requested VM size in this zone. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance"),
        "OverconstrainedAllocationRequest": (200, "Allocation failed. VM(s) with the following constraints cannot be allocated, because the condition is too restrictive."),
        "SkuNotAvailable": (409, f"The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: {size}' is currently not available in location '{loc}'. Please try another size or deploy to a different location or different zone."),
        "OperationNotAllowed": (409, f"Operation could not be completed as it results in exceeding approved standardNCASv3_T4Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: {loc}, Current Limit: 0, Current Usage: 0, Additional Required: 4, (Minimum) New Limit Required: 4."),
        "InvalidAuthenticationToken": (401, "The access token is invalid."),
        "AuthorizationFailed": (403, f"The client 'simulated' does not have authorization to perform action 'Microsoft.Compute/virtualMachines/write' over scope '/subscriptions/{sub}/resourceGroups/{facts.get('resourceGroup', '?')}/providers/Microsoft.Compute/virtualMachines/{name}'."),
        "TooManyRequests": (429, "The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:05:00."),
    }
    status, text = table.get(code, (400, f"simulated fault {code}"))
    return status, code, message or text


def not_found(path: str) -> Response:
    kind, name = path.rstrip("/").split("/")[-2:]
    return arm_error(404, "ResourceNotFound", f"The Resource '{kind}/{name}' under resource group was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def no_group(rg: str) -> Response:
    return arm_error(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")


_CERT_DIR: Path | None = None


def tls_context(*hosts: str) -> tuple[ssl.SSLContext, str]:
    """A server context with a throwaway-CA leaf for 127.0.0.1/localhost (and ``hosts``: the lab
    bridge the simulated VMs reach), and the CA's PEM path.

    The client trusts that CA through ``connection_verify=<ca.pem>``, so the production bearer
    token policy (which refuses plain http) stays in the path.
    """
    import trustme

    global _CERT_DIR
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost", *hosts)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    _CERT_DIR = _CERT_DIR or Path(tempfile.mkdtemp(prefix="skyaz-ca-"))
    pem = _CERT_DIR / f"ca-{id(ca)}.pem"
    ca.cert_pem.write_to_path(str(pem))
    return ctx, str(pem)
