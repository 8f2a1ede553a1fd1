"""Kernels on the target: session (one I/O thread per kernel), execute, relay, replay, bridge, clusters."""
