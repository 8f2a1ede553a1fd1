"""What an Azure Resource Manager error means for failover (azure-core exceptions, read by duck typing).

Codes from the ARM error body (``error.code`` and ``error.details[].code``), see
https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-sku-not-available and
https://learn.microsoft.com/troubleshoot/azure/virtual-machines/allocation-failure. A synchronous
409 arrives as ``ResourceExistsError`` whatever its code, so only the code is trusted, never the
exception type. Quota is ``OperationNotAllowed`` with a quota message (or ``QuotaExceeded``).
"""

from __future__ import annotations

from jupyter_sky.infra.verdict import Verdict, first_sentence

CAPACITY = frozenset({
    "AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest",
    "OverconstrainedZonalAllocationRequest", "SkuNotAvailable", "AllocationFailedSkuNotAvailable",
})  # fmt: skip
QUOTA = frozenset({"QuotaExceeded", "OperationNotAllowed"})
CREDENTIAL = frozenset({
    "InvalidAuthenticationToken", "InvalidAuthenticationTokenTenant", "ExpiredAuthenticationToken",
    "AuthenticationFailed", "AuthorizationFailed", "SubscriptionNotFound", "InvalidSubscriptionId",
    "ReadOnlyDisabledSubscription", "LinkedAuthorizationFailed", "MissingSubscriptionRegistration",
})  # fmt: skip
RETRY = frozenset({"TooManyRequests", "RetryableError", "InternalServerError", "ServerTimeout"})


def error_codes(exc: BaseException) -> list[str]:
    """``error.code`` then every ``error.details[].code`` of an ``HttpResponseError``."""
    error = getattr(exc, "error", None)
    if error is None:
        return []
    codes = [str(error.code)] if getattr(error, "code", None) else []
    for detail in getattr(error, "details", None) or []:
        if getattr(detail, "code", None):
            codes.append(str(detail.code))
    return codes


def classify(codes: list[str], message: str, status: int, where: str) -> Verdict:
    """The verdict for ARM error ``codes`` (HTTP ``status``) met while launching at ``where``."""
    code = codes[0] if codes else str(status or "unknown")
    said = first_sentence(message) if message else code
    capacity = next((c for c in codes if c in CAPACITY), None)
    if capacity:
        return Verdict("capacity", "region", capacity, f"no capacity at {where} ({capacity}).")
    if "QuotaExceeded" in codes or ("OperationNotAllowed" in codes and "quota" in message.lower()):
        return Verdict("quota", "region", code, f"quota reached at {where} ({said}).")
    if status == 401 or any(c in CREDENTIAL for c in codes):
        return Verdict("credential", "infra", code, f"Azure refused the credentials or permissions ({said}).")
    if status == 429 or status >= 500 or any(c in RETRY for c in codes):
        return Verdict("retry", "region", code, f"Azure kept failing at {where} ({said}).")
    whole = message.strip().rstrip(".") or code
    return Verdict("fatal", "infra", code, f"Azure rejected the launch at {where}: {whole}.")


def classify_exception(exc: BaseException, where: str) -> Verdict:
    """:func:`classify` for an azure-core exception; an identity failure (no HTTP status) is a credential one."""
    no_response = getattr(exc, "status_code", None) is None
    if no_response and type(exc).__name__ in ("ClientAuthenticationError", "CredentialUnavailableError"):
        return Verdict("credential", "infra", type(exc).__name__, f"Azure sign-in failed ({first_sentence(str(exc))}).")
    error = getattr(exc, "error", None)
    message = str(getattr(error, "message", "") or getattr(exc, "message", "") or "")
    status = getattr(exc, "status_code", None)
    return classify(error_codes(exc), message, status if isinstance(status, int) else 0, where)
