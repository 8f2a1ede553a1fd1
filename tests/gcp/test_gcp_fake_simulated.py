"""The simulated Compute Engine API, driven by the real google-cloud-compute SDK over HTTP.

These tests check the fake itself (tests/fakes/gcp_compute.py): that the real SDK's create /
poll / list / delete work against it, and that each fault rule surfaces as the exception and
error code the real SDK raises for the real API's error.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from fakes.gcp_compute import GcpComputeFake
from fakes.gcp_fixtures import GcpClients, clean_clients, running_fake
from google.api_core import exceptions as gexc
from google.api_core.future import polling
from google.cloud import compute_v1

P = "sim-project"
ZONE = "us-central1-a"


@pytest.fixture(scope="module")
def gcp_fake() -> Iterator[GcpComputeFake]:
    yield from running_fake()


@pytest.fixture
def gcp(gcp_fake: GcpComputeFake) -> Iterator[GcpClients]:
    yield from clean_clients(gcp_fake)


FAST = polling.DEFAULT_POLLING.with_delay(initial=0.01, maximum=0.05).with_timeout(10)


def instance(name: str, zone: str = ZONE, machine: str = "n1-standard-4", gpu: str | None = "nvidia-tesla-t4",
             spot: bool = False, image: str = "projects/debian-cloud/global/images/family/debian-12",
             maintenance: str = "TERMINATE") -> compute_v1.Instance:
    accels = [compute_v1.AcceleratorConfig(accelerator_type=f"zones/{zone}/acceleratorTypes/{gpu}", accelerator_count=1)] if gpu else []
    scheduling = compute_v1.Scheduling(on_host_maintenance=maintenance)
    if spot:
        scheduling.provisioning_model, scheduling.instance_termination_action = "SPOT", "DELETE"
    return compute_v1.Instance(
        name=name, machine_type=f"zones/{zone}/machineTypes/{machine}",
        labels={"jsky-cluster": name, "jsky-user": "tester"},
        metadata=compute_v1.Metadata(items=[compute_v1.Items(key="ssh-keys", value="sky:ssh-ed25519 AAAAC3Nza sky@test")]),
        disks=[compute_v1.AttachedDisk(boot=True, auto_delete=True, initialize_params=compute_v1.AttachedDiskInitializeParams(source_image=image, disk_size_gb=50))],
        network_interfaces=[compute_v1.NetworkInterface(network="global/networks/default", access_configs=[compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")])],
        guest_accelerators=accels, scheduling=scheduling,
    )


def create(gcp: GcpClients, inst: compute_v1.Instance, zone: str = ZONE) -> None:
    gcp.instances.insert(project=P, zone=zone, instance_resource=inst).result(polling=FAST)  # type: ignore[attr-defined]


def status(gcp: GcpClients, name: str, zone: str = ZONE) -> str:
    return str(gcp.instances.get(project=P, zone=zone, instance=name).status)  # type: ignore[attr-defined]


def arm(fake: GcpComputeFake, **rule: object) -> None:
    """Arm a fault rule over the fake's HTTP fault endpoint, as a lab script would."""
    req = urllib.request.Request(fake.url + "/_fault/rules", data=json.dumps(rule).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert any(r["code"] == rule["code"] for r in json.load(resp)["rules"])


def test_lifecycle_create_poll_list_stop_start_delete(gcp: GcpClients, gcp_fake: GcpComputeFake) -> None:
    create(gcp, instance("skygcp-life", spot=True))
    got = gcp.instances.get(project=P, zone=ZONE, instance="skygcp-life")  # type: ignore[attr-defined]
    assert got.status == "RUNNING"
    assert dict(got.labels) == {"jsky-cluster": "skygcp-life", "jsky-user": "tester"}
    assert got.scheduling.provisioning_model == "SPOT"
    nic = got.network_interfaces[0]
    assert nic.network_i_p.startswith("10.213.1") and nic.access_configs[0].nat_i_p.startswith("10.213.1")
    [run] = [r for r in gcp_fake.running_instances() if r.name == "skygcp-life"]
    assert (run.ssh_user, run.authorized_keys, run.private_ip) == ("sky", ("ssh-ed25519 AAAAC3Nza sky@test",), nic.network_i_p)
    listed = gcp.instances.aggregated_list(request={"project": P, "filter": 'labels.jsky-cluster = "skygcp-life"'})  # type: ignore[attr-defined]
    assert [(s, i.name) for s, sl in listed for i in sl.instances] == [(f"zones/{ZONE}", "skygcp-life")]
    gcp.instances.stop(project=P, zone=ZONE, instance="skygcp-life").result(polling=FAST)  # type: ignore[attr-defined]
    assert status(gcp, "skygcp-life") == "TERMINATED"
    assert "skygcp-life" not in [r.name for r in gcp_fake.running_instances()]
    gcp.instances.start(project=P, zone=ZONE, instance="skygcp-life").result(polling=FAST)  # type: ignore[attr-defined]
    assert status(gcp, "skygcp-life") == "RUNNING"
    gcp.instances.delete(project=P, zone=ZONE, instance="skygcp-life").result(polling=FAST)  # type: ignore[attr-defined]
    with pytest.raises(gexc.NotFound):
        status(gcp, "skygcp-life")


def test_operations_advance_only_when_polled(gcp: GcpClients, gcp_fake: GcpComputeFake) -> None:
    op = gcp.instances.insert(project=P, zone=ZONE, instance_resource=instance("skygcp-poll"))  # type: ignore[attr-defined]
    assert status(gcp, "skygcp-poll") == "PROVISIONING"
    done = gcp.zone_ops.wait(project=P, zone=ZONE, operation=op.name)  # type: ignore[attr-defined]
    assert done.status == compute_v1.Operation.Status.DONE and not done.error.errors
    assert status(gcp, "skygcp-poll") == "RUNNING"
    before = len(gcp_fake.server.requests)
    gcp.instances.delete(project=P, zone=ZONE, instance="skygcp-poll").result(polling=FAST)  # type: ignore[attr-defined]
    op_gets = [p for m, p in gcp_fake.server.requests[before:] if m == "GET" and "/operations/" in p]
    assert len(op_gets) == 2  # one RUNNING answer, then DONE
    assert not any(k[2] == "skygcp-poll" for k in gcp_fake.instances)


@pytest.mark.parametrize(("code", "exc", "status_code"), [
    ("ZONE_RESOURCE_POOL_EXHAUSTED", gexc.ServiceUnavailable, 503),
    ("ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", gexc.ServiceUnavailable, 503),
    ("QUOTA_EXCEEDED", gexc.Forbidden, 403),
])
def test_operation_faults_in_one_zone(gcp: GcpClients, gcp_fake: GcpComputeFake, code: str, exc: type, status_code: int) -> None:
    arm(gcp_fake, action="instances.insert", code=code, match={"zone": ZONE})
    with pytest.raises(exc) as err:
        create(gcp, instance("skygcp-full"))
    assert err.value.code == status_code
    assert err.value.errors[0].code == code
    assert not any(k[2] == "skygcp-full" for k in gcp_fake.instances), "a failed insert leaves nothing"
    create(gcp, instance("skygcp-full", zone="us-central1-b"), zone="us-central1-b")  # the next zone works
    gcp.instances.delete(project=P, zone="us-central1-b", instance="skygcp-full").result(polling=FAST)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("code", "exc", "reason", "text"), [
    ("quotaExceeded", gexc.Forbidden, "quotaExceeded", "in region us-central1"),
    ("GPUS_ALL_REGIONS", gexc.Forbidden, "quotaExceeded", "GPUS_ALL_REGIONS"),
    ("PERMISSION_DENIED", gexc.Forbidden, "forbidden", "compute.instances.create"),
    ("UNAUTHENTICATED", gexc.Unauthorized, "authError", "invalid authentication"),
    ("RATE_LIMIT", gexc.TooManyRequests, "rateLimitExceeded", "Rate Limit"),
])
def test_synchronous_faults(gcp: GcpClients, gcp_fake: GcpComputeFake, code: str, exc: type, reason: str, text: str) -> None:
    # after a 401 the SDK refreshes its token and retries twice: keep the rule armed for all three
    times = 3 if code == "UNAUTHENTICATED" else 1
    arm(gcp_fake, action="instances.insert", code=code, match={"region": "us-central1"}, times=times)
    with pytest.raises(exc) as err:
        gcp.instances.insert(project=P, zone=ZONE, instance_resource=instance("skygcp-sync"))  # type: ignore[attr-defined]
    assert err.value.errors[0]["reason"] == reason
    assert text in err.value.message
    assert not gcp_fake.faults.rules(), "the failing calls used the rule up"
    assert not any(k[2] == "skygcp-sync" for k in gcp_fake.instances)


