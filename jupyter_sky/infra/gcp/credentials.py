"""Are Google Cloud credentials and a project there?  A local look only (environment, files).

Follows google-auth's Application Default Credentials order: ``GOOGLE_APPLICATION_CREDENTIALS``,
then gcloud's ADC file (``$CLOUDSDK_CONFIG`` or ``~/.config/gcloud``), then a GCE metadata
server, which cannot be seen without the network (``NO_GCE_CHECK`` aside) and is left to the
cheap API call of a check. The project comes from the config, ``GOOGLE_CLOUD_PROJECT`` /
``CLOUDSDK_CORE_PROJECT``, the credentials file, or gcloud's active configuration.
"""

from __future__ import annotations

import configparser
import json
import os
from pathlib import Path

PROJECT_ENV = ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GCLOUD_PROJECT")


def gcloud_dir() -> Path:
    return Path(os.path.expanduser(os.environ.get("CLOUDSDK_CONFIG", "~/.config/gcloud")))


def _credentials_file() -> Path | None:
    named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if named:
        return Path(os.path.expanduser(named))
    adc = gcloud_dir() / "application_default_credentials.json"
    return adc if adc.is_file() else None


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def project(configured: str | None = None) -> str | None:
    """The project to use, or None when nothing names one."""
    if configured:
        return configured
    for var in PROJECT_ENV:
        if os.environ.get(var):
            return os.environ[var]
    creds = _credentials_file()
    data = _read_json(creds) if creds else {}
    for key in ("project_id", "quota_project_id"):
        if isinstance(data.get(key), str) and data[key]:
            return str(data[key])
    active = (gcloud_dir() / "active_config").read_text().strip() if (gcloud_dir() / "active_config").is_file() else "default"
    parser = configparser.ConfigParser()
    parser.read(gcloud_dir() / "configurations" / f"config_{active}")
    return parser.get("core", "project", fallback=None) or None


def problem(configured_project: str | None = None) -> str:
    """'' when credentials and a project look present, else one sentence saying what is missing."""
    named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    creds = _credentials_file()
    if named and (creds is None or not creds.is_file()):
        return f"GOOGLE_APPLICATION_CREDENTIALS points to {named}, which does not exist."
    if creds is None:
        return "no Google Cloud credentials: run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS."
    if not _read_json(creds).get("type"):
        return f"the Google Cloud credentials file {creds} is not a credentials JSON file."
    if project(configured_project) is None:
        return "no Google Cloud project: set GOOGLE_CLOUD_PROJECT, `gcp: project:` in the config, or `gcloud config set project`."
    return ""
