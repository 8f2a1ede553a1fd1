"""The plumbing shared by the simulated cloud APIs: a threaded HTTP(S) server and fault rules.

A fake is a list of routes (method, path regex, handler) served on 127.0.0.1 at a free port,
plus a :class:`FaultBook` reachable over HTTP at ``/_fault/rules`` (the same shape as the AWS
lab's fault layer)::

    POST   /_fault/rules   {"action": "instances.insert", "code": "ZONE_RESOURCE_POOL_EXHAUSTED",
                            "match": {"zone": "us-central1-a"}, "times": 1}
    GET    /_fault/rules   -> the rules still armed
    DELETE /_fault/rules   -> drop them all

``action`` names the route (``*`` matches any), ``match`` must agree with the facts the route
reports (zone, region, name, ...), ``times`` is how often the rule fires (absent: always).
Each fake turns a fired rule's ``code`` into the error payload its real API would send.
Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

Json = dict[str, Any]


@dataclass(frozen=True)
class Request:
    """One HTTP request as a route sees it (path unquoted, query flattened to its last values)."""

    method: str
    path: str
    query: dict[str, str]
    body: Json | None
    headers: Mapping[str, str]
    base_url: str


@dataclass
class Response:
    """What a route answers: a status, a JSON body (or none) and extra headers."""

    status: int = 200
    body: Json | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[..., Response]


@dataclass
class FaultRule:
    """One armed fault: which route, which facts, which error code, how many more times."""

    action: str
    code: str
    match: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    message: str | None = None

    def applies(self, action: str, facts: Mapping[str, str]) -> bool:
        """Return True if this rule fires for ``action`` with these request facts."""
        if self.action not in ("*", action):
            return False
        return all(facts.get(key, "").lower() == str(want).lower() for key, want in self.match.items())


class FaultBook:
    """The armed fault rules of one fake; thread-safe, first matching rule wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(self, action: str, facts: Mapping[str, str]) -> FaultRule | None:
        """Return the first rule that fires here (using up one of its ``times``), or None."""
        with self._lock:
            for rule in self._rules:
                if rule.applies(action, facts):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
        return None


def rule_from_json(body: Json) -> FaultRule:
    """Build a :class:`FaultRule` from the JSON posted to ``/_fault/rules``."""
    times = body.get("times")
    return FaultRule(
        action=str(body["action"]),
        code=str(body["code"]),
        match={str(k): str(v) for k, v in dict(body.get("match") or {}).items()},
        times=int(times) if times is not None else None,
        message=body.get("message"),
    )


class FakeServer:
    """Serve ``routes`` on 127.0.0.1 (free port) in a daemon thread; HTTPS if given a context."""

    def __init__(self, routes: list[tuple[str, str, Handler]], tls: ssl.SSLContext | None = None):
        self.faults = FaultBook()
        self._routes = [(m, re.compile(p + r"/?$", re.IGNORECASE), h) for m, p, h in routes]
        self._tls = tls
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[tuple[str, str]] = []
        self._extra: list[ThreadingHTTPServer] = []

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake is not started"
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    def start(self) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        server.daemon_threads = True
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-cloud", daemon=True)
        self._thread.start()
        return self.url

    def also_listen(self, host: str) -> str:
        """Serve the same routes on ``host`` too (the lab bridge's gateway, which the simulated
        VMs reach; 127.0.0.1 inside a VM's namespace is the VM itself); its URL."""
        server = ThreadingHTTPServer((host, 0), _handler_class(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="fake-cloud-lab", daemon=True).start()
        self._extra.append(server)
        return f"http://{host}:{server.server_address[1]}"

    def stop(self) -> None:
        for extra in self._extra:
            extra.shutdown()
            extra.server_close()
        self._extra.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def dispatch(self, req: Request) -> Response:
        """Answer one request: the fault-rule endpoint, else the first route whose path matches."""
        if req.path.rstrip("/") == "/_fault/rules":
            return self._fault_endpoint(req)
        self.requests.append((req.method, req.path))
        for method, pattern, handler in self._routes:
            found = pattern.match(req.path)
            if found and method == req.method:
                return handler(req, **found.groupdict())
        return self.not_found(req)

    def not_found(self, req: Request) -> Response:
        return Response(404, {"error": {"code": 404, "message": f"no route {req.method} {req.path}"}})

    def _fault_endpoint(self, req: Request) -> Response:
        if req.method == "POST":
            self.faults.add(rule_from_json(req.body or {}))
        elif req.method == "DELETE":
            self.faults.clear()
        rules = [vars(rule) for rule in self.faults.rules()]
        return Response(200, {"rules": rules})


def _handler_class(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # http.server writes headers and body separately: without this each keep-alive
        # request waits ~40 ms on Nagle plus delayed ACK.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            host = self.headers.get("Host") or "127.0.0.1"
            scheme = "https" if fake._tls else "http"
            req = Request(
                method=self.command,
                path=unquote(parts.path),
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                body=_body(raw),
                headers={k.lower(): v for k, v in self.headers.items()},
                base_url=f"{scheme}://{host}",
            )
            try:
                resp = fake.dispatch(req)
            except Exception as exc:  # a fake bug must show as a 500, not a hung client
                resp = Response(500, {"error": {"code": 500, "message": f"fake error: {exc!r}"}})
            payload = json.dumps(resp.body).encode() if resp.body is not None else b""
            self.send_response(resp.status)
            if resp.body is not None:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            for key, value in resp.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    return _Handler


@dataclass(frozen=True)
class RunningInstance:
    """A running simulated VM as the VM booter needs it to become a real SSH host.

    ``ssh_address`` is the address the project's infra connects to (the public IP), and
    ``private_ip`` the address inside the simulated network; the booter may give the host both.
    """

    id: str
    name: str
    location: str
    private_ip: str
    public_ip: str
    ssh_user: str
    authorized_keys: tuple[str, ...]
    labels: Mapping[str, str]

    @property
    def ssh_address(self) -> str:
        return self.public_ip

    def vm_spec(self, spec_type: Callable[..., object]) -> object:
        """This VM as the booter's ``VmSpec`` (tests/labs/vmboot.py), booted at ``ssh_address``."""
        return spec_type(vm_id=self.id, ip=self.ssh_address, ssh_user=self.ssh_user,
                         authorized_keys=self.authorized_keys, hostname=self.name)


class AddressPool:
    """Hand out host addresses from one network, in order, reusing released ones."""

    def __init__(self, cidr: str) -> None:
        import ipaddress

        self._hosts = ipaddress.ip_network(cidr).hosts()
        for _ in range(9):  # .1-.9 stay free for the booter's bridges and gateways
            next(self._hosts)
        self._free: list[str] = []
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            if self._free:
                return self._free.pop(0)
            return str(next(self._hosts))

    def give_back(self, address: str) -> None:
        with self._lock:
            if address and address not in self._free:
                self._free.append(address)


def _body(raw: bytes) -> Json | None:
    """A JSON body; an OAuth token request's form body as a dict of its fields."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)  # type: ignore[no-any-return]
    except ValueError:
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
