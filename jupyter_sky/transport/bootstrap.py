"""A Python on the host that can run the jupyter-sky kernel, pinned to the notebook's versions.

One probe (one round trip) tells what the host's interpreter is and whether the venv
``~/.jupyter_sky/remote/<python-version>/`` is ready for exactly this notebook's package
versions and jupyter_sky tree. Only when it is not are wheels made here (see
:mod:`~jupyter_sky.transport.wheels`), sent over SFTP and installed with ``--no-index``;
a package that has no wheel here is fetched by the host's pip from its index as a fallback.
"""

from __future__ import annotations

import inspect
import json
import shlex
import time
from pathlib import Path
from typing import Any

from jupyter_sky.errors import InfraError
from jupyter_sky.transport import wheels
from jupyter_sky.transport.hosts import HostSpec
from jupyter_sky.transport.ssh import Notify, SshConnection

# What the kernel imports on the host (distribution names differ: pyzmq is zmq, ...).
NEEDED = ("ipykernel", "cloudpickle", "xxhash", "jupyter_sky")
REMOTE_DIR = ".jupyter_sky/remote"  # under the login user's home

PROBE = r"""
import importlib.util, json, os, platform, sys

def fmt(info):
    v = f"{info.major}.{info.minor}.{info.micro}"
    return v if info.releaselevel == "final" else v + info.releaselevel[0] + str(info.serial)

markers = {
    "implementation_name": sys.implementation.name,
    "implementation_version": fmt(sys.implementation.version),
    "os_name": os.name, "platform_machine": platform.machine(),
    "platform_release": platform.release(), "platform_system": platform.system(),
    "platform_version": platform.version(), "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
abi = "cp" + "".join(map(str, sys.version_info[:2])) + ("d" if hasattr(sys, "gettotalrefcount") else "")
libc = os.confstr("CS_GNU_LIBC_VERSION") if "CS_GNU_LIBC_VERSION" in getattr(os, "confstr_names", {}) else ""
venv = Path.home() / REMOTE_DIR / platform.python_version()
missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
digest = ""
if "jupyter_sky" not in missing:
    digest = package_digest(Path(importlib.util.find_spec("jupyter_sky").origin).parent)
try:
    ready = json.loads((venv / "ready.json").read_text())
except (OSError, ValueError):
    ready = {}
print(json.dumps({
    "markers": markers, "abi": abi, "glibc": (libc or "").split(" ")[-1],
    "mac": platform.mac_ver()[0], "executable": sys.executable, "venv": str(venv),
    "venv_ok": os.access(venv / "bin" / "python", os.X_OK), "ready": ready,
    "missing": missing, "sky_digest": digest,
    "ensurepip": importlib.util.find_spec("ensurepip") is not None,
}))
"""


# Installs wheels into the venv the way pip would for the kernel's needs, without pip (~40 wheels
# through pip took ~20 s on a fresh VM): a wheel is a zip of site-packages; what an earlier
# version of the distribution installed (its RECORD) is removed first; of ``.data/`` only
# purelib/platlib are kept (scripts and data files are not needed to run the kernel).
UNPACK = r"""
import os, re, shutil, sys, sysconfig, zipfile
site = os.path.realpath(os.environ.get("JUPYTER_SKY_SITE") or sysconfig.get_paths()["purelib"])
os.makedirs(site, exist_ok=True)

def norm(name):
    return re.sub(r"[-_.]+", "_", name).lower()

def remove_old(dist):
    for entry in os.listdir(site):
        if not (entry.endswith(".dist-info") and norm(entry.rsplit("-", 1)[0]) == dist):
            continue
        try:
            with open(os.path.join(site, entry, "RECORD")) as fh:
                listed = [line.split(",")[0] for line in fh.read().splitlines()]
        except OSError:
            listed = []
        for rel in listed:
            path = os.path.normpath(os.path.join(site, rel))
            if path.startswith(site + os.sep) and os.path.isfile(path):
                os.remove(path)
        shutil.rmtree(os.path.join(site, entry), ignore_errors=True)

def unpack(wheel):
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if len(parts) > 2 and parts[0].endswith(".data"):
                if parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            target = os.path.normpath(os.path.join(site, *parts))
            if not target.startswith(site + os.sep):
                continue
            if info.filename.endswith("/"):
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)

for wheel in sys.argv[1:]:
    remove_old(norm(os.path.basename(wheel).split("-")[0]))
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as pool:  # inflating and writing release the GIL
    list(pool.map(unpack, sys.argv[1:]))
"""


