"""Fixtures for the AWS tests: moto's EC2 server over HTTP and a simulated hypervisor.

``aws_lab_simulated_hypervisor`` (session) runs ``scripts/aws_lab_up.sh`` (root): moto's EC2
server on 127.0.0.1 and on the lab bridge's address with a fault-injection layer, one VPC per
lab region in 10.213.64.0/18, and a simulated hypervisor that boots a network-namespace host
with a real sshd at the private address of every instance moto reports running.  Only the
hypervisor is simulated: provisioning (boto3 → HTTP → moto), SSH, bootstrap, kernel and the
autostop watchdog's API calls are real.  At the end of the session ``scripts/aws_lab_down.sh``
stops what this session started (by PID).  ``JUPYTER_SKY_AWS_LAB_KEEP=1`` keeps it up.

``aws_lab`` (function) is the same lab, reset: moto's state, fault rules and the lab's VPCs
are fresh, and the AWS environment variables point boto3 at the lab (never at AWS, never at
the instance-metadata address).

Skipped with the reason when not root or when moto is missing; with ``CI`` set, failures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "labs"))

import aws_lab as lab_module  # noqa: E402

UP = ROOT / "scripts" / "aws_lab_up.sh"
DOWN = ROOT / "scripts" / "aws_lab_down.sh"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "aws: needs root; starts the AWS lab (scripts/aws_lab_up.sh)")


def skip_or_fail(msg: str) -> None:
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set, so this is a failure: {msg}", pytrace=False)
    pytest.skip(msg)


@dataclass
class AwsLab:
    """The running lab: endpoints, regions, and helpers over its HTTP routes."""

    info: dict[str, object]
    started_here: bool

    @property
    def endpoint(self) -> str:
        return str(self.info["endpoint"])

    @property
    def vm_endpoint(self) -> str:
        """The same server as the VMs reach it (the bridge address)."""
        return str(self.info["vm_endpoint"])

    @property
    def regions(self) -> list[str]:
        return [str(r) for r in self.info["regions"]]  # type: ignore[attr-defined]

    @property
    def vpc_name(self) -> str:
        return str(self.info["vpc_name"])

    @property
    def cidr(self) -> str:
        return str(self.info["cidr"])

    def call(self, path: str, method: str = "GET", body: object = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.endpoint + path, method=method, data=data)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        self.call("/_lab/reset", "POST")
        self.wait_vms(set())

    def inject(self, *rules: dict[str, object]) -> object:
        return self.call("/_fault/rules", "POST", list(rules))

    def never_boot(self, *instance_types: str) -> None:
        """Instances of these types run in moto but their hosts never boot (SSH never comes up)."""
        self.call("/_lab/noboot", "POST", list(instance_types))

    def preempt(self, instance_id: str, region: str = "us-east-1") -> object:
        """EC2 reclaims this spot instance: terminated with a spot-interruption state reason."""
        return self.call("/_lab/preempt", "POST", {"region": region, "instance_id": instance_id})

    def hits(self) -> list[dict[str, object]]:
        return self.call("/_fault/hits")  # type: ignore[return-value]

    def vms(self) -> dict[str, dict[str, str]]:
        return {v["vm_id"]: v for v in self.call("/_lab/vms")}  # type: ignore[attr-defined, index]

    def wait_vms(self, ids: set[str], timeout: float = 20.0) -> dict[str, dict[str, str]]:
        """Wait until exactly ``ids`` are booted hosts; return them."""
        deadline = time.monotonic() + timeout
        while True:
            vms = self.vms()
            if set(vms) == ids:
                return vms
            if time.monotonic() > deadline:
                raise AssertionError(f"booted hosts {sorted(vms)} != expected {sorted(ids)}")
            time.sleep(0.05)

    def client(self, region: str = "us-east-1", attempts: int = 1):  # noqa: ANN201 - boto3 client
        import boto3
        from botocore.config import Config

        return boto3.client("ec2", region_name=region, endpoint_url=self.endpoint,
                            config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}))  # fmt: skip

    def env(self) -> dict[str, str]:
        """Environment that points boto3 (and jupyter-sky) at the lab."""
        return {**lab_module.CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_EC2": self.vm_endpoint, "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull}  # fmt: skip


@pytest.fixture(scope="session")
def aws_lab_simulated_hypervisor() -> Iterator[AwsLab]:
    """The AWS lab with a SIMULATED HYPERVISOR (network-namespace hosts with a real sshd).

    Provisioning (boto3 over HTTP to moto's EC2 server), SSH, bootstrap, kernel and autostop
    API calls are real; only the machine under each instance is simulated.
    """
    if os.geteuid() != 0:
        skip_or_fail("the AWS lab needs root (network namespaces, veth, users)")
    try:
        import moto  # noqa: F401
    except ImportError:
        skip_or_fail("moto is not installed (pip install -e '.[test]')")
    env = {**os.environ, "JUPYTER_SKY_TEST_VENV": str(Path(sys.executable).parents[1])}
    res = subprocess.run(["bash", str(UP)], capture_output=True, text=True, env=env, timeout=180)
    if res.returncode != 0:
        pytest.fail(f"aws_lab_up.sh failed ({res.returncode}): {res.stderr[-2000:]}", pytrace=False)
    ready = res.stdout.strip().splitlines()[-1]
    assert ready.startswith("AWS_LAB_READY"), res.stdout
    info = json.loads(Path(ready.split("env=")[1]).read_text())
    lab = AwsLab(info, started_here="started_here=True" in ready)
    yield lab
    if lab.started_here and os.environ.get("JUPYTER_SKY_AWS_LAB_KEEP") != "1":
        subprocess.run(["bash", str(DOWN)], env=env, timeout=120, check=False)


@pytest.fixture
def aws_lab(aws_lab_simulated_hypervisor: AwsLab, monkeypatch: pytest.MonkeyPatch) -> AwsLab:
    """The lab, reset for this test, with the AWS environment pointing at it."""
    lab = aws_lab_simulated_hypervisor
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    lab.reset()
    return lab


@pytest.fixture
def infra_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh JUPYTER_SKY_HOME whose own config.yaml names the lab's VPC (``AwsInfra.zones``
    reads the config files, as the planner's failover calls it; a project file beside the
    notebook may not choose an infra's network unless trusted)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("JUPYTER_SKY_HOME", str(home))
    monkeypatch.setenv("JUPYTER_SKY_WATCHDOG_INTERVAL", "0.5")
    monkeypatch.chdir(tmp_path)
    (home / "config.yaml").write_text(f"aws:\n  vpc_name: {lab_module.VPC_NAME}\n")
    return home
