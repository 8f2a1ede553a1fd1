"""Why a Slurm job's kernel ended: Slurm's verdict (time limit, scancel, node failure ...) or
the kernel's own exit note."""

from __future__ import annotations

import shlex
import time

from jupyter_sky.errors import InfraError
from jupyter_sky.infra.slurm import records as rec
from jupyter_sky.infra.slurm.handle import SlurmHandle
from jupyter_sky.transport.ssh import SshConnection


def exit_reason(conn: SshConnection, handle: SlurmHandle, wait: float) -> str:
    """Slurm's verdict on the job, else the kernel's own note, else ``""``.

    A kernel killed by Slurm dies while the job is still RUNNING or COMPLETING; the final
    state follows within seconds, so it is polled for up to ``wait`` seconds.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            own, fields = _job_end(conn, handle)
        except InfraError:
            return ""
        state = fields.get("JobState", "")
        verdict = rec.END_REASONS.get(state) or rec.END_REASONS.get(fields.get("Reason", ""))
        if verdict or own or state not in rec.STILL_GOING or time.monotonic() > deadline:
            return verdict or own
        time.sleep(0.25)


def _job_end(conn: SshConnection, handle: SlurmHandle) -> tuple[str, dict[str, str]]:
    res = conn.run(
        f"cat {shlex.quote(handle.dir)}/exit.txt 2>/dev/null; echo; "
        f"scontrol show job -o {shlex.quote(handle.job)} 2>/dev/null",
        timeout=15,
    )
    own, _, job_line = res.out.partition("\n")
    return own.strip(), rec.parse_scontrol(job_line)
