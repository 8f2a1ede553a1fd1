"""Fixtures for the simulated GCP: the fake Compute Engine and real SDK clients pointed at it.

Test modules wrap ``running_fake`` and ``clean_clients`` in fixtures of their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from fakes.gcp_compute import GcpComputeFake

PROJECT = "sim-project"


@dataclass
class GcpClients:
    """Real google-cloud-compute clients talking REST to the fake (anonymous credentials)."""

    instances: object
    zone_ops: object
    global_ops: object
    firewalls: object
    zones: object
    regions: object
    images: object
    machine_types: object


def static_credentials() -> object:
    """A bearer-token credential that refreshes locally (as ADC's would, without any network)."""
    from google.auth.credentials import Credentials

    class StaticToken(Credentials):  # type: ignore[misc]
        def refresh(self, request: object) -> None:
            self.token = "simulated-token"

    return StaticToken()


def make_clients(url: str) -> GcpClients:
    from google.cloud import compute_v1

    # Anonymous credentials cannot refresh after a 401; a refreshable token behaves like ADC.
    cred = static_credentials()
    opts = {"api_endpoint": url}

    def make(cls: type) -> object:
        return cls(credentials=cred, client_options=opts)

    clients = GcpClients(
        instances=make(compute_v1.InstancesClient),
        zone_ops=make(compute_v1.ZoneOperationsClient),
        global_ops=make(compute_v1.GlobalOperationsClient),
        firewalls=make(compute_v1.FirewallsClient),
        zones=make(compute_v1.ZonesClient),
        regions=make(compute_v1.RegionsClient),
        images=make(compute_v1.ImagesClient),
        machine_types=make(compute_v1.MachineTypesClient),
    )
    # ExtendedOperation.result() polls through an internal operations client built without
    # client_options (it would poll compute.googleapis.com); point it at the fake.
    clients.instances._transport._extended_operations_services["zone_operations"] = clients.zone_ops  # type: ignore[attr-defined]
    clients.firewalls._transport._extended_operations_services["global_operations"] = clients.global_ops  # type: ignore[attr-defined]
    return clients


def running_fake() -> Iterator[GcpComputeFake]:
    """A started fake, stopped afterwards (wrap it in a module-scoped fixture)."""
    os.environ.setdefault("NO_GCE_CHECK", "true")
    fake = GcpComputeFake()
    fake.start()
    yield fake
    fake.stop()


def clean_clients(fake: GcpComputeFake) -> Iterator[GcpClients]:
    """Clients on a clean fake: every test starts with no rules armed."""
    fake.faults.clear()
    yield make_clients(fake.url)
    fake.faults.clear()
