"""``input()`` and ``getpass()`` in a remote cell, answered by the notebook's frontend.

The remote kernel's ``input_request`` is asked again locally, in the notebook kernel, which
forwards it to the frontend when the frontend allows stdin (JupyterLab does). When it does not
(nbclient, papermill), the remote ``input()`` gets end-of-file at once, so the remote cell
never waits for an answer that cannot come, and the notebook gets one sentence.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from IPython.core.error import StdinNotImplementedError

from jupyter_sky.kernel.session import Channels

EOF = "\x04"  # an input_reply of Ctrl-D: ipykernel raises EOFError in the waiting input()
NO_STDIN = (
    "This frontend does not answer input requests (nbclient and papermill do not), so "
    "input() in the %%sky cell got EOFError; give the value another way, such as --env "
    "or a variable pushed with the cell."
)


def answer_input(channels: Channels, msg: dict[str, Any]) -> None:
    """Ask the frontend what the remote kernel asks, and send the answer back."""
    content = msg["content"]
    ask = getpass.getpass if content.get("password") else input
    try:
        value = ask(content.get("prompt", ""))
    except StdinNotImplementedError:
        print(NO_STDIN, file=sys.stderr, flush=True)
        value = EOF
    except (EOFError, KeyboardInterrupt):
        value = EOF
    channels.send("stdin", "input_reply", {"value": value}, parent=msg["header"])
