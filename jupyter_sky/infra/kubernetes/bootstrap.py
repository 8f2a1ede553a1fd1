"""A pod image without ipykernel, cloudpickle or this notebook's jupyter_sky gets them over the
API server: nothing is installed cluster-side and no image is pushed.

The pod's command is :data:`BOOT` (standard library only). It describes its Python on
:data:`BOOT_PORT` — the same probe the SSH bootstrap runs, so both sides pick wheels alike —
and waits for this notebook, which connects through the API server's port-forward and sends
either nothing (the image has everything, this very jupyter_sky included) or a tar of wheels
made here (:mod:`jupyter_sky.transport.wheels`). The pod unpacks them into a fresh directory
of its own with the SSH bootstrap's unpacker (no pip: ~40 wheels through pip took ~20 s),
answers ``ok`` (or the unpacker's last line) and becomes the kernel.
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jupyter_sky.infra.base import LaunchError
from jupyter_sky.transport import wheels

if TYPE_CHECKING:
    from kubernetes.client import Configuration

    from jupyter_sky.infra.kubernetes.pod_forward import PodStream

BOOT_PORT = 50010

_BOOT = r"""
import contextlib, io, json, os, socket, struct, subprocess, sys, tarfile, tempfile
facts = io.StringIO()
with contextlib.redirect_stdout(facts):
    exec(PROBE, {"__name__": "probe"})

def recv(conn, size):
    data = b""
    while len(data) < size:
        chunk = conn.recv(min(size - len(data), 1 << 20))
        if not chunk:
            sys.exit("jupyter-sky bootstrap: the notebook went away")
        data += chunk
    return data

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", PORT))
srv.listen(1)
conn, _ = srv.accept()
conn.sendall(facts.getvalue().strip().splitlines()[-1].encode() + b"\n")
size = struct.unpack("!Q", recv(conn, 8))[0]
answer = "ok"
if size:
    here = tempfile.mkdtemp(prefix="jupyter-sky-")
    with tarfile.open(fileobj=io.BytesIO(recv(conn, size))) as tar:
        try:
            tar.extractall(here, filter="data")
        except TypeError:  # a Python from before extraction filters
            tar.extractall(here)
    site = os.path.join(here, "site")
    wheels = [os.path.join(here, n) for n in sorted(os.listdir(here))]
    res = subprocess.run([sys.executable, "-c", UNPACK, *wheels],
                         env=dict(os.environ, JUPYTER_SKY_SITE=site), capture_output=True, text=True)
    for wheel in wheels:  # unpacked: the pod's ephemeral storage keeps only what runs
        os.remove(wheel)
    if res.returncode:
        answer = "unpacking: " + ((res.stderr or res.stdout).strip().splitlines() or ["failed"])[-1]
    os.environ["PYTHONPATH"] = site + os.pathsep + os.environ.get("PYTHONPATH", "")
conn.sendall(answer.encode() + b"\n")
conn.close()
srv.close()
if answer != "ok":
    sys.exit(answer)
exec(START)
"""


def boot_source(start: str) -> str:
    """The pod's command: probe, wait for the notebook's wheels (or none), then ``start``."""
    from jupyter_sky.transport.bootstrap import UNPACK, probe_source

    head = f"PROBE = {probe_source()!r}\nUNPACK = {UNPACK!r}\nSTART = {start!r}\nPORT = {BOOT_PORT}\n"
    return head + _BOOT


def bootstrap(
    configuration: Configuration,
    pod: str,
    namespace: str,
    notify: Callable[[str], None],
    timeout: float,
) -> None:
    """Answer the pod's probe: nothing when its image has everything, else the wheels it lacks.

    Raises
    ------
    LaunchError
        When the pod does not answer within ``timeout`` s, or its unpacking fails.
    """
    t0 = time.monotonic()
    stream = _connect(configuration, pod, namespace, t0 + timeout)
    try:
        facts: dict[str, Any] = json.loads(_line(stream))
        payload, told = _payload(facts)
        stream.sendall(struct.pack("!Q", len(payload)) + payload)
        answer = _line(stream)
    finally:
        stream.close()
    if answer != "ok":
        raise LaunchError(f"pod {namespace}/{pod}: installing the kernel's packages failed ({answer})")
    if told:
        notify(f"k8s: {told} [{time.monotonic() - t0:.1f} s]")


def _payload(facts: dict[str, Any]) -> tuple[bytes, str]:
    """The tar of wheels the pod needs (b"" for none) and the line that says what was sent."""
    cache = wheels.cache_dir()
    sky, digest = wheels.sky_wheel(cache)
    if not facts["missing"] and facts["sky_digest"] == digest:
        return b"", ""
    target = wheels.target_from_probe(facts)
    pins, absent = wheels.pinned_closure(target.markers)
    if absent:
        raise LaunchError(f"no wheel of {', '.join(absent)} can be made here for the pod's Python "
                          f"{target.python}; use an image that has them.", "infra")  # fmt: skip
    files = [sky, *(wheels.wheel_for(n, v, target, cache) for n, v in sorted(pins.items()))]
    lacking = [name for name, path in zip(["jupyter_sky", *sorted(pins)], files, strict=False) if path is None]
    if lacking:
        raise LaunchError(f"no wheel of {', '.join(lacking)} fits the pod's Python {target.python} "
                          f"({target.abi}); use an image that has them.", "infra")  # fmt: skip
    data = _tar([p for p in files if p is not None])
    what = ", ".join(facts["missing"]) or "this notebook's jupyter_sky"
    return data, f"the image lacks {what}: sent {len(files)} wheels ({len(data) / 1e6:.1f} MB) to the pod"


def _tar(paths: list[Path]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path in paths:
            tar.add(str(path), arcname=path.name)
    return out.getvalue()


class _Stream(Protocol):
    def recv(self, size: int) -> bytes: ...

    def sendall(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def _connect(configuration: Configuration, pod: str, namespace: str, deadline: float) -> _Prefixed:
    """A port-forward stream to the pod's bootstrap port, once something listens there."""
    from jupyter_sky.infra.kubernetes.pod_forward import pod_opener

    opener = pod_opener(configuration, pod, namespace)
    while True:
        stream = None
        try:
            stream = opener(("127.0.0.1", BOOT_PORT), ("127.0.0.1", 0))
            stream.settimeout(10.0)
            first = stream.recv(1)  # the probe's first byte; nothing: not listening yet
            if first:
                stream.settimeout(None)
                return _Prefixed(stream, first)
        except Exception:  # noqa: BLE001 - the pod is still starting its bootstrap
            pass
        if stream is not None:
            stream.close()
        if time.monotonic() > deadline:
            raise LaunchError(f"pod {namespace}/{pod}: its bootstrap did not answer in time")
        time.sleep(0.2)


class _Prefixed:
    """A stream with bytes already read put back in front."""

    def __init__(self, stream: PodStream, head: bytes) -> None:
        self.stream, self.head = stream, head

    def recv(self, size: int) -> bytes:
        if self.head:
            data, self.head = self.head[:size], self.head[size:]
            return data
        return self.stream.recv(size)

    def sendall(self, data: bytes) -> None:
        self.stream.sendall(data)

    def close(self) -> None:
        self.stream.close()


def _line(stream: _Stream) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = stream.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()
