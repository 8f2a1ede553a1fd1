"""Fixtures of the simulated GCP tests (defined in tests/fakes/gcp_fixtures.py)."""

from fakes.gcp_fixtures import gcp, gcp_fake  # noqa: F401