def test_throttled_read_then_recovers(gcp: GcpClients, gcp_fake: GcpComputeFake) -> None:
    create(gcp, instance("skygcp-429", gpu=None, machine="n2-standard-4", maintenance="MIGRATE"))
    arm(gcp_fake, action="instances.get", code="RATE_LIMIT", times=1)
    with pytest.raises(gexc.TooManyRequests):
        gcp.instances.get(project=P, zone=ZONE, instance="skygcp-429", retry=None)  # type: ignore[attr-defined]
    assert status(gcp, "skygcp-429") == "RUNNING"
    gcp.instances.delete(project=P, zone=ZONE, instance="skygcp-429").result(polling=FAST)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("inst", "zone", "exc", "text"), [
    (instance("skygcp-bad", zone="mars-central1-a"), "mars-central1-a", gexc.NotFound, "zones/mars-central1-a"),
    (instance("skygcp-bad", machine="a2-highgpu-1g", gpu=None, zone="us-west1-c"), "us-west1-c", gexc.BadRequest, "does not exist in zone"),
    (instance("skygcp-bad", gpu="nvidia-h100-80gb"), ZONE, gexc.BadRequest, "Accelerator type"),
    (instance("skygcp-bad", maintenance="MIGRATE"), ZONE, gexc.BadRequest, "live migration"),
    (instance("skygcp-bad", image="projects/debian-cloud/global/images/family/nope"), ZONE, gexc.NotFound, "family/nope"),
    (instance("Bad_Name"), ZONE, gexc.BadRequest, "resource.name"),
])
def test_bad_input_creates_nothing(gcp: GcpClients, gcp_fake: GcpComputeFake, inst: compute_v1.Instance, zone: str, exc: type, text: str) -> None:
    with pytest.raises(exc) as err:
        gcp.instances.insert(project=P, zone=zone, instance_resource=inst)  # type: ignore[attr-defined]
    assert text in err.value.message
    assert not any(k[2] in ("skygcp-bad", "Bad_Name") for k in gcp_fake.instances)


