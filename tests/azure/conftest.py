"""Fixtures of the simulated Azure tests (defined in tests/fakes/azure_fixtures.py)."""

from fakes.azure_fixtures import azure, azure_fake  # noqa: F401
