"""`jupyter_sky.infra.aws.credentials`: a local look at boto3's chain (no SDK, no network)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from pathlib import Path

import pytest

from jupyter_sky.infra.aws import credentials


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return tmp_path


def test_nothing_configured_says_how_to_fix_it(aws_home: Path) -> None:
    assert "aws configure" in credentials.problem()


def test_environment_keys(aws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA")
    assert "AWS_SECRET_ACCESS_KEY" in credentials.problem()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    assert credentials.problem() == ""


def test_profiles(aws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (aws_home / "credentials").write_text("[work]\naws_access_key_id = A\naws_secret_access_key = B\n")
    (aws_home / "config").write_text("[profile role]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = work\n")
    for name in ("work", "role"):
        monkeypatch.setenv("AWS_PROFILE", name)
        assert credentials.problem() == ""
    monkeypatch.setenv("AWS_PROFILE", "nope")
    assert credentials.problem() == "the AWS profile 'nope' is in neither ~/.aws/config nor ~/.aws/credentials."


def test_sso_token_expired_or_fresh(aws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (aws_home / "config").write_text("[profile sso]\nsso_session = corp\n[sso-session corp]\nsso_start_url = https://x\n")
    monkeypatch.setenv("AWS_PROFILE", "sso")
    assert "aws sso login --profile sso" in credentials.problem()
    cache = aws_home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (cache / (hashlib.sha1(b"corp").hexdigest() + ".json")).write_text(json.dumps({"expiresAt": later}))
    assert credentials.problem() == ""


def test_package_import_does_not_import_boto3() -> None:
    import subprocess

    code = "import sys, jupyter_sky.infra.aws.credentials, jupyter_sky.infra.aws.errors, jupyter_sky.infra.aws.provision; print('boto3' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
