"""Google Cloud (Compute Engine) infra: failover classification, credentials (SDK imported lazily)."""
