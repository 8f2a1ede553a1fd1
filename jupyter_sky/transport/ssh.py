"""One paramiko connection per host, reused by everything that talks to it, and healed
with backoff when it drops (laptop sleep, VPN flap).

Why not ``paramiko.SSHClient``: it neither sets ``TCP_NODELAY`` (Nagle plus delayed ACKs cost
~45 ms per command) nor lets us choose host-key types and keys the way OpenSSH does, so the
transport is driven directly. paramiko is imported here only, on first connect.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_sky.errors import InfraError
from jupyter_sky.transport import keys
from jupyter_sky.transport.hosts import HostSpec, SshSettings, resolve

if TYPE_CHECKING:
    import paramiko

CONNECT_TIMEOUT = 15.0
FIRST_TRIES = (0.0, 0.5, 1.0, 2.0)  # waits before each try of a first connection cut in its handshake
KEEPALIVE_SECONDS = 15
_QUIET = logging.NullHandler()
# Waits before each reconnect attempt after a drop: ~16 s in all, then the host is down.
BACKOFF = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

Notify = Any  # a callable taking one line of text




class _Handshake(InfraError):
    """The host closed the connection during the SSH handshake (worth one more try at first)."""

@dataclass(frozen=True)
class Result:
    """What a remote command returned."""

    rc: int
    out: str
    err: str

    def last_line(self) -> str:
        lines = [line for line in (self.err or self.out).splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"exit status {self.rc}"


class SshConnection:
    """A logged-in SSH transport to one host, reopened on demand after a drop."""

    def __init__(self, spec: HostSpec, settings: SshSettings, notify: Notify = print) -> None:
        self.spec = spec
        self.settings = settings
        self.notify = notify
        self._lock = threading.RLock()
        self._transport: paramiko.Transport | None = None
        self._sftp: Any = None
        self._jump: SshConnection | None = None
        self._ever_connected = False
        self._home = ""

    # ---- the transport ------------------------------------------------------------------
    def transport(self) -> paramiko.Transport:
        """The live transport, reconnecting (with backoff, after a drop) when needed."""
        with self._lock:
            t = self._transport
            if t is not None and t.is_active():
                return t
            self._transport = self._sftp = None
            self._transport = self._reconnect() if self._ever_connected else self._first_open()
            self._ever_connected = True
            return self._transport

    @property
    def connected(self) -> bool:
        t = self._transport
        return t is not None and t.is_active()

    def _reconnect(self) -> paramiko.Transport:
        last: Exception | None = None
        for delay in BACKOFF:
            time.sleep(delay)
            try:
                return self._open()
            except InfraError as exc:
                last = exc
        raise InfraError(
            f"Lost the SSH connection to '{self.spec.name}' and could not reconnect after "
            f"{len(BACKOFF)} tries over {sum(BACKOFF):g} s ({_undot(str(last))})."
        )

    def _first_open(self) -> paramiko.Transport:
        """The first connection: a host whose sshd closed it during the handshake (a VM's sshd
        starting up, an old host going away at the same address) is tried again a few times."""
        for delay in FIRST_TRIES:
            time.sleep(delay)
            try:
                return self._open()
            except _Handshake:
                continue
        return self._open()

    def _open(self) -> paramiko.Transport:
        import paramiko

        # Paramiko's transport thread logs each failed handshake with a traceback; with no
        # handler set, Python prints it on the kernel's stderr. Failures are said here instead.
        logging.getLogger("paramiko").addHandler(_QUIET)
        t = paramiko.Transport(self._socket())
        try:
            keys.prefer_known_key_types(t, self.spec, self.settings)
            try:
                t.start_client(timeout=CONNECT_TIMEOUT)
            except EOFError as exc:  # closed before the key exchange finished
                raise _Handshake(f"SSH host '{self.spec.name}' ({self.spec.address}) closed the "
                                 "connection during login (it ended the key exchange).") from exc  # fmt: skip
            keys.check_host_key(t, self.spec, self.settings, self.notify)
            keys.authenticate(t, self.spec)
        except paramiko.SSHException as exc:
            t.close()
            if "protocol banner" in str(exc):  # nothing answered on the connection: sshd not ready
                raise _Handshake(f"SSH host '{self.spec.name}' ({self.spec.address}) did not "
                                 f"answer the SSH handshake ({_undot(str(exc))}).") from None  # fmt: skip
            raise InfraError(
                f"SSH host '{self.spec.name}' ({self.spec.address}) closed the connection "
                f"during login ({_undot(str(exc))})."
            ) from None
        except BaseException:
            t.close()
            raise
        t.set_keepalive(KEEPALIVE_SECONDS)
        return t

    def _socket(self) -> Any:
        spec = self.spec
        if spec.proxy_jump:
            return self._through_jump()
        if spec.proxy_command:
            import paramiko

            return paramiko.ProxyCommand(spec.proxy_command)
        where = f"SSH host '{spec.name}' ({spec.hostname}:{spec.port})"
        try:
            sock = socket.create_connection((spec.hostname, spec.port), timeout=CONNECT_TIMEOUT)
        except socket.gaierror:
            raise InfraError(f"{where} has a name that does not resolve.") from None
        except ConnectionRefusedError:
            raise InfraError(
                f"{where} refused the connection: nothing listens on port {spec.port} there."
            ) from None
        except OSError as exc:
            raise InfraError(f"{where} is unreachable ({exc.strerror or exc}).") from None
        # paramiko leaves Nagle on: every small command would wait for a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # paramiko's keepalive wants no reply, so only TCP notices a peer that vanished.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 15), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
        return sock

    def _through_jump(self) -> Any:
        # "a,b": b is reached through a, and the target through b.
        *before, last = [hop.strip() for hop in self.spec.proxy_jump.split(",")]
        jump_spec = resolve(last, self.settings)
        if before:
            jump_spec = _replace(jump_spec, proxy_jump=",".join(before))
        self._jump = connection(jump_spec, self.settings, self.notify)
        dest = (self.spec.hostname, self.spec.port)
        try:
            return self._jump.open_channel(dest)
        except Exception as exc:  # noqa: BLE001 - paramiko raises several kinds here
            raise InfraError(
                f"SSH jump host '{last}' could not reach {dest[0]}:{dest[1]} "
                f"({_undot(str(exc)) or type(exc).__name__})."
            ) from None

    # ---- using it -------------------------------------------------------------------
    def _channel(self, open_on: Any) -> Any:
        """``open_on(transport)``, reconnecting once when the transport only looked alive.

        A connection that died silently (laptop sleep) still reports itself active: the
        channel open is what fails, so that is where the transport is declared dead.
        """
        import paramiko

        t = self.transport()
        try:
            return open_on(t)
        except paramiko.ChannelException as exc:  # the server answered no: the transport is fine
            raise InfraError(
                f"SSH host '{self.spec.name}' refused a channel ({_undot(str(exc)) or 'no reason'})."
            ) from None
        except (paramiko.SSHException, EOFError, OSError):
            t.close()  # the next transport() logs in again
        try:
            return open_on(self.transport())
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise InfraError(
                f"SSH host '{self.spec.name}' stopped answering ({_undot(str(exc)) or 'no reply'})."
            ) from None

    def open_channel(self, dest: tuple[str, int], src: tuple[str, int] = ("127.0.0.1", 0)) -> Any:
        """A ``direct-tcpip`` channel to ``dest`` as seen from the host."""
        return self._channel(
            lambda t: t.open_channel("direct-tcpip", dest, src, timeout=CONNECT_TIMEOUT)
        )

    def _exec(self, command: str) -> Any:
        """A session channel running ``command``; a refused exec is tried once more (a burst
        of failed channel opens on the same connection can make the server say no once), and
        a transport that died under the exec is replaced once."""
        import paramiko

        try:
            return self._session(command)
        except paramiko.SSHException:  # "Channel closed."
            pass
        except (EOFError, OSError):  # the transport died between channel open and exec
            if self._transport is not None:
                self._transport.close()  # the next transport() logs in again
        try:
            return self._session(command)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise InfraError(
                f"SSH host '{self.spec.name}' refused to run a command ({_undot(str(exc))})."
            ) from None

    def _session(self, command: str) -> Any:
        chan = self._channel(lambda t: t.open_session(timeout=CONNECT_TIMEOUT))
        try:
            chan.exec_command(command)
        except BaseException:
            chan.close()
            raise
        return chan

    def run(self, command: str, timeout: float = 60.0, stdin: bytes | None = None) -> Result:
        """Run ``command`` through the login shell's ``sh -c``; stdout is read to its end."""
        chan = self._exec(command)
        try:
            chan.settimeout(timeout)
            if stdin is not None:
                # A command that ends at once (not found) closes the channel under us.
                with contextlib.suppress(OSError):
                    chan.sendall(stdin)
                    chan.shutdown_write()
            out = _read_all(chan.recv)
            err = _read_all(chan.recv_stderr)
            rc = chan.recv_exit_status()
        except TimeoutError:
            raise InfraError(
                f"A command on SSH host '{self.spec.name}' did not finish within {timeout:g} s."
            ) from None
        finally:
            chan.close()
        return Result(rc, out.decode(errors="replace"), err.decode(errors="replace"))

    def sftp(self) -> Any:
        """The connection's SFTP client (one per transport; callers hold :attr:`lock`)."""
        import paramiko

        with self._lock:
            t = self.transport()
            if self._sftp is None or self._sftp.get_channel().get_transport() is not t:
                self._sftp = paramiko.SFTPClient.from_transport(t)
            return self._sftp

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def home(self) -> str:
        """The login user's home directory on the host (absolute)."""
        if not self._home:
            with self._lock:
                self._home = self.sftp().normalize(".")
        return self._home

    def close(self) -> None:
        with self._lock:
            if self._transport is not None:
                self._transport.close()
            self._transport = self._sftp = None
            self._ever_connected = False


