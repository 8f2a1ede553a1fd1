"""Start an IPython kernel tuned for jupyter-sky, with the agent installed.

Usage: ``python -m jupyter_sky.remote.kernel -f CONNECTION_FILE [--idle-minutes N]
[--autostop-minutes M] [--transport ipc --ip /private/dir/k]``. The kernel binds random ports
itself and writes the connection file (no port race); it runs in its own session so it outlives
the notebook kernel, and its idle watchdog ends it when no notebook has been attached for ``--idle-minutes``.
"""

from __future__ import annotations

import argparse
import sys


def _skip_empty_flushes() -> None:
    # Every execute flushes stdout and stderr through the I/O thread and waits for it:
    # two thread round trips per cell even when nothing was printed.
    from ipykernel.iostream import OutStream

    original = OutStream.flush

    def flush(self: OutStream) -> None:
        if getattr(self, "_buffers", True) or getattr(self, "echo", None) is not None:
            original(self)

    OutStream.flush = flush  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="jupyter_sky.remote.kernel")
    parser.add_argument("-f", dest="connection_file", required=True)
    parser.add_argument("--idle-minutes", type=float, default=60.0)
    parser.add_argument("--autostop-minutes", type=float, default=None)
    parser.add_argument("--ip", default="127.0.0.1")
    # ipc: Unix sockets named ``<ip>-<n>``; the directory's 0700 keeps other users out.
    parser.add_argument("--transport", choices=("tcp", "ipc"), default="tcp")
    opts = parser.parse_args(argv)

    from ipykernel.kernelapp import IPKernelApp

    from jupyter_sky.remote.agent import Agent

    _skip_empty_flushes()
    app = IPKernelApp.instance()
    app.initialize(
        [
            "-f",
            opts.connection_file,
            f"--ip={opts.ip}",
            f"--transport={opts.transport}",
            "--HistoryManager.enabled=False",
            "--IPKernelApp.parent_handle=0",
        ]
    )
    app.kernel._execute_sleep = 0
    Agent(app.shell, opts.idle_minutes, opts.autostop_minutes).install(app.kernel)
    app.start()


if __name__ == "__main__":
    main(sys.argv[1:])
