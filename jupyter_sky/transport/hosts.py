"""Which machine ``ssh/<name>`` means: an ``~/.ssh/config`` alias, an entry of the ``ssh:``
config section, a pool of those, or a literal ``[user@]host[:port]``.

OpenSSH's own config is read with paramiko's ``SSHConfig`` (HostName, Port, User,
IdentityFile, IdentitiesOnly, ProxyJump, ProxyCommand, UserKnownHostsFile,
StrictHostKeyChecking, HostKeyAlias, BatchMode, ControlPath); an entry of the ``ssh:`` section
overrides it key by key, so a host can be configured in either place or both.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_sky.errors import InfraError

DEFAULT_SSH_CONFIG = "~/.ssh/config"
DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
DEFAULT_KEYS = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
HOST_KEYS = (
    "hostname",
    "port",
    "user",
    "identity_file",
    "proxy_jump",
    "control_path",
    "python",
    "bootstrap",
)


@dataclass(frozen=True)
class SshSettings:
    """The ``ssh:`` config section (also built directly by tests and other infras)."""

    config_file: str | None = None  # None: ~/.ssh/config when it exists
    known_hosts: str | None = None  # None: $JUPYTER_SKY_HOME/known_hosts (pins go here)
    python: str = "python3"  # the hosts' interpreter unless a host names its own
    bootstrap: bool = True  # make a venv when that Python lacks the kernel packages
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    pools: Mapping[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_any(cls, raw: Any) -> SshSettings:
        """Settings from a mapping, a config dataclass (``Config.ssh``), or None."""
        if raw is None:
            return cls()
        if isinstance(raw, cls):
            return raw
        if dataclasses.is_dataclass(raw) and not isinstance(raw, type):
            raw = {f.name: getattr(raw, f.name) for f in dataclasses.fields(raw)}
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in dict(raw).items() if k in known and v is not None})

    def pinned_file(self) -> Path:
        """The project's own known-hosts file, where first-use host keys are pinned."""
        from jupyter_sky.config import sky_home

        return (
            Path(self.known_hosts).expanduser() if self.known_hosts else sky_home() / "known_hosts"
        )

    def ssh_config_path(self) -> Path | None:
        path = Path(self.config_file or DEFAULT_SSH_CONFIG).expanduser()
        if self.config_file and not path.is_file():
            raise InfraError(f"The SSH config file {path} (ssh.config_file) does not exist.")
        return path if path.is_file() else None


@dataclass(frozen=True)
class HostSpec:
    """Everything needed to log in to one host and run the kernel there."""

    name: str  # as written after ssh/
    hostname: str
    port: int = 22
    user: str = field(default_factory=getpass.getuser)
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False
    proxy_jump: str = ""  # "", an alias, or a comma-separated chain of them
    proxy_command: str = ""
    known_hosts_files: tuple[str, ...] = DEFAULT_KNOWN_HOSTS + GLOBAL_KNOWN_HOSTS
    strict_host_keys: bool = False  # StrictHostKeyChecking yes: never pin an unknown host
    batch_mode: bool = False  # BatchMode yes: never ask for a passphrase
    host_key_alias: str = ""
    # ControlPath as written (tokens unexpanded by us; OpenSSH's `ssh -G` expands it): when
    # an OpenSSH master is live there, everything goes through it (transport/openssh.py).
    control_path: str = ""
    python: str = "python3"
    bootstrap: bool = True

    @property
    def key_name(self) -> str:
        """The name the host's key is filed under in known_hosts."""
        if self.host_key_alias:
            return self.host_key_alias
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"

    @property
    def pool_key(self) -> HostSpec:
        # Everything that decides how to log in (not the Python to run there).
        return dataclasses.replace(self, python="", bootstrap=True)


def pool_members(name: str, settings: SshSettings) -> list[str]:
    """The hosts ``ssh/<name>`` may use: a pool's members, or just ``name``."""
    members = settings.pools.get(name)
    if members is None:
        return [name]
    if not members:
        raise InfraError(f"SSH pool '{name}' in the ssh: config section lists no hosts.")
    return [str(m) for m in members]


