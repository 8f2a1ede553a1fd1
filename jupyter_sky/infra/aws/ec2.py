"""What the AWS infra asks EC2 besides one launch attempt, and how EC2's answers become the
seam's errors (boto3 imported lazily, inside functions).

- :func:`aws_calls` turns a botocore error (or a failed attempt) into ``CapacityError`` /
  ``QuotaError`` / ``CredentialError`` with the scope failover obeys, or one plain sentence.
- :func:`zones` lists the zones of a region where an instance type is offered and a subnet
  to launch into exists (cached per process).

The watcher that stops the VM once its kernel ended on its own is
:func:`jupyter_sky.infra.vm_kernel.selfstop_script` running :mod:`.selfstop`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from functools import lru_cache

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.aws import provision
from jupyter_sky.infra.aws.errors import Verdict, classify_client_error
from jupyter_sky.infra.aws.launch import AttemptFailed
from jupyter_sky.infra.aws.selfstop import TAG_STOPPED  # the VM's own stop call tags why
from jupyter_sky.infra.base import CapacityError, CredentialError, QuotaError

__all__ = ["TAG_STOPPED", "aws_calls", "seam_error", "zone_name", "zones"]


def seam_error(verdict: Verdict) -> InfraError:
    """The seam's error for ``verdict``; failover names the place, so capacity and quota say
    only what and the code ("no capacity (InsufficientInstanceCapacity)"). A plain InfraError
    stops failover and is shown with the whole sentence."""
    if verdict.kind == "capacity":
        return CapacityError(f"no capacity ({verdict.code})", verdict.scope)
    if verdict.kind == "retry":  # throttling or 5xx, already retried in place
        return CapacityError(f"AWS kept failing ({verdict.code or 'no answer'})", "zone")
    if verdict.kind == "quota":
        return QuotaError(f"quota reached for the region ({verdict.code})", verdict.scope)
    if verdict.kind == "credential":
        return CredentialError(verdict.sentence, verdict.scope)
    return InfraError(verdict.sentence)


@contextlib.contextmanager
def aws_calls(where: str) -> Iterator[None]:
    """Turn what boto3 raises inside the block into one sentence of the seam's kind."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        TokenRetrievalError,
    )

    try:
        yield
    except AttemptFailed as exc:
        raise seam_error(exc.verdict) from None
    except ClientError as exc:
        raise seam_error(classify_client_error(exc, where)) from None
    except (NoCredentialsError, PartialCredentialsError, TokenRetrievalError) as exc:
        raise CredentialError(f"AWS has no usable credentials here ({exc}).", "infra") from None
    except EndpointConnectionError as exc:
        raise InfraError(f"AWS's EC2 endpoint cannot be reached for {where} ({exc}).") from None
    except NoRegionError:
        raise InfraError("no AWS region: write --infra aws/<region> or set AWS_REGION.") from None
    except BotoCoreError as exc:
        raise InfraError(f"the AWS call for {where} failed ({exc}).") from None


@lru_cache(maxsize=64)
def _zone_table(region: str) -> tuple[tuple[str, str], ...]:
    """``((zone name, zone id), ...)`` of the region's available zones."""
    found = provision.client(region).describe_availability_zones(
        Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"]  # fmt: skip
    return tuple(sorted((str(z["ZoneName"]), str(z.get("ZoneId", ""))) for z in found))


def zone_name(region: str, zone: str) -> str:
    """``zone`` as a name (``us-east-1a``), also when the catalog gave its id (``use1-az6``)."""
    if zone.startswith(region):
        return zone
    for name, zone_id in _zone_table(region):
        if zone_id == zone:
            return name
    raise InfraError(f"there is no zone {zone!r} in AWS region {region}.")


@lru_cache(maxsize=256)
def zones(region: str, instance_type: str, vpc_name: str | None) -> tuple[str, ...]:
    """The zones of ``region`` that offer ``instance_type`` and have a subnet to launch into."""
    ec2 = provision.client(region)
    offered = ec2.describe_instance_type_offerings(
        LocationType="availability-zone",
        Filters=[{"Name": "instance-type", "Values": [instance_type]}])["InstanceTypeOfferings"]  # fmt: skip
    where = {str(o["Location"]) for o in offered}
    if not where:
        return ()
    filters = [{"Name": "default-for-az", "Values": ["true"]}]
    if vpc_name:
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [vpc_name]}])["Vpcs"]
        filters = [{"Name": "vpc-id", "Values": [str(v["VpcId"]) for v in vpcs] or ["none"]}]
    subnets = ec2.describe_subnets(Filters=filters)["Subnets"]
    usable = {str(s["AvailabilityZone"]) for s in subnets}
    return tuple(name for name, _ in _zone_table(region) if name in where and name in usable)


def public_cidr() -> str:
    """This machine's public address as ``a.b.c.d/32``."""
    from jupyter_sky.infra.vm_access import public_cidr as lookup

    return lookup("aws.ssh_cidr")


def default_region() -> str:
    """The region boto3 would use when none is named (``AWS_REGION``, ``AWS_DEFAULT_REGION``)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