def test_duplicate_name_conflicts(gcp: GcpClients) -> None:
    create(gcp, instance("skygcp-dup"))
    with pytest.raises(gexc.Conflict):
        gcp.instances.insert(project=P, zone=ZONE, instance_resource=instance("skygcp-dup"))  # type: ignore[attr-defined]
    gcp.instances.delete(project=P, zone=ZONE, instance="skygcp-dup").result(polling=FAST)  # type: ignore[attr-defined]


def test_spot_preemption_deletes(gcp: GcpClients, gcp_fake: GcpComputeFake) -> None:
    create(gcp, instance("skygcp-spot", spot=True))
    gcp_fake.preempt(P, ZONE, "skygcp-spot")
    with pytest.raises(gexc.NotFound):
        status(gcp, "skygcp-spot")


def test_firewall_insert_list_delete(gcp: GcpClients) -> None:
    rule = compute_v1.Firewall(name="skygcp-c1-ssh", network="global/networks/default", source_ranges=["192.0.2.7/32"],
                               allowed=[compute_v1.Allowed(I_p_protocol="tcp", ports=["22"])], target_tags=["skygcp-c1"])
    gcp.firewalls.insert(project=P, firewall_resource=rule).result(polling=FAST)  # type: ignore[attr-defined]
    got = gcp.firewalls.get(project=P, firewall="skygcp-c1-ssh")  # type: ignore[attr-defined]
    assert list(got.source_ranges) == ["192.0.2.7/32"] and got.allowed[0].ports == ["22"]
    names = [f.name for f in gcp.firewalls.list(request={"project": P, "filter": 'name eq "skygcp-.*"'})]  # type: ignore[attr-defined]
    assert names == ["skygcp-c1-ssh"]
    gcp.firewalls.delete(project=P, firewall="skygcp-c1-ssh").result(polling=FAST)  # type: ignore[attr-defined]
    with pytest.raises(gexc.NotFound):
        gcp.firewalls.get(project=P, firewall="skygcp-c1-ssh")  # type: ignore[attr-defined]


