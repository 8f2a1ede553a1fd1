"""User-facing errors: one clear sentence, no Python traceback noise."""

from __future__ import annotations


class SkyError(Exception):
    """An error whose message is a complete sentence meant for the notebook user.

    IPython shows ``_render_traceback_`` instead of a traceback, so the user sees
    only the sentence (plus any extra lines the subclass adds).
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class SpecError(SkyError):
    """A flag, a task YAML or a resource request is wrong."""


class ConfigError(SkyError):
    """A configuration file is malformed or holds an invalid value."""


class InfraError(SkyError):
    """An infra cannot do what was asked (missing resources, credentials, host)."""


class TransferError(SkyError):
    """A variable cannot be moved between the notebook and the remote kernel."""


class RemoteKernelDied(SkyError):
    """The remote kernel stopped while a cell was running."""
