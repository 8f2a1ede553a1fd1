"""`%sky check` for Azure says in one sentence what is missing (local look at env and ~/.azure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_sky.infra.azure import credentials

VARS = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "AZURE_SUBSCRIPTION_ID")


@pytest.fixture
def az_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path))
    return tmp_path


def test_nothing_set_names_az_login(az_dir: Path) -> None:
    said = credentials.problem()
    assert "az login" in said and said.endswith(".") and "\n" not in said


def test_cli_profile_gives_the_default_subscription(az_dir: Path) -> None:
    profile = {"subscriptions": [{"id": "sub-a", "isDefault": False}, {"id": "sub-b", "isDefault": True}]}
    (az_dir / "azureProfile.json").write_text(json.dumps(profile), encoding="utf-8-sig")
    assert credentials.problem() == ""
    assert credentials.subscription() == "sub-b"
    assert credentials.subscription("from-config") == "from-config"


def test_service_principal_needs_secret_and_subscription(az_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_ID", "app")
    assert "AZURE_CLIENT_SECRET" in credentials.problem()
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s")
    monkeypatch.setenv("AZURE_TENANT_ID", "t")
    assert "no Azure subscription" in credentials.problem()
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "sub")
    assert credentials.problem() == ""


def test_import_does_not_load_the_sdk() -> None:
    import subprocess
    import sys

    code = "import sys, jupyter_sky.infra.azure.errors, jupyter_sky.infra.azure.credentials; print('azure.core' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
