"""What a Compute Engine error means for failover (google-cloud-compute exceptions, read by duck typing).

Codes come from two shapes (see the GCE error reference,
https://cloud.google.com/compute/docs/troubleshooting/troubleshooting-resource-availability and
https://cloud.google.com/compute/docs/reference/rest/v1/zoneOperations): a failed operation's
``error.errors[].code`` (``ZONE_RESOURCE_POOL_EXHAUSTED``, ``QUOTA_EXCEEDED``), and a synchronous
HTTP error's ``errors[].reason`` (``quotaExceeded``, ``forbidden``, ``rateLimitExceeded``).
No SDK import: the exception's ``code``, ``errors``, ``reason`` and ``message`` are read as data.
"""

from __future__ import annotations

from collections.abc import Iterable

from jupyter_sky.infra.verdict import Verdict, first_sentence

CAPACITY = frozenset({
    "ZONE_RESOURCE_POOL_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", "resourcePoolExhausted",
    "STOCKOUT",
})  # fmt: skip
QUOTA = frozenset({"QUOTA_EXCEEDED", "quotaExceeded", "limitExceeded"})
CREDENTIAL = frozenset({
    "forbidden", "authError", "IAM_PERMISSION_DENIED", "PERMISSION_DENIED", "accessNotConfigured",
    "SERVICE_DISABLED", "UNAUTHENTICATED", "ACCESS_TOKEN_TYPE_UNSUPPORTED",
})  # fmt: skip
RETRY = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED", "backendError"})
NO_RESOURCES = "does not have enough resources"


def error_codes(exc: BaseException) -> list[str]:
    """Every code the exception carries: operation ``Errors.code``, HTTP ``errors[].reason``, ErrorInfo."""
    codes: list[str] = []
    for item in getattr(exc, "errors", None) or []:
        code = item.get("reason") if isinstance(item, dict) else getattr(item, "code", None)
        if code:
            codes.append(str(code))
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        codes.append(reason)
    return codes


def error_message(exc: BaseException) -> str:
    """The exception's message, or (a failed operation's generic "SERVICE UNAVAILABLE") its first error's."""
    for item in getattr(exc, "errors", None) or []:
        text = item.get("message", "") if isinstance(item, dict) else getattr(item, "message", "")
        if text:
            return str(text)
    return str(getattr(exc, "message", "") or "")


def classify(codes: Iterable[str], message: str, status: int, where: str) -> Verdict:
    """The verdict for GCE error ``codes`` (HTTP ``status``) met while launching at ``where``."""
    codes = list(codes)
    code = codes[0] if codes else str(status or "unknown")
    said = first_sentence(message.split(": ", 1)[-1]) if message else code
    if any(c in CAPACITY for c in codes) or NO_RESOURCES in message:
        hit = next((c for c in codes if c in CAPACITY), code)
        return Verdict("capacity", "zone", hit, f"no capacity at {where} ({hit}).")
    if any(c in QUOTA for c in codes):
        if "GPUS_ALL_REGIONS" in message:
            return Verdict("quota", "infra", code, f"the project's GPU quota for all regions is used up ({said}).")
        return Verdict("quota", "region", code, f"quota reached at {where} ({said}).")
    if status == 401 or any(c in CREDENTIAL for c in codes):
        return Verdict("credential", "infra", code, f"Google Cloud refused the credentials or permissions ({said}).")
    if status == 429 or any(c in RETRY for c in codes) or status >= 500:
        return Verdict("retry", "zone", code, f"Google Cloud kept failing at {where} ({said}).")
    whole = message.split(": ", 1)[-1].strip().rstrip(".") or code
    return Verdict("fatal", "infra", code, f"Google Cloud rejected the launch at {where}: {whole}.")


def classify_exception(exc: BaseException, where: str) -> Verdict:
    """:func:`classify` for a ``google.api_core`` exception (from a call or ``op.result()``)."""
    status = getattr(exc, "code", 0)
    return classify(error_codes(exc), error_message(exc), status if isinstance(status, int) else 0, where)
