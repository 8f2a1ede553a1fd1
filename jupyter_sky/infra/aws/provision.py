"""The EC2 calls that create, find and delete what one cluster owns (boto3, imported lazily).

Everything created is tagged (see :class:`~jupyter_sky.infra.aws.identity.Owner`): the
instance and its root volume with the cluster, the user's security group with the user.
boto3 reads ``AWS_PROFILE``, ``AWS_REGION`` and ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_EC2``
itself, so the lab and any other endpoint are reached exactly as boto3 would reach them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jupyter_sky.config import sky_home
from jupyter_sky.errors import InfraError
from jupyter_sky.infra.aws.identity import TAG_CLUSTER, TAG_USER, Owner

Ec2 = Any  # a boto3 EC2 client (botocore builds its type at run time)
ALIVE = ["pending", "running", "stopping", "stopped", "shutting-down"]
IMAGE_PATTERNS = {  # (owner, name pattern): GPU → a CUDA deep-learning image, CPU → Ubuntu LTS
    True: ("amazon", "Deep Learning*Ubuntu*"),
    False: ("099720109477", "ubuntu/images/hvm-ssd*/ubuntu-*-amd64-server-*"),
}


ENV_KEYS = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ACCESS_KEY_ID",
            "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")  # fmt: skip
_CLIENTS: dict[tuple[str, ...], Ec2] = {}


def client(region: str, attempts: int = 3) -> Ec2:
    """An EC2 client for ``region`` with standard retries (throttling and 5xx retried in place).

    Clients are kept per region and AWS environment: making one loads the EC2 service model
    (about a second on a busy machine), which must not be paid again per failover attempt.
    """
    key = (region, str(attempts), *(os.environ.get(k, "") for k in ENV_KEYS))
    if key not in _CLIENTS:
        _CLIENTS[key] = _new_client(region, attempts)
    return _CLIENTS[key]


def _new_client(region: str, attempts: int) -> Ec2:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": attempts},
                    connect_timeout=5, read_timeout=60)  # fmt: skip
    return boto3.session.Session().client("ec2", region_name=region, config=config)


def subnet_in(ec2: Ec2, zone: str, vpc_name: str | None) -> tuple[str, str]:
    """``(vpc id, subnet id)`` in ``zone``: of the VPC tagged Name=``vpc_name``, else the default VPC."""
    filters = [{"Name": "availability-zone", "Values": [zone]}]
    if vpc_name:
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [vpc_name]}])["Vpcs"]
        if not vpcs:
            raise InfraError(f"no VPC named {vpc_name!r} in {zone[:-1]} (aws.vpc_name).")
        filters.append({"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]})
    else:
        filters.append({"Name": "default-for-az", "Values": ["true"]})
    subnets = ec2.describe_subnets(Filters=filters)["Subnets"]
    if not subnets:
        raise InfraError(f"no subnet in {zone} to launch into.")
    return str(subnets[0]["VpcId"]), str(subnets[0]["SubnetId"])


def security_group(ec2: Ec2, vpc_id: str, owner: Owner, ssh_cidr: str) -> tuple[str, bool]:
    """``(id, created)`` of the user's group in ``vpc_id`` letting SSH in from ``ssh_cidr`` only."""
    if not ssh_cidr or ssh_cidr.endswith("/0"):
        raise InfraError(f"SSH would be open to {ssh_cidr or 'nobody'}; set aws.ssh_cidr to this machine's address range.")
    name = f"jupyter-sky-{owner.user}"
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]},
                                                  {"Name": "vpc-id", "Values": [vpc_id]}])  # fmt: skip
    if found["SecurityGroups"]:
        group = found["SecurityGroups"][0]
        group_id = str(group["GroupId"])
        ranges = [r["CidrIp"] for p in group.get("IpPermissions", []) for r in p.get("IpRanges", [])]
        if ssh_cidr in ranges:
            return group_id, False
        created = False
    else:
        created = True
        tags = [t for t in owner.tags() if t["Key"] not in (TAG_CLUSTER, "Name")]
        group_id = str(ec2.create_security_group(
            GroupName=name, Description="jupyter-sky: SSH from the notebook's machine", VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}])["GroupId"])  # fmt: skip
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": ssh_cidr, "Description": "jupyter-sky SSH"}]}])  # fmt: skip
    return group_id, created


def image_for(ec2: Ec2, region: str, gpu: bool) -> str:
    """The newest image of the class (GPU or CPU) in ``region``, cached under JUPYTER_SKY_HOME."""
    cache = sky_home() / "cache" / "aws-images.json"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    key = f"{region}/{'gpu' if gpu else 'cpu'}"
    if key not in known:
        owner, pattern = IMAGE_PATTERNS[gpu]
        images = ec2.describe_images(Owners=[owner], Filters=[{"Name": "name", "Values": [pattern]},
                                                              {"Name": "state", "Values": ["available"]}])["Images"]  # fmt: skip
        if not images:
            raise InfraError(f"no {'GPU deep-learning' if gpu else 'Ubuntu'} image found in {region}; set aws.image_id.")
        newest = max(images, key=lambda i: (i.get("CreationDate", ""), i.get("Name", "")))
        known[key] = newest["ImageId"]
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=1))
    return str(known[key])


