"""What the simulated GCP knows: zones, machine types, accelerators, images, and error payloads.

Zones and machine types come from the project's own shipped catalog (a machine type exists in a
zone iff the catalog prices it there), so a placement the planner picks is one the fake accepts,
and "machine type not in zone" means the same thing on both sides. Error payloads follow the
shapes in https://cloud.google.com/compute/docs/reference/rest/v1/zoneOperations#Operation
(``error.errors[]``, ``httpErrorStatusCode``) and the JSON error format of
https://cloud.google.com/apis/design/errors#http_mapping (``error.errors[].reason``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from fakes.base import Json, Response

COMPUTE = "https://www.googleapis.com/compute/v1"

# Catalog accelerator name -> GCE acceleratorType name (https://cloud.google.com/compute/docs/gpus).
ACCELERATOR_TYPES = {
    "T4": "nvidia-tesla-t4",
    "V100": "nvidia-tesla-v100",
    "P100": "nvidia-tesla-p100",
    "P4": "nvidia-tesla-p4",
    "A100": "nvidia-tesla-a100",
    "A100-80GB": "nvidia-a100-80gb",
    "L4": "nvidia-l4",
    "H100": "nvidia-h100-80gb",
    "H100-MEGA": "nvidia-h100-mega-80gb",
    "H200": "nvidia-h200-141gb",
    "B200": "nvidia-b200",
}

# Public image families (project, family) -> image name; see
# https://cloud.google.com/compute/docs/images/os-details and
# https://cloud.google.com/deep-learning-vm/docs/images.
IMAGES = {
    ("debian-cloud", "debian-12"): "debian-12-bookworm-v20261110",
    ("ubuntu-os-cloud", "ubuntu-2204-lts"): "ubuntu-2204-jammy-v20261105",
    ("ubuntu-os-cloud", "ubuntu-2404-lts-amd64"): "ubuntu-2404-noble-amd64-v20261105",
    ("deeplearning-platform-release", "common-cu124-debian-11-py310"): "common-cu124-v20261101-debian-11-py310",
    ("deeplearning-platform-release", "common-cu128-ubuntu-2204-nvidia-570"): "common-cu128-v20261101-ubuntu-2204-py310",
}


@dataclass(frozen=True)
class MachineType:
    name: str
    vcpus: int
    memory_mb: int
    accelerator: str | None = None
    accelerator_count: int = 0


@dataclass
class GcpWorld:
    """Regions, zones, machine types per zone and attachable accelerators per zone."""

    zones: dict[str, str] = field(default_factory=dict)  # zone -> region
    machine_types: dict[str, dict[str, MachineType]] = field(default_factory=dict)  # zone -> name -> type
    accelerators: dict[str, set[str]] = field(default_factory=dict)  # zone -> GCE accelerator names

    @classmethod
    def from_catalog(cls) -> GcpWorld:
        from jupyter_sky.catalog.offers import load_offers

        world = cls()
        types: dict[str, dict[str, MachineType]] = defaultdict(dict)
        accels: dict[str, set[str]] = defaultdict(set)
        for offer in load_offers():
            if offer.infra != "gcp" or offer.zone is None or offer.instance_type.startswith("tpu"):
                continue
            world.zones[offer.zone] = offer.region
            gce_accel = ACCELERATOR_TYPES.get(offer.accelerator or "")
            if offer.instance_type.startswith("n1-") and offer.accelerator:
                if gce_accel:
                    accels[offer.zone].add(gce_accel)
                continue  # the N1 host itself is also listed without an accelerator
            types[offer.zone][offer.instance_type] = MachineType(
                offer.instance_type,
                int(offer.vcpus or 1),
                int((offer.memory_gb or 1) * 1024),
                gce_accel,
                int(offer.accelerator_count) if gce_accel else 0,
            )
        world.machine_types = dict(types)
        world.accelerators = dict(accels)
        return world

    def regions(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for zone, region in sorted(self.zones.items()):
            out[region].append(zone)
        return dict(out)


def wire(message: object) -> Json:
    """Serialise an SDK message to its REST JSON (camelCase, enums as names)."""
    text = type(message).to_json(message, use_integers_for_enums=False, indent=None)  # type: ignore[attr-defined]
    return dict(json.loads(text))


def last(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def json_error(status: int, reason: str, message: str, domain: str = "global") -> Response:
    """A synchronous Google API error body, as the REST transport maps it to an exception."""
    body: Json = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    return Response(status, body)


def not_found(resource: str) -> Response:
    return json_error(404, "notFound", f"The resource '{resource}' was not found")


def invalid(message: str) -> Response:
    return json_error(400, "invalid", message)


@dataclass(frozen=True)
class OpFailure:
    """How an operation ends when a fault fires in it: the GCE error code, HTTP status, message."""

    code: str
    status: int
    status_message: str
    message: str


def fault_outcome(code: str, facts: dict[str, str], message: str | None) -> Response | OpFailure:
    """Turn a fault rule's code into a synchronous error or an operation failure.

    Operation failures set ``httpErrorStatusCode``/``httpErrorMessage``, as real GCE does;
    without them ``ExtendedOperation.result()`` would return None (recipe finding G2).
    """
    zone, region = facts.get("zone", "?"), facts.get("region", "?")
    where = f"projects/{facts.get('project', '?')}/zones/{zone}"
    if code.startswith("ZONE_RESOURCE_POOL_EXHAUSTED"):
        text = (
            f"The zone '{where}' does not have enough resources available to fulfill the "
            "request.  Try a different zone, or try again later."
        )
        return OpFailure(code, 503, "SERVICE UNAVAILABLE", message or text)
    if code == "QUOTA_EXCEEDED":
        text = f"Quota 'NVIDIA_T4_GPUS' exceeded.  Limit: 0.0 in region {region}."
        return OpFailure(code, 403, "FORBIDDEN", message or text)
    sync = {
        "resourcePoolExhausted": (503, f"The zone '{where}' does not have enough resources available to fulfill the request."),
        "quotaExceeded": (403, f"Quota 'CPUS' exceeded.  Limit: 8.0 in region {region}."),
        "GPUS_ALL_REGIONS": (403, "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally."),
        "forbidden": (403, f"Required 'compute.instances.create' permission for '{where}/instances/{facts.get('name', '?')}'"),
        "authError": (401, "Request had invalid authentication credentials. Expected OAuth 2 access token."),
        "rateLimitExceeded": (429, "Rate Limit Exceeded"),
    }
    aliases = {"PERMISSION_DENIED": "forbidden", "UNAUTHENTICATED": "authError", "RATE_LIMIT": "rateLimitExceeded"}
    reason = aliases.get(code, code)
    status, text = sync.get(reason, (400, f"simulated fault {code}"))
    if reason == "GPUS_ALL_REGIONS":
        reason = "quotaExceeded"
    domain = "usageLimits" if reason in ("quotaExceeded", "rateLimitExceeded") else "global"
    return json_error(status, reason, message or text, domain)
