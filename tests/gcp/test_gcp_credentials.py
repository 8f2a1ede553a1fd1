"""`%sky check` for GCP says in one sentence what is missing (local look at env and gcloud files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_sky.infra.gcp import credentials

VARS = ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GCLOUD_PROJECT")


@pytest.fixture
def gcloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    return tmp_path


def one_sentence(text: str) -> bool:
    return text.endswith(".") and "\n" not in text


def test_nothing_set_names_the_login_command(gcloud: Path) -> None:
    said = credentials.problem()
    assert "gcloud auth application-default login" in said and one_sentence(said)


def test_adc_without_project_asks_for_one(gcloud: Path) -> None:
    (gcloud / "application_default_credentials.json").write_text(json.dumps({"type": "authorized_user"}))
    assert "no Google Cloud project" in credentials.problem()
    assert credentials.problem("from-config") == ""


@pytest.mark.parametrize("how", ["env", "adc", "gcloud-config"])
def test_project_sources(gcloud: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    adc = {"type": "authorized_user", **({"quota_project_id": "p-adc"} if how == "adc" else {})}
    (gcloud / "application_default_credentials.json").write_text(json.dumps(adc))
    if how == "env":
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p-env")
    if how == "gcloud-config":
        (gcloud / "configurations").mkdir()
        (gcloud / "configurations" / "config_default").write_text("[core]\nproject = p-gcloud\n")
    assert credentials.problem() == ""
    assert credentials.project() == {"env": "p-env", "adc": "p-adc", "gcloud-config": "p-gcloud"}[how]


def test_missing_key_file_is_named(gcloud: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(gcloud / "nope.json"))
    said = credentials.problem()
    assert "nope.json" in said and one_sentence(said)


def test_import_does_not_load_the_sdk() -> None:
    import subprocess
    import sys

    code = "import sys, jupyter_sky.infra.gcp.errors, jupyter_sky.infra.gcp.credentials; print('google.cloud' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