@dataclass(frozen=True)
class InstanceRequest:
    """One instance to start: where, what, and the tags of its owner."""

    owner: Owner
    instance_type: str
    subnet_id: str
    group_id: str
    image_id: str
    user_data: str
    disk_gb: int = 100
    spot: bool = False
    max_price: float | None = None

    def params(self) -> dict[str, Any]:
        tags = self.owner.tags()
        params: dict[str, Any] = {
            "ImageId": self.image_id, "InstanceType": self.instance_type, "MinCount": 1, "MaxCount": 1,
            "SubnetId": self.subnet_id, "SecurityGroupIds": [self.group_id], "UserData": self.user_data,
            "InstanceInitiatedShutdownBehavior": "terminate" if self.spot else "stop",
            "BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {
                "VolumeSize": self.disk_gb, "VolumeType": "gp3", "DeleteOnTermination": True}}],
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags},
                                  {"ResourceType": "volume", "Tags": tags}],
        }  # fmt: skip
        if self.spot:
            options: dict[str, str] = {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}
            if self.max_price is not None:
                options["MaxPrice"] = f"{self.max_price:.4f}"
            params["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": options}
        return params


def run_instance(ec2: Ec2, request: InstanceRequest) -> dict[str, Any]:
    """Start the instance (errors are the caller's to classify); return EC2's description."""
    return dict(ec2.run_instances(**request.params())["Instances"][0])


def wait_state(ec2: Ec2, instance_id: str, state: str, timeout: float,
               cancelled: Callable[[], bool] = lambda: False) -> dict[str, Any]:  # fmt: skip
    """Poll until the instance is in ``state``; InfraError after ``timeout``, KeyboardInterrupt if cancelled."""
    deadline = time.monotonic() + timeout
    while True:
        inst = describe(ec2, instance_id)
        if inst is not None and inst["State"]["Name"] == state:
            return inst
        if cancelled():
            raise KeyboardInterrupt
        if time.monotonic() > deadline:
            now = inst["State"]["Name"] if inst else "gone"
            raise InfraError(f"instance {instance_id} is {now}, not {state}, after {timeout:.0f} s.")
        time.sleep(0.2)


def describe(ec2: Ec2, instance_id: str) -> dict[str, Any] | None:
    res = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": [instance_id]}])
    found = [i for r in res["Reservations"] for i in r["Instances"]]
    return dict(found[0]) if found else None


def cluster_instances(ec2: Ec2, user: str, cluster: str | None = None) -> list[dict[str, Any]]:
    """The user's instances that are not terminated (of ``cluster`` only, when given)."""
    filters = [{"Name": f"tag:{TAG_USER}", "Values": [user]},
               {"Name": "instance-state-name", "Values": ALIVE}]  # fmt: skip
    if cluster is not None:
        filters.append({"Name": f"tag:{TAG_CLUSTER}", "Values": [cluster]})
    res = ec2.describe_instances(Filters=filters)
    return [dict(i) for r in res["Reservations"] for i in r["Instances"]]


def down_cluster(ec2: Ec2, owner: Owner, timeout: float = 120.0, groups: tuple[str, ...] = ()) -> list[str]:
    """Terminate the cluster's instances, then its groups (and ``groups``) that no instance uses."""
    mine = cluster_instances(ec2, owner.user, owner.cluster)
    ids = [str(i["InstanceId"]) for i in mine]
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
        for iid in ids:
            wait_state(ec2, iid, "terminated", timeout)
    used = {g["GroupId"] for i in mine for g in i.get("SecurityGroups", [])} | set(groups)
    in_use = {g["GroupId"] for i in cluster_instances(ec2, owner.user) for g in i.get("SecurityGroups", [])}
    for group_id in used - in_use:
        ec2.delete_security_group(GroupId=group_id)
    return ids


def regions(ec2: Ec2) -> list[str]:
    """Every region enabled for the account."""
    return sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"])


def tagged_everywhere(user: str, region_names: list[str]) -> list[dict[str, str]]:
    """Every non-terminated instance of ``user`` in ``region_names``: region, cluster, id, state."""
    rows = []
    for region in region_names:
        for inst in cluster_instances(client(region), user):
            tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
            rows.append({"region": region, "cluster": tags.get(TAG_CLUSTER, "?"),
                         "instance_id": str(inst["InstanceId"]), "state": inst["State"]["Name"],
                         "instance_type": str(inst["InstanceType"]),
                         "zone": str(inst["Placement"]["AvailabilityZone"])})  # fmt: skip
    return rows