def test_zones_regions_images_machine_types(gcp: GcpClients) -> None:
    zones = {z.name: z.region.rsplit("/", 1)[-1] for z in gcp.zones.list(project=P)}  # type: ignore[attr-defined]
    assert zones[ZONE] == "us-central1"
    regions = {r.name: len(r.zones) for r in gcp.regions.list(project=P)}  # type: ignore[attr-defined]
    assert regions["us-central1"] == 4
    image = gcp.images.get_from_family(project="deeplearning-platform-release", family="common-cu124-debian-11-py310")  # type: ignore[attr-defined]
    assert image.status == "READY" and image.family == "common-cu124-debian-11-py310"
    a2 = gcp.machine_types.get(project=P, zone=ZONE, machine_type="a2-highgpu-1g")  # type: ignore[attr-defined]
    assert (a2.accelerators[0].guest_accelerator_type, a2.accelerators[0].guest_accelerator_count) == ("nvidia-tesla-a100", 1)
    with pytest.raises(gexc.NotFound):
        gcp.images.get_from_family(project="debian-cloud", family="no-such-family")  # type: ignore[attr-defined]


# -- failover classification of what the real SDK raised (jupyter_sky/infra/gcp/errors.py) --------
@pytest.mark.parametrize(("code", "kind", "scope"), [
    ("ZONE_RESOURCE_POOL_EXHAUSTED", "capacity", "zone"),
    ("ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", "capacity", "zone"),
    ("resourcePoolExhausted", "capacity", "zone"),
    ("QUOTA_EXCEEDED", "quota", "region"),
    ("quotaExceeded", "quota", "region"),
    ("GPUS_ALL_REGIONS", "quota", "infra"),
    ("PERMISSION_DENIED", "credential", "infra"),
    ("UNAUTHENTICATED", "credential", "infra"),
    ("RATE_LIMIT", "retry", "zone"),
])
def test_failover_classification(gcp: GcpClients, gcp_fake: GcpComputeFake, code: str, kind: str, scope: str) -> None:
    from jupyter_sky.infra.gcp.errors import classify_exception

    arm(gcp_fake, action="instances.insert", code=code, match={"zone": ZONE})
    with pytest.raises(gexc.GoogleAPICallError) as err:
        create(gcp, instance("skygcp-class"))
    verdict = classify_exception(err.value, f"gcp/{ZONE} n1-standard-4")
    assert (verdict.kind, verdict.scope) == (kind, scope)
    assert verdict.sentence.endswith(".") and "\n" not in verdict.sentence
    assert not any(k[2] == "skygcp-class" for k in gcp_fake.instances)


@pytest.mark.parametrize("inst", [
    instance("skygcp-fatal", machine="a2-highgpu-1g", gpu=None, zone="us-west1-c"),
    instance("skygcp-fatal", image="projects/debian-cloud/global/images/family/nope"),
])
def test_bad_input_is_fatal_not_failover(gcp: GcpClients, inst: compute_v1.Instance) -> None:
    from jupyter_sky.infra.gcp.errors import classify_exception

    zone = inst.machine_type.split("/")[1]
    with pytest.raises(gexc.GoogleAPICallError) as err:
        gcp.instances.insert(project=P, zone=zone, instance_resource=inst)  # type: ignore[attr-defined]
    verdict = classify_exception(err.value, f"gcp/{zone}")
    assert verdict.kind == "fatal" and ("does not exist" in verdict.sentence or "was not found" in verdict.sentence)
