"""A jupyter-sky kernel process on an SSH host: start it, watch it, signal it, stop it.

Start and wait are one remote command (one round trip plus the kernel's own start time).
Liveness is watched by a background thread, once a second, so ``is_alive`` — asked every
250 ms while a cell runs — never touches the network.
"""

from __future__ import annotations

import json
import posixpath
import shlex
import threading
from dataclasses import dataclass, field
from typing import Any

from jupyter_sky.errors import InfraError
from jupyter_sky.transport.forward import ForwardSet
from jupyter_sky.transport.ssh import SshConnection

START_TIMEOUT = 60.0
WATCH_SECONDS = 1.0
# The exit reason a down leaves: a cell still running on the kernel (another notebook's) says it.
TAKEN_DOWN = "the cluster was taken down: %sky down or the lab panel's Down"
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")

# The cell's --env values come on stdin into a 0600 file, read and removed at once: on the
# command line every user of the host could read them with ps.
_START = r"""
mkdir -p -m 700 {cdir} && rm -f {conn} {exit} && cd {cwd} || exit 5
(umask 077 && cat > {envf}) && . {envf} && rm -f {envf} || exit 5
S=$(command -v setsid || true)
nohup $S {python} -m jupyter_sky.remote.kernel -f {conn} {args} \
    > {log} 2>&1 < /dev/null &
pid=$!
echo "pid $pid"
i=0
while [ $i -lt {polls} ]; do
    if grep -q hb_port {conn} 2>/dev/null; then sleep 0.01; cat {conn}; exit 0; fi
    kill -0 $pid 2>/dev/null || {{ echo; echo "exited"; tail -n 5 {log}; exit 3; }}
    sleep 0.02; i=$((i+1))
done
echo; echo timeout; exit 4
"""

_STOP = r"""
running() {{ ps -o stat=,args= -p {pid} 2>/dev/null | grep -v '^Z' | grep -qF -- {conn}; }}
if running; then
    [ -e {exit} ] || echo {why} > {exit}  # what a cell still running there is told
    kill -TERM {pid} 2>/dev/null
    i=0; while running && [ $i -lt 150 ]; do sleep 0.02; i=$((i+1)); done
    running && kill -KILL {pid} 2>/dev/null
fi
rm -f {conn}
"""


def start_kernel(
    conn: SshConnection,
    python: str,
    cluster_dir: str,
    cwd: str,
    args: list[str],
    env: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    """Start ``python -m jupyter_sky.remote.kernel`` detached on the host.

    Parameters
    ----------
    conn : SshConnection
        The host's connection.
    python : str
        The interpreter (see :func:`~jupyter_sky.transport.bootstrap.ensure_python`).
    cluster_dir : str
        Absolute directory on the host for the connection file, log and exit reason.
    cwd : str
        The kernel's working directory on the host.
    args : list of str
        Extra kernel options (``--idle-minutes``, ``--autostop-minutes``).
    env : dict
        Variables for the kernel's environment.

    Returns
    -------
    (int, dict)
        The kernel's pid on the host and its connection info (remote ports).
    """
    q = shlex.quote
    conn_file = f"{cluster_dir}/kernel.json"
    script = _START.format(
        cdir=q(cluster_dir),
        conn=q(conn_file),
        exit=q(f"{cluster_dir}/exit.txt"),
        log=q(f"{cluster_dir}/kernel.log"),
        cwd=q(cwd),
        python=q(python),
        args=" ".join(q(a) for a in [*args, "--ip", "127.0.0.1"]),
        envf=q(f"{cluster_dir}/env.sh"),
        polls=int(START_TIMEOUT / 0.02),
    )
    res = conn.run(script, timeout=START_TIMEOUT + 30, stdin=env_file(env))
    head, _, rest = res.out.partition("\n")
    if res.rc != 0 or not head.startswith("pid "):
        why = {3: "exited while starting", 4: f"did not start within {START_TIMEOUT:g} s"}
        raise InfraError(
            f"The kernel on SSH host '{conn.spec.name}' {why.get(res.rc, 'could not start')} "
            f"({res.last_line()}); see {cluster_dir}/kernel.log there."
        )
    return int(head.split()[1]), json.loads(rest)


def env_file(env: dict[str, str]) -> bytes:
    """``export K='v'`` lines for ``.`` in the start script (keys are checked names)."""
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()).encode()


def stop_kernel(conn: SshConnection, pid: int, conn_file: str) -> None:
    """SIGTERM, up to 3 s, SIGKILL; only if the pid still runs our kernel (pid reuse)."""
    exit_file = shlex.quote(f"{posixpath.dirname(conn_file)}/exit.txt")
    why = shlex.quote(TAKEN_DOWN)
    script = _STOP.format(pid=int(pid), conn=shlex.quote(conn_file), exit=exit_file, why=why)
    conn.run(script, timeout=30)


def signal_kernel(conn: SshConnection, pid: int, sig: str = "INT") -> None:
    """Send a signal (``INT`` interrupts the running cell)."""
    conn.run(f"kill -{sig} {int(pid)}", timeout=15)


def kernel_running(conn: SshConnection, pid: int, conn_file: str) -> bool:
    """One round trip: does ``pid`` still run the kernel of ``conn_file``?"""
    res = conn.run(f"ps -o stat=,args= -p {int(pid)}", timeout=15)
    line = res.out.strip()
    return bool(line) and not line.startswith("Z") and conn_file in line


@dataclass
class RemoteKernel:
    """This process's view of one remote kernel: its forwards and its cached liveness."""

    conn: SshConnection
    pid: int
    conn_file: str
    info: dict[str, Any]
    address: str = "127.0.0.1"  # where the kernel listens, as seen from the SSH host
    alive: bool = True
    forwards: ForwardSet | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def local_info(self) -> dict[str, Any]:
        """The connection info with the ports of local forwards (opened on first use)."""
        if self.forwards is None:
            ports = {name: int(self.info[name]) for name in PORTS}
            self.forwards = ForwardSet(self.conn.open_channel, self.address, ports)
        local = {**self.info, "ip": "127.0.0.1", "transport": "tcp"}
        local.update(self.forwards.local_ports())
        return local

    def watch(self) -> None:
        """Start the background liveness check (idempotent)."""
        if self._thread is None:
            name = f"jupyter-sky-alive-{self.pid}"
            self._thread = threading.Thread(target=self._watch, name=name, daemon=True)
            self._thread.start()

    def check(self) -> bool:
        """One round trip: is the kernel still running?"""
        return kernel_running(self.conn, self.pid, self.conn_file)

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            try:
                self.alive = self.check()
            except Exception:  # noqa: BLE001 - reconnect failed: not alive, keep trying
                self.alive = False
                continue
            if not self.alive:
                return  # a pid that ended does not come back

    def close(self) -> None:
        """Stop watching and cut the forwards (the kernel itself is not touched)."""
        self._stop.set()
        if self.forwards is not None:
            self.forwards.close()
            self.forwards = None
