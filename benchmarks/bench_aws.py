"""Benchmark one EC2 launch attempt on the AWS lab (root; starts the lab if it is not up).

Usage::

    sudo .venv-test/bin/python benchmarks/bench_aws.py [--runs 5]

Per attempt, wall time is split into the EC2 API calls (boto3 → HTTP → moto, timed with
botocore's own before-send/after-call events) and everything else; for a failed attempt
(InsufficientInstanceCapacity injected) "ours" is the time beyond the API calls (target
≤ 50 ms); for a good attempt the rest is waiting for the VM's sshd (simulated hypervisor
boot, real sshd).  Prints a table.

``--cells N`` also times N whole launches the way a ``%%sky`` cell makes them (``AwsInfra.launch``
on a fresh VM, then connect and a first cell), split into: the launch attempt (EC2 API calls,
VM boot, sshd), the bootstrap of the VM's Python (a fresh VM home: venv + every wheel, sent
from this machine's wheel cache), the kernel start, and connect → the cell's first output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jupyter_sky.infra.aws import launch, provision  # noqa: E402


class ApiClock:
    """Sums the time spent inside EC2 API calls of every client ``provision.client`` makes."""

    def __init__(self) -> None:
        self.total = 0.0
        self.calls = 0
        self.seen: set[int] = set()
        self._make = provision.client
        provision.client = self._client  # type: ignore[assignment]

    def _client(self, region: str, attempts: int = 3):  # noqa: ANN202
        ec2 = self._make(region, attempts)
        if id(ec2) in self.seen:  # provision keeps clients: hook each one once
            return ec2
        self.seen.add(id(ec2))
        started: list[float] = []
        ec2.meta.events.register("before-call.ec2", lambda **_: started.append(time.perf_counter()))
        ec2.meta.events.register("after-call.ec2", lambda **_: self._add(started))
        ec2.meta.events.register("after-call-error.ec2", lambda **_: self._add(started))
        return ec2

    def _add(self, started: list[float]) -> None:
        self.total += time.perf_counter() - started.pop()
        self.calls += 1

    def reset(self) -> None:
        self.total, self.calls = 0.0, 0


def lab() -> dict[str, str]:
    res = subprocess.run(["bash", str(REPO / "scripts" / "aws_lab_up.sh")], capture_output=True, text=True,
                         env={**os.environ, "JUPYTER_SKY_TEST_VENV": str(Path(sys.executable).parents[1])})  # fmt: skip
    if res.returncode != 0:
        sys.exit(f"aws_lab_up.sh failed: {res.stderr[-1000:]}")
    ready = res.stdout.strip().splitlines()[-1]
    return dict(json.loads(Path(ready.split("env=")[1]).read_text()))


def post(url: str, body: object = None) -> None:
    data = None if body is None else json.dumps(body).encode()
    urllib.request.urlopen(urllib.request.Request(url, method="POST", data=data), timeout=30).read()


def measure(info: dict[str, str], runs: int) -> dict[str, list[tuple[float, float, int]]]:
    clock = ApiClock()
    place = launch.Placement("us-east-1", "us-east-1a", "t3.micro", ssh_cidr=f"{info['gateway']}/32",
                             vpc_name=info["vpc_name"], use_internal_ips=True)  # fmt: skip
    rows: dict[str, list[tuple[float, float, int]]] = {"failed attempt (ICE)": [], "good attempt": [], "down": []}
    for i in range(runs):
        post(info["endpoint"] + "/_lab/reset")
        post(info["endpoint"] + "/_fault/rules", [{"action": "RunInstances", "kind": "capacity"}])
        clock.reset()
        t = time.perf_counter()
        with contextlib.suppress(launch.AttemptFailed):
            launch.attempt(f"b{i}", place, ssh_timeout=30)
        rows["failed attempt (ICE)"].append((time.perf_counter() - t, clock.total, clock.calls))
        urllib.request.urlopen(urllib.request.Request(info["endpoint"] + "/_fault/rules", method="DELETE")).read()
        clock.reset()
        t = time.perf_counter()
        launch.attempt(f"b{i}", place, ssh_timeout=60)
        rows["good attempt"].append((time.perf_counter() - t, clock.total, clock.calls))
        clock.reset()
        t = time.perf_counter()
        provision.down_cluster(provision.client("us-east-1"), launch.Owner.of(f"b{i}"))
        rows["down"].append((time.perf_counter() - t, clock.total, clock.calls))
    return rows


class Split:
    """Wall time of one function per name, while patched in (the modules look it up per call)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def wrap(self, module: object, attr: str, name: str) -> None:
        original = getattr(module, attr)

        def timed(*args: object, **kwargs: object) -> object:
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t

        setattr(module, attr, timed)


