"""What the AwsInfra tests share: the lab's ``aws:`` section, launch requests, leak checks,
and running a real cell through the infra (see test_aws_infra.py, test_aws_failover.py)."""

from __future__ import annotations

from pathlib import Path

from jupyter_sky.config import Config
from jupyter_sky.infra.aws import AwsHandle, AwsInfra, provision
from jupyter_sky.infra.aws.config import AwsConfig
from jupyter_sky.infra.aws.identity import TAG_CLUSTER, user_name
from jupyter_sky.infra.base import Launch
from jupyter_sky.offering import Offering
from jupyter_sky.spec.task import parse_line, task_from_args

from .conftest import AwsLab


def lab_config(lab: AwsLab, **extra: object) -> Config:
    """The ``aws:`` section the lab needs: its VPC, SSH from the bridge, private addresses, and
    the lab's endpoint and keys for the VM's own stop call (no instance role in the lab)."""
    selfstop = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_EC2": lab.vm_endpoint}  # fmt: skip
    values: dict[str, object] = {"ssh_cidr": f"{lab.info['gateway']}/32", "use_internal_ips": True,
                                 "vpc_name": lab.vpc_name, "ssh_timeout": 60.0, "autostop_env": selfstop,
                                 "autostop_shutdown": False, **extra}  # fmt: skip
    return Config(infras={"aws": AwsConfig(**values)})  # type: ignore[arg-type]


def request_for(lab: AwsLab, name: str, tmp_path: Path, flags: str = "", zone: str | None = None,
                instance_type: str = "t3.micro", region: str = "us-east-1", **cfg: object) -> Launch:  # fmt: skip
    task = task_from_args(parse_line(f"--name {name} {flags}"), "pass", tmp_path)
    offering = Offering("aws", region, instance_type, 2, 1, zone=zone, price=0.01)
    return Launch(name, task, lab_config(lab, **cfg), offering=offering)


def nothing_left(lab: AwsLab, cluster: str, region: str = "us-east-1") -> None:
    """No instance, volume or security group of ``cluster`` in moto; no VM host booted."""
    ec2 = provision.client(region)
    assert provision.cluster_instances(ec2, user_name(), cluster) == []
    vols = ec2.describe_volumes(Filters=[{"Name": f"tag:{TAG_CLUSTER}", "Values": [cluster]}])["Volumes"]
    assert [v for v in vols if v["State"] != "deleted"] == []
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"jupyter-sky-{user_name()}"]}])
    assert groups["SecurityGroups"] == []
    lab.wait_vms(set())


def run(infra: AwsInfra, handle: AwsHandle, code: str) -> str:
    """Run ``code`` as a cell in the cluster's kernel; return its stdout."""
    from jupyter_sky.kernel.cluster import LiveCluster
    from jupyter_sky.kernel.execute import run_cell
    from jupyter_sky.kernel.relay import CellRelay

    seen: list[dict[str, object]] = []

    class Recorder(CellRelay):
        def handle(self, msg: dict) -> None:  # type: ignore[type-arg]
            seen.append(msg)

    live = LiveCluster("aws-test", infra, handle)
    live.connect()
    try:
        outcome = run_cell(live, code, Recorder(None))
        assert outcome.status == "ok", outcome.error
    finally:
        live.detach()
    return "".join(str(m["content"].get("text", "")) for m in seen if m["msg_type"] == "stream")  # type: ignore[attr-defined]
