"""Variables between the notebook and the remote kernel: analysis, preflight, serialisation, push and pull."""
