"""What a notebook kernel leaves running when it shuts down: logged, never asked.

At interpreter exit each cluster this kernel holds is named with where it runs, its $/h and
when it will stop on its own: the remote idle watchdog ends a kernel no notebook holds after
``defaults.idle_minutes`` (a cloud VM's watcher then stops it), autostop after its minutes
with no cell and no notebook. The lines go to the kernel's log (stderr, which Jupyter keeps)
and to ``sky_home()/shutdown.log``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_sky.kernel.manager import Manager

LOG_FILE = "shutdown.log"


def left_running(mgr: Manager, idle_minutes: float, now: float | None = None) -> list[str]:
    """One line per cluster of this kernel that is still up."""
    now = time.time() if now is None else now
    lines = []
    for name, live in list(mgr.live.items()):
        record = mgr.store.get_cluster(name)
        if record is None or record.state != "UP":
            continue
        autostop = record.placement.get("autostop_minutes")
        minutes, why = idle_minutes, f"idle watchdog after {idle_minutes:g} minutes"
        if autostop is not None and float(autostop) < idle_minutes:
            minutes, why = float(autostop), f"autostop after {float(autostop):g} idle minutes"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(now + minutes * 60))
        price = f"${record.cost_per_hour:.2f}/h" if record.cost_per_hour else "unpriced"
        lines.append(
            f"jupyter-sky: this kernel shuts down leaving cluster '{name}' ({live.where()}, "
            f"{price}) running; it stops by {when} ({why})"
        )
    return lines


def log_left_running(mgr: Manager | None) -> None:
    """At kernel shutdown: log which clusters stay up and when they stop (no prompt)."""
    if mgr is None or not mgr.live:
        return
    from jupyter_sky.config import load_config, sky_home

    try:
        idle = load_config(Path.cwd()).defaults.idle_minutes
        lines = left_running(mgr, idle)
    except Exception as exc:  # noqa: BLE001 - shutdown must go on; say what could not be said
        lines = [f"jupyter-sky: could not list the clusters left running ({exc})"]
    for line in lines:
        print(line, file=sys.__stderr__, flush=True)
    try:
        with open(sky_home() / LOG_FILE, "a", encoding="utf-8") as log:
            log.writelines(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n" for line in lines)
    except OSError:
        pass
