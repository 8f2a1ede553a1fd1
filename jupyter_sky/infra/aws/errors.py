"""What an EC2 error means for failover: try the next zone, the next region, or another infra.

:func:`classify` reads the error code (and, for a few codes, the message) of a botocore
``ClientError`` and returns a :class:`Verdict`; the infra turns it into the seam's
``CapacityError`` / ``QuotaError`` / ``CredentialError`` with the verdict's scope.
Throttling and 5xx that botocore already retried in place end as ``retry`` (the caller may
back off and try again in the same place before giving up on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["capacity", "quota", "credential", "retry", "fatal"]
Scope = Literal["zone", "region", "infra"]

CAPACITY_ZONE = frozenset({
    "InsufficientInstanceCapacity", "InsufficientHostCapacity", "InsufficientReservedInstanceCapacity",
    "InsufficientCapacity", "Unsupported", "UnfulfillableCapacity", "SpotMaxPriceTooLow",
    "InsufficientFreeAddressesInSubnet",
})  # fmt: skip
QUOTA_REGION = frozenset({
    "VcpuLimitExceeded", "InstanceLimitExceeded", "MaxSpotInstanceCountExceeded",
    "InsufficientVcpuLimit", "VolumeLimitExceeded", "SecurityGroupLimitExceeded",
})  # fmt: skip
CREDENTIAL = frozenset({
    "AuthFailure", "UnauthorizedOperation", "RequestExpired", "ExpiredToken", "ExpiredTokenException",
    "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "OptInRequired",
    "AccessDenied", "AccessDeniedException", "Blocked",
})  # fmt: skip
RETRY = frozenset({
    "RequestLimitExceeded", "Throttling", "ThrottlingException", "InternalError", "InternalFailure",
    "ServiceUnavailable", "Unavailable",
})  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """What to do after an error: ``kind``, how far it reaches (``scope``) and one sentence."""

    kind: Kind
    scope: Scope
    code: str
    sentence: str


def classify(code: str, message: str, status: int, where: str) -> Verdict:
    """The verdict for EC2 error ``code`` (HTTP ``status``) met while launching at ``where``.

    ``where`` is the placement as the user reads it (``aws/us-east-1a g5.xlarge``); the
    sentence names it and the code, and keeps AWS's message (first sentence only).
    """
    first = message.split(". ")[0].rstrip(".")
    if code in CAPACITY_ZONE:
        return Verdict("capacity", "zone", code, f"no capacity at {where} ({code}: {first}).")
    if code in QUOTA_REGION:
        return Verdict("quota", "region", code, f"quota reached at {where} ({code}: {first}).")
    if code == "OptInRequired":
        return Verdict("credential", "region", code, f"the region of {where} is not enabled for this account ({code}).")
    if code in CREDENTIAL:
        return Verdict("credential", "infra", code, f"AWS refused the credentials ({code}: {first}).")
    if code in RETRY or status >= 500:
        return Verdict("retry", "zone", code, f"AWS kept failing at {where} ({code}: {first}).")
    return Verdict("fatal", "infra", code, f"AWS rejected the launch at {where} ({code}: {first}).")


def classify_client_error(exc: Exception, where: str) -> Verdict:
    """:func:`classify` for a botocore ``ClientError`` (read through its ``response``)."""
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error", {})
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return classify(str(error.get("Code", "")), str(error.get("Message", "")), status, where)
