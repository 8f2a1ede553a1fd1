"""Reaching a remote machine: SSH connections, port forwards, the remote Python, file sync.

Shared by the ``ssh`` infra and, later, Slurm login hosts and cloud VMs. Importing this
package imports nothing heavy: paramiko loads only when a connection is opened.

- :mod:`~jupyter_sky.transport.hosts` — which machine an ``ssh/<name>`` means (``~/.ssh/config``
  aliases, the ``ssh:`` config section, pools).
- :mod:`~jupyter_sky.transport.ssh` — one reused, self-healing paramiko connection per host;
  :mod:`~jupyter_sky.transport.keys` — host keys (pinned on first use) and user keys.
- :mod:`~jupyter_sky.transport.forward` — local listening ports tunnelled to remote ones.
- :mod:`~jupyter_sky.transport.remote_kernel` — start, watch, signal and stop a remote kernel.
- :mod:`~jupyter_sky.transport.bootstrap` and :mod:`~jupyter_sky.transport.wheels` — a remote
  Python with the kernel packages, pinned to the notebook's versions.
- :mod:`~jupyter_sky.transport.sync` — ``--workdir`` over SFTP, only changed files.
"""
