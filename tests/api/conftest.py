"""pytest-jupyter's fixtures (``jp_fetch``, ``jp_serverapp`` ...) and its hooks that run
``async def`` tests — for the tests in this directory only: its autouse fixtures (a fresh
asyncio loop and a ServerApp clean-up around every test) would get in the way elsewhere.

This directory is named so that it is collected before ``tests/browser``: Playwright's sync API
(session-scoped there) leaves its event loop marked as running in the main thread, and the
server tests need to run a loop of their own.
"""

from pytest_jupyter.jupyter_server import *  # noqa: F403