def _read_all(recv: Any) -> bytes:
    parts: list[bytes] = []
    while True:
        data = recv(65536)
        if not data:
            return b"".join(parts)
        parts.append(data)


def _undot(text: str) -> str:
    return text.strip().rstrip(".")


def _replace(spec: HostSpec, **changes: Any) -> HostSpec:
    import dataclasses

    return dataclasses.replace(spec, **changes)


# ---- the pool: one connection per host and login ------------------------------------------
_pool: dict[HostSpec, SshConnection] = {}
_pool_lock = threading.Lock()


def connection(spec: HostSpec, settings: SshSettings, notify: Notify = print) -> SshConnection:
    """The shared connection to ``spec``'s host, logged in (opened on first use).

    When the host has a ControlPath and an OpenSSH master is live on it, the connection
    goes through that master (:class:`~jupyter_sky.transport.openssh.MuxConnection`): no
    new login, so no MFA prompt. Otherwise paramiko logs in.

    Parameters
    ----------
    spec : HostSpec
        The resolved host.
    settings : SshSettings
        Where pinned host keys live and how aliases resolve (for ProxyJump).
    notify : callable
        Receives one-line reports (a host key pinned on first use, a master reused).

    Returns
    -------
    SshConnection
        Connected; the same object for every caller asking for the same host.

    Raises
    ------
    InfraError
        One sentence: unreachable, refused key, changed host key, master gone, ...
    """
    with _pool_lock:
        conn = _pool.get(spec.pool_key)
    if conn is None:
        made = _new_connection(spec, settings, notify)
        with _pool_lock:
            conn = _pool.setdefault(spec.pool_key, made)
    conn.notify = notify
    try:
        _log_in(conn)
    except BaseException:
        with _pool_lock:
            if _pool.get(spec.pool_key) is conn and not conn._ever_connected:
                _pool.pop(spec.pool_key, None)
        raise
    return conn


def _new_connection(spec: HostSpec, settings: SshSettings, notify: Notify) -> SshConnection:
    if spec.control_path:
        from jupyter_sky.transport import openssh

        path = openssh.live_master(spec, settings)
        if path:
            notify(f"ssh/{spec.name}: using the OpenSSH master at {path}")
            return openssh.MuxConnection(spec, settings, notify, path)
    return SshConnection(spec, settings, notify)


def _log_in(conn: SshConnection) -> None:
    if conn.spec.control_path:
        from jupyter_sky.transport.openssh import MuxConnection

        if isinstance(conn, MuxConnection):
            conn.check()
            return
    conn.transport()


def close_all() -> None:
    """Close every pooled connection (tests; the end of a process)."""
    with _pool_lock:
        conns = list(_pool.values())
        _pool.clear()
    for conn in conns:
        with contextlib.suppress(Exception):
            conn.close()
