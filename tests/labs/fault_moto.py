"""A fault-injection layer in front of moto's EC2 server (one WSGI app, same process).

Rules are set over HTTP and answered the way EC2 answers: the query-protocol XML error body
with the real error code and HTTP status, so botocore raises ``ClientError`` exactly as it
does against AWS (and retries 5xx and throttling the way it does there).

``POST /_fault/rules`` appends rules (a JSON object or list), ``DELETE /_fault/rules`` clears
rules and hits, ``GET /_fault/rules`` lists them, ``GET /_fault/hits`` lists the calls that were
failed.  A rule::

    {"action": "RunInstances",            # EC2 Action (omit: any POST)
     "region": "us-east-1",               # from the request's SigV4 credential scope (omit: any)
     "zone": "us-east-1a",                # Placement.AvailabilityZone or the SubnetId's zone
     "match": {"InstanceType": "g5.xlarge"},   # exact query parameters
     "kind": "capacity",                  # capacity|unsupported|quota|spot_quota|throttle|
                                          # auth|unauthorized|expired|internal (sets code+status)
     "code": "...", "status": 500, "message": "...",   # or set them yourself
     "times": 2}                          # fail only the first N matching calls
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import TypedDict, cast
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

WsgiApp = Callable[[dict[str, object], Callable[..., object]], Iterable[bytes]]
ZoneOfSubnet = Callable[[str, str], str | None]

# kind -> (code, HTTP status, message template); the templates are AWS's own wording.
KINDS: dict[str, tuple[str, int, str]] = {
    "capacity": ("InsufficientInstanceCapacity", 500,
                 "We currently do not have sufficient {type} capacity in the Availability Zone "
                 "you requested ({zone}). Our system will be working on provisioning additional "
                 "capacity. You can currently get {type} capacity by not specifying an "
                 "Availability Zone in your request or choosing a different one."),
    "unsupported": ("Unsupported", 400,
                    "Your requested instance type ({type}) is not supported in your requested "
                    "Availability Zone ({zone}). Please retry your request by not specifying an "
                    "Availability Zone or choosing a different one."),
    "quota": ("VcpuLimitExceeded", 400,
              "You have requested more vCPU capacity than your current vCPU limit of 0 allows "
              "for the instance bucket that the specified instance type belongs to. Please visit "
              "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."),
    "spot_quota": ("MaxSpotInstanceCountExceeded", 400,
                   "Max spot instance count exceeded"),
    "throttle": ("RequestLimitExceeded", 503, "Request limit exceeded."),
    "auth": ("AuthFailure", 401,
             "AWS was not able to validate the provided access credentials"),
    "unauthorized": ("UnauthorizedOperation", 403,
                     "You are not authorized to perform this operation."),
    "expired": ("RequestExpired", 400,
                "Request has expired. The security token included in the request is expired"),
    "internal": ("InternalError", 500,
                 "An internal error has occurred"),
}  # fmt: skip

REGION_RE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error",
               503: "Service Unavailable"}  # fmt: skip


class Rule(TypedDict, total=False):
    action: str
    region: str
    zone: str
    match: dict[str, str]
    kind: str
    code: str
    status: int
    message: str
    times: int


class FaultInjector:
    """WSGI middleware: fail matching EC2 calls, pass everything else to ``app`` untouched."""

    def __init__(self, app: WsgiApp, zone_of_subnet: ZoneOfSubnet) -> None:
        self.app = app
        self.zone_of_subnet = zone_of_subnet
        self.rules: list[Rule] = []
        self.hits: list[dict[str, object]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, object], start: Callable[..., object]) -> Iterable[bytes]:
        path, method = str(environ.get("PATH_INFO", "")), str(environ["REQUEST_METHOD"])
        if path == "/_fault/rules":
            return self._rules(environ, method, start)
        if path == "/_fault/hits":
            with self.lock:
                return _json(start, self.hits)
        if method == "POST" and self.rules:
            failed = self._maybe_fail(environ, start)
            if failed is not None:
                return failed
        return self.app(environ, start)

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.hits.clear()

    def _rules(self, environ: dict[str, object], method: str, start: Callable[..., object]) -> list[bytes]:
        with self.lock:
            if method == "DELETE":
                self.rules.clear()
                self.hits.clear()
            elif method == "POST":
                new = json.loads(_body(environ) or b"[]")
                self.rules.extend(new if isinstance(new, list) else [new])
            return _json(start, self.rules)

    def _maybe_fail(self, environ: dict[str, object], start: Callable[..., object]) -> list[bytes] | None:
        raw = _body(environ)
        environ["wsgi.input"] = io.BytesIO(raw)  # moto reads the body again
        params = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        region = _region(environ)
        zone = self._zone(params, region)
        with self.lock:
            for i, rule in enumerate(self.rules):
                if not _matches(rule, params, region, zone):
                    continue
                if rule.get("times") is not None:
                    if rule["times"] <= 0:
                        continue
                    rule["times"] -= 1
                self.hits.append({"rule": i, "region": region, "zone": zone, "params": params})
                code, status, message = _error_of(rule, params, zone)
                return _ec2_error(start, code, message, status)
        return None

    def _zone(self, params: dict[str, str], region: str) -> str:
        zone = params.get("Placement.AvailabilityZone", "")
        subnet = params.get("SubnetId") or params.get("NetworkInterface.1.SubnetId")
        if not zone and subnet:
            zone = self.zone_of_subnet(region, subnet) or ""
        return zone


def _matches(rule: Rule, params: dict[str, str], region: str, zone: str) -> bool:
    if rule.get("action") not in (None, params.get("Action")):
        return False
    if rule.get("region") not in (None, region) or rule.get("zone") not in (None, zone):
        return False
    return all(params.get(k) == v for k, v in rule.get("match", {}).items())


def _error_of(rule: Rule, params: dict[str, str], zone: str) -> tuple[str, int, str]:
    code, status, template = KINDS.get(rule.get("kind", "capacity"), KINDS["capacity"])
    code = rule.get("code", code)
    status = rule.get("status", status)
    message = rule.get("message") or template
    return code, status, message.format(type=params.get("InstanceType", "?"), zone=zone or "?")


def _region(environ: dict[str, object]) -> str:
    found = REGION_RE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    return found.group(1) if found else "us-east-1"


def _body(environ: dict[str, object]) -> bytes:
    stream = cast(io.BufferedIOBase, environ["wsgi.input"])
    return stream.read(int(str(environ.get("CONTENT_LENGTH") or 0)))


def _ec2_error(start: Callable[..., object], code: str, message: str, status: int) -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"</Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
    ).encode()
    start(f"{status} {STATUS_TEXT.get(status, 'Error')}",
          [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])  # fmt: skip
    return [body]


def _json(start: Callable[..., object], obj: object) -> list[bytes]:
    body = json.dumps(obj).encode()
    start("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