def whole_launches(info: dict[str, str], n: int) -> list[dict[str, float]]:
    """``n`` launches through ``AwsInfra`` (fresh VM each), connect, first cell, down."""
    sys.path.insert(0, str(REPO / "tests"))
    from aws.conftest import AwsLab
    from aws.infra_helpers import request_for

    from jupyter_sky.infra.aws import AwsInfra
    from jupyter_sky.kernel.cluster import LiveCluster
    from jupyter_sky.kernel.execute import run_cell
    from jupyter_sky.kernel.relay import CellRelay
    from jupyter_sky.transport import bootstrap, remote_kernel

    split = Split()
    split.wrap(launch, "attempt", "launch attempt (API + VM boot + sshd)")
    split.wrap(bootstrap, "ensure_python", "bootstrap the VM's Python (fresh home)")
    split.wrap(remote_kernel, "start_kernel", "kernel start")
    lab_view, infra, out = AwsLab(dict(info), False), AwsInfra(notify=lambda line: None), []
    for i in range(n):
        post(info["endpoint"] + "/_lab/reset")
        split.times.clear()
        t0 = time.perf_counter()
        handle = infra.launch(request_for(lab_view, f"w{i}", Path(tempfile.mkdtemp())))
        t1 = time.perf_counter()
        live = LiveCluster(f"w{i}", infra, handle)
        live.connect()
        outcome = run_cell(live, "print('first')", CellRelay(None))
        t2 = time.perf_counter()
        assert outcome.status == "ok", outcome.error
        live.detach()
        infra.down(handle)
        row = dict(split.times)
        row["connect + first cell"] = t2 - t1
        row["the rest of launch (SSH session, watcher)"] = (t1 - t0) - sum(split.times.values())
        row["total"] = t2 - t0
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cells", type=int, default=0, help="also N whole launches to a first cell")
    args = ap.parse_args()
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
                       "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                       "JUPYTER_SKY_HOME": tempfile.mkdtemp(prefix="bench-aws-")})  # fmt: skip
    t = time.perf_counter()
    info = lab()
    print(f"lab ready in {time.perf_counter() - t:.2f} s (endpoint {info['endpoint']})")
    os.environ["AWS_ENDPOINT_URL_EC2"] = info["endpoint"]
    rows = measure(info, args.runs)
    print(f"\n{'step (median of ' + str(args.runs) + ')':<26}{'wall ms':>9}{'API ms':>9}{'calls':>7}{'rest ms':>9}")
    for name, samples in rows.items():
        wall = statistics.median(s[0] for s in samples) * 1000
        api = statistics.median(s[1] for s in samples) * 1000
        calls = int(statistics.median(s[2] for s in samples))
        rest = statistics.median((s[0] - s[1]) for s in samples) * 1000
        print(f"{name:<26}{wall:>9.1f}{api:>9.1f}{calls:>7}{rest:>9.1f}")
    print("\nrest = our own time (failed attempt, down) or waiting for the VM's sshd (good attempt)")
    if args.cells:
        whole = whole_launches(info, args.cells)
        print(f"\nwhole launch to a first cell (median of {args.cells}; s)")
        for name in whole[0]:
            print(f"  {name:<48}{statistics.median(r[name] for r in whole):>8.2f}")


if __name__ == "__main__":
    main()
