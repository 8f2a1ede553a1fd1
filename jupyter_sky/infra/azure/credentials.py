"""Are Azure credentials and a subscription there?  A local look only (environment, files).

Follows the order of azure-identity's ``DefaultAzureCredential``: environment (service principal
secret or certificate, or workload identity), a managed identity endpoint, then the Azure CLI's
login (``$AZURE_CONFIG_DIR`` or ``~/.azure``). A VM's managed identity without those variables
cannot be seen locally and is left to the cheap API call of a check. The subscription comes from
the config, ``AZURE_SUBSCRIPTION_ID``, or the CLI profile's default subscription.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SECRETS = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE")
MANAGED = ("IDENTITY_ENDPOINT", "MSI_ENDPOINT")


def cli_dir() -> Path:
    return Path(os.path.expanduser(os.environ.get("AZURE_CONFIG_DIR", "~/.azure")))


def _profile() -> dict[str, object]:
    try:
        # the CLI writes this file with a UTF-8 byte-order mark
        data = json.loads((cli_dir() / "azureProfile.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def subscription(configured: str | None = None) -> str | None:
    """The subscription id to use, or None when nothing names one."""
    if configured:
        return configured
    if os.environ.get("AZURE_SUBSCRIPTION_ID"):
        return os.environ["AZURE_SUBSCRIPTION_ID"]
    subs = _profile().get("subscriptions")
    for sub in subs if isinstance(subs, list) else []:
        if isinstance(sub, dict) and sub.get("isDefault") and isinstance(sub.get("id"), str):
            return str(sub["id"])
    return None


def problem(configured_subscription: str | None = None) -> str:
    """'' when credentials and a subscription look present, else one sentence saying what is missing."""
    env = os.environ
    if env.get("AZURE_CLIENT_ID") and not any(env.get(v) for v in SECRETS) and not any(env.get(v) for v in MANAGED):
        return "AZURE_CLIENT_ID is set but none of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE is."
    if any(env.get(v) for v in SECRETS) and not (env.get("AZURE_CLIENT_ID") and env.get("AZURE_TENANT_ID")):
        return "an Azure client secret or certificate is set but AZURE_CLIENT_ID or AZURE_TENANT_ID is not."
    signed_in = bool(env.get("AZURE_CLIENT_ID")) or any(env.get(v) for v in MANAGED) or bool(_profile().get("subscriptions"))
    if not signed_in:
        return "no Azure credentials: run `az login` or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET."
    if subscription(configured_subscription) is None:
        return "no Azure subscription: set AZURE_SUBSCRIPTION_ID, `azure: subscription_id:` in the config, or `az account set`."
    return ""
