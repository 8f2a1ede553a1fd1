"""The AWS lab: moto's EC2 server over HTTP + fault injection + a simulated hypervisor.

Only the hypervisor is simulated: for each instance moto reports running in the lab's VPC
subnets, :mod:`vmboot` boots a network-namespace host at the instance's private address with
a real sshd that accepts the keys of the instance's cloud-init user data; when moto stops or
terminates the instance the host goes away.  Provisioning (EC2 API calls over HTTP), SSH,
bootstrap, kernel and an autostop watchdog calling the API run for real.

    python tests/labs/aws_lab.py up      # prints AWS_LAB_READY ... ; writes $LAB/lab.json
    python tests/labs/aws_lab.py down    # stops exactly the PID that `up` started

(``scripts/aws_lab_up.sh`` / ``scripts/aws_lab_down.sh`` call these as root.)

One server process listens on 127.0.0.1:PORT and on the bridge address 10.213.64.1:PORT (so
the VMs reach the API too).  Besides moto's API it serves ``/_fault/*`` (see
:mod:`fault_moto`) and ``/_lab/info`` (GET), ``/_lab/vms`` (GET: booted hosts),
``/_lab/reset`` (POST: moto state, fault rules, then the lab's VPCs again), ``/_lab/noboot``
(POST a JSON list of instance types whose hosts never boot: "SSH never comes up"),
``/_lab/preempt`` (POST ``{"region", "instance_id"}``: EC2 reclaims a spot instance — it is
terminated with the state reason ``Server.SpotInstanceTermination``, and its host goes away).
Names: bridge ``skyawsbr0``, namespaces ``skyaws-*``, range 10.213.64.0/18: one VPC per lab
region (tag Name=skyaws-lab) with one /24 subnet per zone.  ``GetConsoleOutput`` of a booted
instance carries its SSH host key between cloud-init's BEGIN/END SSH HOST KEY KEYS markers.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import ipaddress
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fault_moto import FaultInjector, WsgiApp  # noqa: E402
from vmboot import Booter, VmNet, VmSpec, Watcher, cloud_config_logins  # noqa: E402

PREFIX = "skyaws"
CIDR = "10.213.64.0/18"
REGIONS = ("us-east-1", "us-east-2", "us-west-2")
ZONES_PER_REGION = 3
VPC_NAME = "skyaws-lab"
DEFAULT_USER = "ubuntu"  # the login user of the images (Ubuntu / Deep Learning AMI)
ACCOUNT = "123456789012"  # moto's default account
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip

log = logging.getLogger("aws_lab")


def lab_dir() -> Path:
    return Path(os.environ.get("JUPYTER_SKY_AWS_LAB", "/tmp/jupyter-sky-aws-lab"))


def region_cidr(index: int) -> str:
    """The VPC range of the lab's ``index``-th region: a /20 of the lab's /18."""
    return str(list(ipaddress.ip_network(CIDR).subnets(new_prefix=20))[index])


# ----------------------------------------------------------------- what moto says runs
def _backend(region: str):  # noqa: ANN202 - moto's backend class
    from moto.ec2.models import ec2_backends

    return ec2_backends[ACCOUNT][region]


def zone_of_subnet(region: str, subnet_id: str) -> str | None:
    with contextlib.suppress(Exception):
        return str(_backend(region).get_subnet(subnet_id).availability_zone)
    return None


def _instances(state: str) -> Iterator[object]:
    for region in REGIONS:
        for reservation in list(_backend(region).reservations.values()):
            for inst in list(reservation.instances):
                if inst.state == state:
                    yield inst


def _user_data(inst: object) -> str:
    raw = getattr(inst, "user_data", None)
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if not raw:
        return ""
    data = raw if isinstance(raw, bytes) else str(raw).encode()
    with contextlib.suppress(ValueError):
        data = base64.b64decode(data, validate=True)
    return data.decode("utf-8", "replace")


NO_BOOT: set[str] = set()  # instance types whose hosts never boot (POST /_lab/noboot)


def list_running() -> dict[str, VmSpec]:
    """Every running instance with a private address in the lab range, as a :class:`VmSpec`.

    Instances of a type in ``NO_BOOT`` are left out: a VM that never comes up.
    """
    net = ipaddress.ip_network(CIDR)
    found: dict[str, VmSpec] = {}
    for inst in _instances("running"):
        ip = str(getattr(inst, "private_ip", "") or "")
        if not ip or ipaddress.ip_address(ip) not in net or inst.instance_type in NO_BOOT:  # type: ignore[attr-defined]
            continue  # e.g. moto's default VPC: never booted, never reachable
        user_data = _user_data(inst)
        logins = cloud_config_logins(user_data, DEFAULT_USER) or {DEFAULT_USER: []}
        user, keys = next(iter(logins.items()))
        vm_id = str(inst.id)  # type: ignore[attr-defined]
        found[vm_id] = VmSpec(vm_id, ip, user, tuple(keys), user_data)
    return found


def list_stopped() -> set[str]:
    return {str(inst.id) for inst in _instances("stopped")}  # type: ignore[attr-defined]


# ----------------------------------------------------------------- the lab's own routes
class LabApp:
    """``/_lab/*`` routes and console output in front of the fault injector and moto."""

    def __init__(self, app: WsgiApp, faults: FaultInjector, booter: Booter, endpoint: str) -> None:
        self.app, self.faults, self.booter, self.endpoint = app, faults, booter, endpoint

    def __call__(self, environ: dict[str, object], start: Callable[..., object]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if path == "/_lab/info":
            return _reply(start, self.info())
        if path == "/_lab/vms":
            return _reply(start, self.vms())
        if path == "/_lab/noboot" and method == "POST":
            stream = environ["wsgi.input"]
            NO_BOOT.update(json.loads(stream.read(int(str(environ.get("CONTENT_LENGTH") or 0)))))  # type: ignore[attr-defined]
            return _reply(start, sorted(NO_BOOT))
        if path == "/_lab/preempt" and method == "POST":
            stream = environ["wsgi.input"]
            body = json.loads(stream.read(int(str(environ.get("CONTENT_LENGTH") or 0))))  # type: ignore[attr-defined]
            return _reply(start, preempt(str(body["region"]), str(body["instance_id"])))
        if path == "/_lab/reset" and method == "POST":
            self.reset()
            return _reply(start, self.info())
        return self.app(environ, start)

    def info(self) -> dict[str, object]:
        return {"regions": list(REGIONS), "cidr": CIDR, "vpc_name": VPC_NAME,
                "ssh_user": DEFAULT_USER, "pid": os.getpid(), "prefix": PREFIX}  # fmt: skip

    def vms(self) -> list[dict[str, str]]:
        found = []
        for vm in list(self.booter.booted.values()):
            with contextlib.suppress(OSError):  # halted meanwhile
                if vm.vm_id in self.booter.ready:
                    found.append({"vm_id": vm.vm_id, "ip": vm.ip, "user": vm.ssh_user,
                                  "netns": self.booter.netns(vm.ip),
                                  "host_key": self.booter.host_key(vm.vm_id)})  # fmt: skip
        return found

    def reset(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        self.faults.clear()
        NO_BOOT.clear()
        seed_vpcs(self.endpoint)


def preempt(region: str, instance_id: str) -> dict[str, str]:
    """Terminate a spot instance the way EC2 reclaims one (its state reason says so)."""
    from moto.ec2.models.instances import StateReason

    backend = _backend(region)
    [inst] = backend.get_multi_instances_by_id([instance_id])
    backend.terminate_instances([instance_id])
    inst.state_reason = StateReason("Server.SpotInstanceTermination: Spot instance termination",
                                    "Server.SpotInstanceTermination")  # fmt: skip
    return {"instance_id": instance_id, "state": str(inst.state)}


def seed_vpcs(endpoint: str) -> None:
    """One VPC per lab region (tag Name=skyaws-lab) with a /24 subnet in each of its zones."""
    for index, region in enumerate(REGIONS):
        ec2 = _client(endpoint, region)
        vpc_cidr = ipaddress.ip_network(region_cidr(index))
        vpc = ec2.create_vpc(CidrBlock=str(vpc_cidr), TagSpecifications=[_name("vpc", VPC_NAME)])
        subnets = list(vpc_cidr.subnets(new_prefix=24))[1:]  # the first /24 holds the bridge
        for zone, cidr in zip(_zones(endpoint, region), subnets, strict=False):
            ec2.create_subnet(VpcId=vpc["Vpc"]["VpcId"], CidrBlock=str(cidr), AvailabilityZone=zone,
                              TagSpecifications=[_name("subnet", f"{VPC_NAME}-{zone}")])  # fmt: skip


def _name(kind: str, name: str) -> dict[str, object]:
    return {"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}


@functools.cache
def _zones(endpoint: str, region: str) -> tuple[str, ...]:
    zones = _client(endpoint, region).describe_availability_zones()["AvailabilityZones"]
    return tuple(z["ZoneName"] for z in zones[:ZONES_PER_REGION])


@functools.cache
def _client(endpoint: str, region: str):  # noqa: ANN202 - a boto3 EC2 client
    import boto3

    return boto3.client("ec2", region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip


def _reply(start: Callable[..., object], obj: object) -> list[bytes]:
    body = json.dumps(obj).encode()
    start("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


CONSOLE = """\
<?xml version="1.0" encoding="UTF-8"?>
<GetConsoleOutputResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
<requestId>{rid}</requestId><instanceId>{iid}</instanceId><timestamp>{ts}</timestamp>
<output>{out}</output></GetConsoleOutputResponse>"""


def console_output(instance_id: str, host_key: str) -> bytes:
    """The console text cloud-init prints at boot, with the host key between its markers."""
    text = (f"[    0.000000] Linux version 6.1.0 (lab)\ncloud-init: booting {instance_id}\n"
            "-----BEGIN SSH HOST KEY KEYS-----\n"
            f"{host_key}\n-----END SSH HOST KEY KEYS-----\n"
            "cloud-init: finished\n")  # fmt: skip
    return CONSOLE.format(
        rid="lab-console", iid=instance_id, ts=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        out=base64.b64encode(text.encode()).decode(),
    ).encode()


class ConsoleApp:
    """``GetConsoleOutput`` of a booted instance shows its real host key (cloud-init's markers)."""

    def __init__(self, app: WsgiApp, booter: Booter) -> None:
        self.app, self.booter = app, booter

    def __call__(self, environ: dict[str, object], start: Callable[..., object]) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "POST":
            import io
            from urllib.parse import parse_qs

            stream = environ["wsgi.input"]
            raw = stream.read(int(str(environ.get("CONTENT_LENGTH") or 0)))  # type: ignore[attr-defined]
            environ["wsgi.input"] = io.BytesIO(raw)
            params = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            iid = params.get("InstanceId", "")
            if params.get("Action") == "GetConsoleOutput" and iid in self.booter.booted:
                body = console_output(iid, self.booter.host_key(iid))
                start("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
                return [body]
        return self.app(environ, start)


# ----------------------------------------------------------------- the server process
def serve(directory: Path, port: int) -> None:
    """Run moto + faults + console + lab routes on 127.0.0.1 and the bridge, and the watcher."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    net = VmNet(PREFIX, CIDR)
    booter = Booter(net, directory / "vms")
    endpoint = f"http://127.0.0.1:{port}"
    moto_app = DomainDispatcherApplication(create_backend_app)
    faults = FaultInjector(ConsoleApp(moto_app, booter), zone_of_subnet)
    app = LabApp(faults, faults, booter, endpoint)
    servers = [make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
               for host in ("127.0.0.1", net.gateway)]  # fmt: skip
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    seed_vpcs(endpoint)
    watcher = Watcher(booter, list_running, list_stopped, interval=0.1).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    (directory / "run" / "serve.ready").write_text(str(os.getpid()))
    done.wait()
    watcher.stop()
    for vm_id in list(booter.booted):
        booter.halt(vm_id)
    for srv in servers:
        srv.shutdown()


# ----------------------------------------------------------------- up / down (by PID)
@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    (directory / "run").mkdir(parents=True, exist_ok=True)
    with open(directory / "run" / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _free_port(hosts: Iterable[str]) -> int:
    """A port free on every host (the bridge address needs the same port as 127.0.0.1)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            for host in hosts:
                with socket.socket() as s:
                    s.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def _pid_is_server(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and any(a.endswith(b"aws_lab.py") for a in cmd) and b"serve" in cmd


def _get(url: str, timeout: float = 2.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def _running_info(directory: Path) -> dict[str, object] | None:
    try:
        info = json.loads((directory / "lab.json").read_text())
        if _pid_is_server(int(info["pid"])):
            _get(str(info["endpoint"]) + "/_lab/info")
            return dict(info)
    except (OSError, ValueError, KeyError):
        return None
    return None


def up(directory: Path) -> dict[str, object]:
    """Start the lab (or find it running); return lab.json's facts plus ``started_here``."""
    with _locked(directory):
        info = _running_info(directory)
        if info is not None:
            return {**info, "started_here": False}
        net = VmNet(PREFIX, CIDR)
        net.up()
        probe = str(ipaddress.ip_network(CIDR).broadcast_address - 1)
        if net.route_dev(probe) != "unreachable" or net.route_dev(net.gateway) != "lo":
            raise RuntimeError(f"routing of {CIDR} is not the lab's: {net.route_dev(probe)}")
        info = _start_server(directory, net)
        (directory / "lab.json").write_text(json.dumps(info, indent=1))
        return {**info, "started_here": True}


def _start_server(directory: Path, net: VmNet) -> dict[str, object]:
    (directory / "log").mkdir(exist_ok=True)
    for _ in range(3):
        port = _free_port(("127.0.0.1", net.gateway))
        ready = directory / "run" / "serve.ready"
        ready.unlink(missing_ok=True)
        with open(directory / "log" / "server.log", "ab") as out:
            proc = subprocess.Popen([sys.executable, __file__, "serve", "--port", str(port)],
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, "JUPYTER_SKY_AWS_LAB": str(directory)})  # fmt: skip
        (directory / "run" / "serve.pid").write_text(str(proc.pid))
        deadline = time.monotonic() + 30
        while proc.poll() is None and not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if ready.exists():
            return {"pid": proc.pid, "port": port, "endpoint": f"http://127.0.0.1:{port}",
                    "vm_endpoint": f"http://{net.gateway}:{port}", "gateway": net.gateway,
                    "bridge": net.bridge, "cidr": CIDR, "regions": list(REGIONS),
                    "vpc_name": VPC_NAME, "ssh_user": DEFAULT_USER, "dir": str(directory)}  # fmt: skip
        _stop_pid(proc.pid)
    raise RuntimeError(f"the AWS lab server did not start, see {directory / 'log' / 'server.log'}")


def _stop_pid(pid: int) -> None:
    if not _pid_is_server(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _pid_is_server(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_is_server(pid):
        os.kill(pid, signal.SIGKILL)


def down(directory: Path) -> None:
    """Stop the server started by ``up`` (by its PID), every VM host, routes and the bridge."""
    with _locked(directory):
        pid_file = directory / "run" / "serve.pid"
        if pid_file.exists():
            _stop_pid(int(pid_file.read_text()))
            pid_file.unlink()
        VmNet(PREFIX, CIDR).down()
        import shutil

        shutil.rmtree(directory / "vms", ignore_errors=True)
        (directory / "lab.json").unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("up", "down", "serve"))
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    directory = lab_dir()
    directory.mkdir(parents=True, exist_ok=True)
    if args.command == "serve":
        os.environ.update(CREDENTIALS)
        serve(directory, args.port)
    elif args.command == "up":
        info = up(directory)
        print("AWS_LAB_READY " + " ".join(f"{k}={info[k]}" for k in ("endpoint", "vm_endpoint",
              "pid", "started_here")) + f" env={directory / 'lab.json'}")  # fmt: skip
    else:
        down(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
