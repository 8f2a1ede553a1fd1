"""The first program of a jupyter-sky pod; it runs as ``python3 -c <source>``.

It needs nothing but the image's Python (3.8+, standard library only).  It listens on
``127.0.0.1:$JUPYTER_SKY_BOOT_PORT`` inside the pod, reached only through the API server's
port-forward.  One request per connection: a JSON line (bytes may follow), answered with one
JSON line.

- ``{"op": "probe"}``: the facts :func:`jupyter_sky.transport.wheels.target_from_probe`
  needs, the modules the kernel needs that are missing, and the digest of the jupyter_sky
  tree found here;
- ``{"op": "wheels", "names": [...], "sizes": [...]}`` + the wheels' bytes: unpacked into
  ``$HOME/.jupyter_sky/site`` (the pod's own disk; nothing is installed cluster-side);
- ``{"op": "start", "key": ..., "args": [...], "env": {...}}``: start the kernel on the
  pod's fixed ports (``$JUPYTER_SKY_KERNEL_PORTS``) on 127.0.0.1 and answer once it listens;
- ``{"op": "signal", "signal": 2}``: signal the kernel (interrupt);
- ``{"op": "status"}``: is the kernel alive, and why it ended.

When the kernel ends this program ends with its exit code, so the pod ends (restart
policy Never) and frees what it holds: that is how autostop and the idle watchdog end a
pod.  If no kernel is started within ``$JUPYTER_SKY_BOOT_TIMEOUT`` seconds (the notebook
died mid-launch), it exits 1 too.
"""

import importlib.util
import json
import os
import platform
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

NEEDED = ("ipykernel", "cloudpickle", "xxhash", "jupyter_sky")
HOME = Path(os.environ.get("HOME") or "/tmp")
SITE = HOME / ".jupyter_sky" / "site"
STATE = HOME / ".jupyter_sky" / "kernel"
PORTS = [int(p) for p in os.environ["JUPYTER_SKY_KERNEL_PORTS"].split(",")]
NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
KERNEL = {}  # "process": the kernel's Popen once started
STARTED = threading.Event()


def _fmt(info):
    text = "%d.%d.%d" % (info.major, info.minor, info.micro)
    return text if info.releaselevel == "final" else text + info.releaselevel[0] + str(info.serial)


def probe():
    markers = {
        "implementation_name": sys.implementation.name,
        "implementation_version": _fmt(sys.implementation.version),
        "os_name": os.name, "platform_machine": platform.machine(),
        "platform_release": platform.release(), "platform_system": platform.system(),
        "platform_version": platform.version(), "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }
    abi = "cp%d%d" % sys.version_info[:2]
    libc = os.confstr("CS_GNU_LIBC_VERSION") if "CS_GNU_LIBC_VERSION" in os.confstr_names else ""
    importlib.invalidate_caches()
    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    digest = ""
    if "jupyter_sky" not in missing:
        digest = package_digest(Path(importlib.util.find_spec("jupyter_sky").origin).parent)
    return {"markers": markers, "abi": abi, "glibc": (libc or "").split(" ")[-1], "mac": "",
            "executable": sys.executable, "missing": missing, "sky_digest": digest}


def unpack(stream, names, sizes):
    """Unpack wheels read from ``stream`` into SITE (their ``.data/*lib`` dirs at the top)."""
    SITE.mkdir(parents=True, exist_ok=True)
    for name, size in zip(names, sizes):
        part = SITE.parent / (os.path.basename(name) + ".part")
        with open(part, "wb") as out:
            left = size
            while left:
                chunk = stream.read(min(left, 1 << 20))
                if not chunk:
                    raise EOFError("the wheel %s was cut short" % name)
                out.write(chunk)
                left -= len(chunk)
        with zipfile.ZipFile(part) as wheel:
            for item in wheel.infolist():
                parts = item.filename.split("/")
                if len(parts) > 2 and parts[0].endswith(".data"):
                    if parts[1] not in ("purelib", "platlib"):
                        continue  # scripts, headers, data: the kernel needs none
                    item.filename = "/".join(parts[2:])
                wheel.extract(item, SITE)
        part.unlink()


def start(key, args, env):
    STATE.mkdir(parents=True, exist_ok=True)
    conn = STATE / "connection.json"
    info = dict(zip(NAMES, PORTS))
    info.update(ip="127.0.0.1", key=key, transport="tcp", signature_scheme="hmac-sha256", kernel_name="")
    conn.write_text(json.dumps(info))
    full = dict(os.environ)
    full.update(env)
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(SITE), full.get("PYTHONPATH", "")) if p)
    full["JUPYTER_SKY_EXIT_FILE"] = str(STATE / "exit.txt")
    log = open(STATE / "kernel.log", "ab")
    cmd = [sys.executable, "-m", "jupyter_sky.remote.kernel", "-f", str(conn)] + list(args)
    KERNEL["process"] = subprocess.Popen(cmd, env=full, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    STARTED.set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if KERNEL["process"].poll() is not None:
            tail = (STATE / "kernel.log").read_text(errors="replace").splitlines()[-5:]
            return {"ok": False, "error": "the kernel exited while starting: " + " | ".join(tail)}
        if all(_listening(port) for port in PORTS):
            return {"ok": True, "pid": KERNEL["process"].pid}
        time.sleep(0.02)
    return {"ok": False, "error": "the kernel did not listen within 120 s"}


def _listening(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def status():
    process = KERNEL.get("process")
    reason = ""
    if (STATE / "exit.txt").exists():
        reason = (STATE / "exit.txt").read_text(errors="replace").strip()
    return {"alive": process is not None and process.poll() is None, "exit": reason}


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        request = json.loads(self.rfile.readline())
        op = request.get("op")
        try:
            if op == "probe":
                reply = probe()
            elif op == "wheels":
                unpack(self.rfile, request["names"], request["sizes"])
                reply = {"ok": True}
            elif op == "start":
                reply = start(request["key"], request.get("args", []), request.get("env", {}))
            elif op == "signal":
                process = KERNEL.get("process")
                if process is not None and process.poll() is None:
                    process.send_signal(int(request["signal"]))
                reply = {"ok": True}
            elif op == "status":
                reply = status()
            else:
                reply = {"ok": False, "error": "unknown op %r" % op}
        except Exception as err:  # one sentence back to the notebook, the pod goes on
            reply = {"ok": False, "error": "%s: %s" % (type(err).__name__, err)}
        self.wfile.write(json.dumps(reply).encode() + b"\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    sys.path.insert(0, str(SITE))
    server = Server(("127.0.0.1", int(os.environ["JUPYTER_SKY_BOOT_PORT"])), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: _end(143))
    if not STARTED.wait(float(os.environ.get("JUPYTER_SKY_BOOT_TIMEOUT", "600"))):
        _end(1)
    _end(KERNEL["process"].wait())


def _end(code):
    process = KERNEL.get("process")
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
    os._exit(code)


if __name__ == "__main__":
    main()
