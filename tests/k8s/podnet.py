"""Pod networking for the Kubernetes test engine: one network namespace per pod.

Every packet stays on this machine.  The whole pod range ``10.213.16.0/20`` is routed
``unreachable``; only ``10.213.16.0/23`` goes to the engine's own bridge ``skyk8sbr0``
(address ``10.213.16.1``).  Pods get addresses from ``10.213.17.1`` up, each in its
own namespace ``skyk8s-p<N>`` joined to the bridge by a veth pair ``skyk8sv<N>``.
"""

from __future__ import annotations

import ipaddress
import subprocess
import threading
from dataclasses import dataclass

BRIDGE = "skyk8sbr0"
POD_RANGE = "10.213.16.0/20"
BRIDGE_NET = ipaddress.ip_network("10.213.16.0/23")
BRIDGE_IP = "10.213.16.1"
FIRST_POD_IP = ipaddress.ip_address("10.213.17.1")
LAST_POD_IP = ipaddress.ip_address("10.213.17.254")


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """Run one ``ip`` command (inside ``netns`` when given) and return its output."""
    cmd = ["ip", "-n", netns, *args] if netns else ["ip", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()}")
    return done.stdout


def netns_path(name: str) -> str:
    return f"/run/netns/{name}"


@dataclass(frozen=True)
class PodNet:
    """One pod's namespace and address."""

    netns: str
    veth: str
    address: str


class PodNetwork:
    """The bridge, the routes and the per-pod namespaces; all removed by :meth:`close`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._used: set[str] = set()
        self._pods: dict[str, PodNet] = {}

    def open(self) -> None:
        self.close()  # leftovers of a run that was killed
        ip("link", "add", BRIDGE, "type", "bridge")
        ip("addr", "add", f"{BRIDGE_IP}/{BRIDGE_NET.prefixlen}", "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")
        ip("route", "add", "unreachable", POD_RANGE)
        route = ip("route", "get", str(FIRST_POD_IP))
        if f"dev {BRIDGE}" not in route:
            raise RuntimeError(f"pod addresses do not route to {BRIDGE}: {route.strip()}")

    def close(self) -> None:
        for key in list(self._pods):
            self.remove(key)
        for line in ip("netns", "list").splitlines():
            name = line.split()[0] if line.strip() else ""
            if name.startswith("skyk8s-p"):
                ip("netns", "del", name, check=False)
        ip("route", "del", "unreachable", POD_RANGE, check=False)
        ip("link", "del", BRIDGE, check=False)

    def _address(self) -> str:
        candidate = FIRST_POD_IP
        while str(candidate) in self._used:
            candidate += 1
            if candidate > LAST_POD_IP:
                raise RuntimeError("the engine's pod address range is exhausted")
        self._used.add(str(candidate))
        return str(candidate)

    def add(self, key: str) -> PodNet:
        """Make a namespace for the pod ``key`` (its uid) with an address on the bridge."""
        with self._lock:
            self._next += 1
            number = self._next
            address = self._address()
        pod = PodNet(f"skyk8s-p{number}", f"skyk8sv{number}", address)
        ip("netns", "add", pod.netns)
        ip("link", "add", pod.veth, "type", "veth", "peer", "name", "eth0", "netns", pod.netns)
        ip("link", "set", pod.veth, "master", BRIDGE, "up")
        ip("addr", "add", f"{address}/{BRIDGE_NET.prefixlen}", "dev", "eth0", netns=pod.netns)
        ip("link", "set", "lo", "up", netns=pod.netns)
        ip("link", "set", "eth0", "up", netns=pod.netns)
        ip("route", "add", "default", "via", BRIDGE_IP, netns=pod.netns)
        with self._lock:
            self._pods[key] = pod
        return pod

    def remove(self, key: str) -> None:
        with self._lock:
            pod = self._pods.pop(key, None)
        if pod is None:
            return
        ip("netns", "del", pod.netns, check=False)  # takes the veth pair with it
        with self._lock:
            self._used.discard(pod.address)
