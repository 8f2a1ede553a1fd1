"""What the cloud VM infras' contract modules (tests/aws, tests/gcp, tests/azure) share: one
VM per module, reused by the contract's tests (tests/test_contract.py), relaunched when a test
ended it, ended when the module is done."""

from __future__ import annotations

from jupyter_sky.infra.base import Handle, Infra, Launch, State


class ModuleVm:
    """The module's current VM for ``request`` on ``infra``."""

    def __init__(self, infra: Infra, request: Launch) -> None:
        self.infra, self.request = infra, request
        self.handle: Handle | None = None

    def launched(self) -> tuple[Infra, Handle, Launch]:
        """A running kernel on the VM: launched first, or again after a test ended the VM
        (down), or restarted on it after a test ended the kernel — as the contract's own
        fixture gives each test a fresh launch."""
        handle = self.handle
        if handle is None or self.infra.status(handle).state is State.GONE:
            handle = self.infra.launch(self.request)
        elif not self.infra.is_alive(handle):
            handle = self.infra.restart(handle, self.request)
        self.handle = handle
        return self.infra, handle, self.request

    def end(self) -> None:
        if self.handle is not None:
            self.infra.down(self.handle)
