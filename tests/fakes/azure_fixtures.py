"""Fixtures for the simulated Azure: the fake ARM and real azure-mgmt clients pointed at it.

Test modules wrap ``running_fake`` and ``clean_clients`` in fixtures of their own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from fakes.azure_arm import AzureArmFake

SUBSCRIPTION = "00000000-5eed-4000-8000-000000000013"


class StaticCredential:
    """The whole TokenCredential the ARM pipeline needs; never talks to Entra ID."""

    def get_token(self, *scopes: str, **kwargs: object) -> object:
        from azure.core.credentials import AccessToken

        return AccessToken("simulated-token", int(time.time()) + 3600)


@dataclass
class AzureClients:
    """Real azure-mgmt clients over HTTPS to the fake (its CA trusted, polling without sleeps)."""

    compute: object
    network: object
    resources: object


def make_clients(fake: AzureArmFake, retry_total: int = 0) -> AzureClients:
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    # polling_interval=0: Retry-After: 0 is falsy in azure-core's poller, which then waits 30 s.
    common = {"base_url": fake.url, "connection_verify": fake.ca_pem, "polling_interval": 0,
              "retry_total": retry_total}
    cred = StaticCredential()
    return AzureClients(
        compute=ComputeManagementClient(cred, SUBSCRIPTION, **common),  # type: ignore[arg-type]
        network=NetworkManagementClient(cred, SUBSCRIPTION, **common),  # type: ignore[arg-type]
        resources=ResourceManagementClient(cred, SUBSCRIPTION, **common),  # type: ignore[arg-type]
    )


def running_fake() -> Iterator[AzureArmFake]:
    """A started fake, stopped afterwards (wrap it in a module-scoped fixture)."""
    fake = AzureArmFake()
    fake.start()
    yield fake
    fake.stop()


def clean_clients(fake: AzureArmFake) -> Iterator[AzureClients]:
    """Clients on a fake with no rules armed."""
    fake.faults.clear()
    yield make_clients(fake)
    fake.faults.clear()
