"""What the infras that reach their kernels over SSH (``ssh``, ``slurm``) share: the ``ssh:``
settings they log in with, and the kernel's watchdog options and environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_sky.config_sections import boolean, mapping, optional_text
from jupyter_sky.infra.base import Handle, Infra, Launch, checked

if TYPE_CHECKING:
    from jupyter_sky.config_sections import Config
    from jupyter_sky.transport.hosts import SshSettings

#: Variables of this process that never travel (they name places on this machine).
_LOCAL_ONLY = ("JUPYTER_SKY_HOME", "JUPYTER_SKY_LAB")


@dataclass(frozen=True)
class SshConfig:
    """``ssh:`` — hosts and pools for ``--infra ssh/<host-or-pool>`` (see infra/ssh/)."""

    config_file: str | None = field(default=None, metadata=checked(optional_text))
    known_hosts: str | None = field(default=None, metadata=checked(optional_text))
    python: str | None = field(default=None, metadata=checked(optional_text))
    bootstrap: bool = field(default=True, metadata=checked(boolean))
    hosts: dict[str, Any] = field(default_factory=dict, metadata=checked(mapping))
    pools: dict[str, Any] = field(default_factory=dict, metadata=checked(mapping))


H = TypeVar("H", bound=Handle)


class OverSsh(Infra[H]):
    """An infra whose hosts are reached with the ``ssh:`` settings (or the constructor's)."""

    _settings: Any = None

    def settings(self, config: Config | None = None) -> SshSettings:
        """The ``ssh:`` settings: the constructor's, else the config files'."""
        from jupyter_sky.transport.hosts import SshSettings

        if self._settings is not None:
            return SshSettings.from_any(self._settings)
        if config is None:
            from jupyter_sky.config import load_config

            config = load_config(Path.cwd())
        return SshSettings.from_any(config.of(SshConfig))


def kernel_args(request: Launch) -> list[str]:
    """The remote kernel's watchdog options from the config and the task."""
    config, task = request.config, request.task
    args = ["--idle-minutes", str(config.defaults.idle_minutes)]
    autostop = task.autostop_minutes or config.defaults.autostop_minutes
    if autostop:
        args += ["--autostop-minutes", str(autostop)]
    return args


def kernel_env(request: Launch, kind: str, **extra: str) -> dict[str, str]:
    """The remote kernel's variables: the task's, the jupyter-sky knobs (watchdog interval,
    ...) and where it runs — not this process's own environment.

    Parameters
    ----------
    request : Launch
        The launch (its task's ``--env`` values and the cluster name).
    kind : str
        The infra kind, seen by the cell as ``JUPYTER_SKY_INFRA``.
    **extra : str
        More variables (``JUPYTER_SKY_EXIT_FILE`` ...).

    Returns
    -------
    dict
        Name to value; output numbering for replay after a drop is switched on
        (``JUPYTER_SKY_REPLAY``, see :mod:`jupyter_sky.remote.numbering`).
    """
    knobs = {
        k: v for k, v in os.environ.items() if k.startswith("JUPYTER_SKY_") and k not in _LOCAL_ONLY
    }
    return {
        **knobs,
        **request.task.envs,
        **extra,
        "JUPYTER_SKY_INFRA": kind,
        "JUPYTER_SKY_REPLAY": "1",
        "JUPYTER_SKY_CLUSTER": request.cluster,
    }
