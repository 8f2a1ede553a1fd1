"""Host keys (known_hosts respected, first use pinned, a changed key refused) and user keys
(ssh-agent or files; an encrypted file's passphrase asked once, never stored).

Decrypted keys are kept in this process's memory only, so one notebook kernel asks for a
passphrase at most once per file. Private key files are only ever read.
"""

from __future__ import annotations

import getpass
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import InfraError
from jupyter_sky.transport.hosts import DEFAULT_KEYS, HostSpec, SshSettings

if TYPE_CHECKING:
    import paramiko

# A known_hosts "ssh-rsa" key is negotiated under any of these signature algorithms.
_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}

_loaded: dict[str, Any] = {}  # key file -> decrypted PKey (memory only)
_loaded_lock = threading.Lock()


# ---- host keys --------------------------------------------------------------------------
def _known_entries(spec: HostSpec, settings: SshSettings) -> list[tuple[Path, dict[str, Any]]]:
    """(file, {key type: key}) for every known-hosts file that lists the host."""
    import paramiko

    found = []
    for name in (*spec.known_hosts_files, str(settings.pinned_file())):
        path = Path(name).expanduser()
        if not path.is_file():
            continue
        try:
            entry = paramiko.HostKeys(str(path)).lookup(spec.key_name)
        except (OSError, paramiko.SSHException):
            continue
        if entry:
            found.append((path, dict(entry)))
    return found


def prefer_known_key_types(t: paramiko.Transport, spec: HostSpec, settings: SshSettings) -> None:
    """Ask only for the key types already on file for a known host (as OpenSSH does).

    Otherwise a host known by its RSA key would be offered as ed25519 and look "new", which
    would let an impostor be pinned instead of refused.
    """
    known = {kind for _, entry in _known_entries(spec, settings) for kind in entry}
    if not known:
        return
    options = t.get_security_options()
    wanted = [alg for kind in known for alg in _ALGORITHMS.get(kind, (kind,))]
    usable = [alg for alg in wanted if alg in options.key_types]
    if usable:
        options.key_types = usable


def check_host_key(
    t: paramiko.Transport, spec: HostSpec, settings: SshSettings, notify: Any
) -> None:
    """Accept a known key, refuse a changed one, pin an unknown one (unless strict)."""
    key = t.get_remote_server_key()
    entries = _known_entries(spec, settings)
    for _, entry in entries:
        known = entry.get(key.get_name())
        if known is not None and known == key:
            return
    if entries:
        path = entries[0][0]
        raise InfraError(
            f"The host key of SSH host '{spec.name}' ({spec.key_name}) does not match the one "
            f"recorded in {path}, so jupyter-sky refused to connect; if the host was really "
            f"reinstalled, remove the old key with ssh-keygen -R '{spec.key_name}' -f {path}."
        )
    if spec.strict_host_keys:
        raise InfraError(
            f"SSH host '{spec.name}' ({spec.key_name}) is not in any known_hosts file and its "
            f"ssh config says StrictHostKeyChecking yes; add its key to known_hosts first."
        )
    pinned = pin(spec.key_name, key, settings.pinned_file())
    notify(
        f"ssh: first connection to '{spec.name}': pinned its {key.get_name()} host key "
        f"{_fingerprint(key)} in {pinned}; a different key later will be refused."
    )


def pin(name: str, key: Any, path: Path) -> Path:
    """Append ``name key`` to the project's known-hosts file (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(f"{name} {key.get_name()} {key.get_base64()}\n")
    os.chmod(path, 0o600)
    return path


def _fingerprint(key: Any) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# ---- user keys --------------------------------------------------------------------------
def authenticate(t: paramiko.Transport, spec: HostSpec) -> None:
    """Log in with the first key the host accepts: IdentityFiles, then the agent, then
    the default key files. Raises one sentence naming what was offered."""
    import paramiko

    offered = []
    for label, key in _candidates(spec):
        offered.append(label)
        try:
            t.auth_publickey(spec.user, key)
        except paramiko.BadAuthenticationType as exc:
            raise InfraError(
                f"SSH host '{spec.name}' accepts only {', '.join(exc.allowed_types)} logins, "
                f"but jupyter-sky logs in with keys; add a key to ~/.ssh/authorized_keys there."
            ) from None
        except paramiko.AuthenticationException:
            continue
        if t.is_authenticated():
            return
    what = ", ".join(offered) if offered else "no key (none configured, no agent)"
    raise InfraError(
        f"SSH host '{spec.name}' refused the login as {spec.user} with {what}; "
        f"check IdentityFile and the host's ~/.ssh/authorized_keys."
    )


def _candidates(spec: HostSpec) -> Any:
    """(label, PKey) in OpenSSH's order; files load lazily so a passphrase is asked only
    when the earlier keys did not work."""
    for path in spec.identity_files:
        key = load_key(path, spec)
        if key is not None:
            yield path, key
    if not spec.identities_only:
        yield from _agent_keys()
    if not spec.identity_files:
        for path in DEFAULT_KEYS:
            full = os.path.expanduser(path)
            key = load_key(full, spec) if os.path.isfile(full) else None
            if key is not None:
                yield full, key


def _agent_keys() -> Any:
    if not os.environ.get("SSH_AUTH_SOCK"):
        return
    import paramiko

    try:
        agent_keys = paramiko.Agent().get_keys()
    except paramiko.SSHException:
        return
    for key in agent_keys:
        yield f"the ssh-agent's {key.get_name()} key", key


def load_key(path: str, spec: HostSpec) -> Any:
    """The key in ``path``, decrypted (asking for the passphrase once per process)."""
    import paramiko

    with _loaded_lock:
        if path in _loaded:
            return _loaded[path]
        if not os.path.isfile(path):
            raise InfraError(
                f"The key file {path} named for SSH host '{spec.name}' does not exist."
            )
        try:
            key = paramiko.PKey.from_path(path)
        except TypeError:  # cryptography: "Password was not given but private key is encrypted"
            key = _decrypt(path, spec)
        except (ValueError, paramiko.SSHException) as exc:
            raise InfraError(f"The key file {path} cannot be read ({_first(exc)}).") from None
        _loaded[path] = key
        return key


def _decrypt(path: str, spec: HostSpec) -> Any:
    import paramiko

    if spec.batch_mode:
        raise InfraError(
            f"The key file {path} is encrypted and the ssh config of '{spec.name}' says "
            f"BatchMode yes; load it into ssh-agent (ssh-add {path}) instead."
        )
    passphrase = getpass.getpass(f"Passphrase for {path}: ").encode()
    try:
        return paramiko.PKey.from_path(path, passphrase)
    except (ValueError, TypeError, paramiko.SSHException):
        raise InfraError(f"The passphrase for the key file {path} is wrong.") from None
    finally:
        del passphrase


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def forget_keys() -> None:
    """Drop every decrypted key from memory (tests)."""
    with _loaded_lock:
        _loaded.clear()
