"""Where a Slurm cluster's kernel runs: its batch job and the node that runs it."""

from __future__ import annotations

from dataclasses import dataclass

from jupyter_sky.infra.base import Handle


@dataclass
class SlurmHandle(Handle):
    """A kernel in a Slurm batch job; ``node``, ``addr`` and ``pid`` are known once it runs."""

    cluster: str
    partition: str
    job: str
    dir: str
    connection_file: str
    python: str
    node: str = ""
    addr: str = ""
    pid: int = 0
    ends_at: float | None = None  # wall clock; the handle outlives this process
