"""The jupyter_server extension behind the JupyterLab "Sky" panel.

Enabled on install by ``jupyter-config/jupyter_server_config.d/jupyter_sky.json`` (shipped in
the wheel's ``etc/jupyter``). It serves JSON under ``/jupyter-sky/api/``: ``clusters``,
``clusters/NAME/runs``, ``clusters/NAME/stop|down`` (POST), ``jobs``, ``jobs/ID/cancel``
(POST), ``spend`` and ``gpus``. Importing this module imports no cloud SDK.
"""

from __future__ import annotations

from typing import Any

API_PREFIX = "jupyter-sky/api"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_sky.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Add the handlers to the server's web app, sharing one state store."""
    from jupyter_server.utils import url_path_join

    from jupyter_sky.server.handlers import ROUTES
    from jupyter_sky.server.sky import Store

    web_app = serverapp.web_app
    web_app.settings["jupyter_sky_store"] = Store()
    base = web_app.settings["base_url"]
    handlers = [(url_path_join(base, API_PREFIX, route), cls) for route, cls in ROUTES]
    web_app.add_handlers(".*$", handlers)
    serverapp.log.info("jupyter-sky: the Sky panel's API is at %s", url_path_join(base, API_PREFIX))
