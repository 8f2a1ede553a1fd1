"""HTTP GET of JSON for the Azure and GCP price APIs, with the standard library only."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

Http = Callable[[str], Any]  # GET url -> decoded JSON body
TIMEOUT = 60.0


class HttpError(Exception):
    """A price API answered with an error status (the message says which and why)."""


def urllib_get(url: str) -> Any:
    """GET ``url`` and decode its JSON body.

    Parameters
    ----------
    url : str
        The full URL, query string included.

    Returns
    -------
    Any
        The decoded JSON document.

    Raises
    ------
    HttpError
        On an HTTP error status, with the API's own error message where it sent one.
    """
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        with contextlib.suppress(ValueError, KeyError, TypeError):
            detail = json.loads(detail)["error"]["message"]
        raise HttpError(f"HTTP {exc.code} from {url.split('?')[0]}: {detail}") from None