def resolve(name: str, settings: SshSettings) -> HostSpec:
    """The :class:`HostSpec` for ``name`` (an alias, a config entry or ``[user@]host[:port]``).

    Parameters
    ----------
    name : str
        What followed ``ssh/`` in ``--infra`` (a pool must be expanded first).
    settings : SshSettings
        The ``ssh:`` config section.

    Returns
    -------
    HostSpec
        Values from the ``ssh:`` entry, then ``~/.ssh/config``, then OpenSSH's defaults.

    Raises
    ------
    InfraError
        If ``name`` is a bare word that no config knows.
    """
    user, host, port = _split_literal(name)
    entry = dict(settings.hosts.get(host, {}))
    unknown = set(entry) - set(HOST_KEYS)
    if unknown:
        raise InfraError(
            f"Unknown key '{sorted(unknown)[0]}' in ssh: hosts: {host}; "
            f"valid keys are {', '.join(HOST_KEYS)}."
        )
    config_path = settings.ssh_config_path()
    looked = _ssh_config_lookup(config_path, host)
    literal = user is not None or port is not None or "." in host or host == "localhost"
    if not (entry or looked.pop("_matched", False) or literal):
        where = config_path or Path(DEFAULT_SSH_CONFIG).expanduser()
        raise InfraError(
            f"Unknown SSH host '{host}': add a 'Host {host}' block to {where} or an entry "
            f"under ssh: hosts: in the config file."
        )
    return _spec(name, host, user, port, entry, looked, settings)


def _split_literal(name: str) -> tuple[str | None, str, int | None]:
    user, at, rest = name.rpartition("@")
    host, colon, port_text = rest.partition(":")
    if colon and not port_text.isdigit():
        raise InfraError(f"The port in ssh/{name} must be a number, not '{port_text}'.")
    return (user if at else None), host, (int(port_text) if colon else None)


def _ssh_config_lookup(path: Path | None, host: str) -> dict[str, Any]:
    if path is None:
        return {}
    import paramiko

    try:
        config = paramiko.SSHConfig.from_path(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse problem is the user's file
        raise InfraError(f"The SSH config file {path} cannot be read ({exc}).") from None
    # OpenSSH matches every host against "Host *": only a more specific pattern counts
    # as knowing the host.
    patterns = [p for p in config.get_hostnames() if p not in ("*", "")]
    matched = any(fnmatch.fnmatch(host, p) for p in patterns if not p.startswith("!"))
    return {**config.lookup(host), "_matched": matched}


def _spec(
    name: str,
    host: str,
    user: str | None,
    port: int | None,
    entry: dict[str, Any],
    looked: dict[str, Any],
    settings: SshSettings,
) -> HostSpec:
    identity = entry.get("identity_file") or looked.get("identityfile") or []
    identity = [identity] if isinstance(identity, str) else list(identity)
    known = looked.get("userknownhostsfile", "")
    known_files = tuple(known.split()) if known else DEFAULT_KNOWN_HOSTS
    global_known = looked.get("globalknownhostsfile", "")
    known_files += tuple(global_known.split()) if global_known else GLOBAL_KNOWN_HOSTS
    jump = str(entry.get("proxy_jump") or looked.get("proxyjump") or "")
    control = str(entry.get("control_path") or looked.get("controlpath") or "")
    return HostSpec(
        name=name,
        hostname=str(entry.get("hostname") or looked.get("hostname") or host),
        port=int(port or entry.get("port") or looked.get("port") or 22),
        user=str(user or entry.get("user") or looked.get("user") or getpass.getuser()),
        identity_files=tuple(os.path.expanduser(str(p)) for p in identity),
        identities_only=_yes(looked.get("identitiesonly")),
        proxy_jump="" if jump.lower() == "none" else jump,
        proxy_command=str(looked.get("proxycommand") or ""),
        known_hosts_files=tuple(os.path.expanduser(p) for p in known_files),
        strict_host_keys=_yes(looked.get("stricthostkeychecking")),
        batch_mode=_yes(looked.get("batchmode")),
        host_key_alias=str(looked.get("hostkeyalias") or ""),
        control_path="" if control.lower() == "none" else control,
        python=str(entry.get("python") or settings.python),
        bootstrap=bool(entry.get("bootstrap", settings.bootstrap)),
    )


def _yes(value: Any) -> bool:
    return str(value).lower() in ("yes", "true")
