"""Azure (ARM compute/network/resource) infra: failover classification, credentials (SDK imported lazily)."""