def probe_source() -> str:
    """The probe's Python source: standard library only (the SSH and pod bootstraps run it)."""
    head = "import hashlib\nfrom pathlib import Path\n"
    head += f"NEEDED = {NEEDED!r}\nREMOTE_DIR = {REMOTE_DIR!r}\n"
    # The digest code is shared, not copied, so both sides always agree.
    return head + inspect.getsource(wheels.package_digest) + PROBE


def probe(conn: SshConnection, spec: HostSpec) -> dict[str, Any]:
    """Facts about the host's Python (one round trip), see :data:`PROBE`."""
    res = conn.run(f"{shlex.quote(spec.python)} -", stdin=probe_source().encode(), timeout=60)
    if res.rc == 127 or "not found" in res.err and res.rc != 0:
        raise InfraError(
            f"The Python '{spec.python}' configured for SSH host '{spec.name}' is not there; "
            f"set python: for the host in the ssh: config section."
        )
    try:
        return json.loads(res.out.strip().splitlines()[-1])  # type: ignore[no-any-return]
    except (ValueError, IndexError):
        raise InfraError(
            f"The Python '{spec.python}' on SSH host '{spec.name}' could not describe itself "
            f"({res.last_line()}); jupyter-sky needs Python 3.10 or newer there."
        ) from None


_closures: dict[str, tuple[dict[str, str], list[str]]] = {}


def ensure_python(conn: SshConnection, spec: HostSpec, notify: Notify = print) -> str:
    """The interpreter on the host that runs the kernel, bootstrapped if needed.

    Parameters
    ----------
    conn : SshConnection
        The host's connection.
    spec : HostSpec
        Its ``python`` and ``bootstrap`` settings.
    notify : callable
        Receives progress lines while a venv is built.

    Returns
    -------
    str
        ``spec.python`` when it has every package (and this jupyter_sky), else the venv's.

    Raises
    ------
    InfraError
        Naming what is missing, when it cannot be installed (or bootstrap is off).
    """
    facts = probe(conn, spec)
    sky_path, digest = wheels.sky_wheel(wheels.cache_dir())
    if not facts["missing"] and facts["sky_digest"] == digest:
        return spec.python
    if not spec.bootstrap:  # the user's interpreter as is, or nothing
        what = _names(facts["missing"] or ["this notebook's version of jupyter_sky"])
        raise InfraError(
            f"The Python '{spec.python}' on SSH host '{spec.name}' lacks {what}, and bootstrap "
            f"is off for this host; install them there or set bootstrap: true."
        )
    venv_python = f"{facts['venv']}/bin/python"
    target = wheels.target_from_probe(facts)
    key = json.dumps(target.markers, sort_keys=True)
    if key not in _closures:
        _closures[key] = wheels.pinned_closure(target.markers)
    pins, absent = _closures[key]
    ready = facts["ready"] if facts["venv_ok"] else {}
    if ready.get("pins") == pins and ready.get("jupyter_sky") == digest:
        return venv_python
    todo = {n: v for n, v in pins.items() if ready.get("pins", {}).get(n) != v}
    Installer(conn, spec, facts, notify).run(target, todo, absent, sky_path)
    _write_ready(conn, facts["venv"], pins, digest)
    return venv_python


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _write_ready(conn: SshConnection, venv: str, pins: dict[str, str], digest: str) -> None:
    with conn.lock:
        sftp = conn.sftp()
        with sftp.open(f"{venv}/ready.json", "w") as fh:
            fh.write(json.dumps({"pins": pins, "jupyter_sky": digest}, indent=1))


