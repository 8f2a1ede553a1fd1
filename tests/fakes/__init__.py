"""Simulated cloud APIs (GCP Compute, Azure ARM) that the real SDKs talk to over HTTP on 127.0.0.1."""
