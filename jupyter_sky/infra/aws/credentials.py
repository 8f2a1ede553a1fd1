"""Are AWS credentials there?  A local look only (environment and files), no SDK, no network.

Follows boto3's chain: environment keys, then the profile (``AWS_PROFILE`` or ``default``) in
``AWS_SHARED_CREDENTIALS_FILE`` / ``AWS_CONFIG_FILE`` (static keys, SSO with its cached token,
roles, credential processes), then container and web-identity credentials.  An instance role
cannot be seen locally; that case is left to the one cheap API call of ``check``.
"""

from __future__ import annotations

import configparser
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

INDIRECT = ("role_arn", "credential_process", "web_identity_token_file")


def _read(env: str, default: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(os.path.expanduser(os.environ.get(env, default)))
    return parser


def problem() -> str:
    """'' when credentials look present, else one sentence saying what is missing."""
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return "" if os.environ.get("AWS_SECRET_ACCESS_KEY") else "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not."
    if any(os.environ.get(v) for v in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE")):  # fmt: skip
        return ""
    named = os.environ.get("AWS_PROFILE")
    profile = named or "default"
    creds = _read("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
    config = _read("AWS_CONFIG_FILE", "~/.aws/config")
    section = "default" if profile == "default" else f"profile {profile}"
    if creds.has_option(profile, "aws_access_key_id"):
        return ""
    if config.has_section(section):
        return _config_problem(profile, config[section], config)
    if named:
        return f"the AWS profile {named!r} is in neither ~/.aws/config nor ~/.aws/credentials."
    return "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run `aws configure`)."


def _config_problem(profile: str, section: configparser.SectionProxy, config: configparser.ConfigParser) -> str:
    if "aws_access_key_id" in section or any(k in section for k in INDIRECT):
        return ""
    start_url = section.get("sso_start_url")
    session = section.get("sso_session")
    if session and config.has_section(f"sso-session {session}"):
        start_url = config[f"sso-session {session}"].get("sso_start_url")
    if not (start_url or session):
        return f"the AWS profile {profile!r} has no credentials (no keys, SSO, role or process)."
    if _sso_expired(session or start_url or ""):
        return f"the AWS SSO token of profile {profile!r} has expired: run `aws sso login --profile {profile}`."
    return ""


def _sso_expired(key: str) -> bool:
    """True when the SSO token cached for ``key`` (session name or start URL) is missing or old."""
    name = hashlib.sha1(key.encode()).hexdigest() + ".json"
    try:
        token = json.loads((Path.home() / ".aws" / "sso" / "cache" / name).read_text())
        expires = dt.datetime.fromisoformat(str(token["expiresAt"]).replace("Z", "+00:00"))
    except (OSError, ValueError, KeyError):
        return True
    return expires <= dt.datetime.now(dt.timezone.utc)