class Installer:
    """Build or update the venv: wheels from here over SFTP, pip on the host."""

    def __init__(
        self, conn: SshConnection, spec: HostSpec, facts: dict[str, Any], notify: Notify
    ) -> None:
        self.conn, self.spec, self.facts, self.notify = conn, spec, facts, notify
        self.root = f"{conn.home()}/{REMOTE_DIR}"
        self.venv = facts["venv"]
        self.t0 = time.monotonic()

    def say(self, text: str) -> None:
        self.notify(f"ssh/{self.spec.name}: {text} [{time.monotonic() - self.t0:.1f} s]")

    def run(
        self, target: wheels.Target, todo: dict[str, str], absent: list[str], sky: Path
    ) -> None:
        version = self.facts["markers"]["python_full_version"]
        fresh = "creating" if not self.facts["venv_ok"] else "updating"
        count = f"{len(todo) + 1} package{'s' if todo else ''}"
        self.say(f"{fresh} the Python {version} environment {self.venv} ({count})")
        cache = wheels.cache_dir()
        local = [sky]
        from_index = list(absent)
        for name, ver in sorted(todo.items()):
            wheel = wheels.wheel_for(name, ver, target, cache)
            if wheel is None:
                from_index.append(f"{name}=={ver}")
            else:
                local.append(wheel)
        if not self.facts["venv_ok"] and not self.facts["ensurepip"]:
            local.append(self._pip_wheel(target, cache))
        remote = self._upload(local)
        self._install(remote, from_index)
        self._verify()
        self.say("ready")

    def _pip_wheel(self, target: wheels.Target, cache: Path) -> Path:
        import importlib.metadata as md

        wheel = wheels.wheel_for("pip", md.version("pip"), target, cache)
        if wheel is None:
            raise InfraError(
                f"The Python on SSH host '{self.spec.name}' has no ensurepip and no pip wheel "
                f"could be made here; install python3-venv there."
            )
        return wheel

    def _upload(self, paths: list[Path]) -> list[str]:
        wheel_dir = f"{self.root}/wheels"
        self.conn.run(f"mkdir -p -m 700 {shlex.quote(wheel_dir)}")
        with self.conn.lock:
            sftp = self.conn.sftp()
            there = {a.filename: a.st_size for a in sftp.listdir_attr(wheel_dir)}
            send = [p for p in paths if there.get(p.name) != p.stat().st_size]
            size = sum(p.stat().st_size for p in send) / 1e6
            if send:
                self.say(f"sending {len(send)} wheels ({size:.1f} MB) from this notebook")
            for path in send:
                tmp = f"{wheel_dir}/.{path.name}.part"
                sftp.put(str(path), tmp)
                sftp.posix_rename(tmp, f"{wheel_dir}/{path.name}")
        return [f"{wheel_dir}/{p.name}" for p in paths]

    def _install(self, local: list[str], from_index: list[str]) -> None:
        venv, q = self.venv, shlex.quote
        python, pip = f"{q(venv)}/bin/python", f"{q(venv)}/bin/python -m pip"
        opts = "--no-deps --disable-pip-version-check -q"
        make = f"{q(self.spec.python)} -m venv --without-pip {q(venv)}"
        wheels_arg = " ".join(q(w) for w in local)
        script = f"set -e; [ -x {python} ] || {make}; {python} -c {q(UNPACK)} {wheels_arg}"
        if from_index:
            self.say(f"fetching {_names(from_index)} from the host's package index")
            script += f"; {pip} --version >/dev/null 2>&1 || {python} -m ensurepip -q"
            script += f"; {pip} install {opts} " + " ".join(q(r) for r in from_index)
        self.say("installing the wheels on the host")
        lock = q(f"{self.root}/install.lock")
        # Two notebooks bootstrapping the same host at once must not interleave pip runs.
        cmd = f"mkdir -p {q(self.root)}; if command -v flock >/dev/null; then flock {lock} "
        cmd += f"sh -c {q(script)}; else sh -c {q(script)}; fi 2>&1"
        res = self.conn.run(cmd, timeout=900)
        if res.rc != 0:
            self._verify(f" (pip: {res.last_line()})")

    def _verify(self, why: str = "") -> None:
        check = (
            "import importlib, sys\nbad = []\nfor m in sys.argv[1:]:\n    try:\n"
            "        importlib.import_module(m)\n    except Exception:\n        bad.append(m)\n"
            "print(','.join(bad))\n"
        )
        venv_python = shlex.quote(f"{self.venv}/bin/python")
        res = self.conn.run(f"{venv_python} - {' '.join(NEEDED)}", stdin=check.encode())
        missing = [m for m in res.out.strip().split(",") if m] if res.rc == 0 else list(NEEDED)
        if missing:
            raise InfraError(
                f"SSH host '{self.spec.name}' still lacks {_names(missing)} in {self.venv} after "
                f"the bootstrap{why or ''}; install them there or set python: for the host to an "
                f"interpreter that has them."
            )
