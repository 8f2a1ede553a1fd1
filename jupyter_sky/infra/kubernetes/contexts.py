"""Where the Kubernetes infra's contexts come from, and an API client for each.

Contexts are read from ``KUBECONFIG`` (several files joined by ``:``, as kubectl merges them)
or ``~/.kube/config``; when neither exists and this process runs in a pod, the in-cluster
service account is one context named ``in-cluster``. :func:`context_names` reads the files
with PyYAML only (no SDK import, no network); :func:`api_client` imports the ``kubernetes``
client.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_sky.errors import InfraError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

IN_CLUSTER = "in-cluster"
TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
NS_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def kubeconfig_files() -> list[Path]:
    """The kubeconfig files that exist: ``KUBECONFIG``'s, else ``~/.kube/config``."""
    raw = os.environ.get("KUBECONFIG", "")
    paths = [Path(p).expanduser() for p in raw.split(os.pathsep) if p] or [
        Path("~/.kube/config").expanduser()
    ]
    return [p for p in paths if p.is_file()]


def in_cluster() -> bool:
    """Is this process in a pod with a service account token?"""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and TOKEN.is_file()


@dataclass(frozen=True)
class Context:
    """One kubeconfig context: its name and its namespace (``default`` when it names none)."""

    name: str
    namespace: str


@dataclass(frozen=True)
class Contexts:
    """Every context, and the current one (None when the files name none)."""

    contexts: tuple[Context, ...]
    current: str | None

    def get(self, name: str) -> Context:
        for ctx in self.contexts:
            if ctx.name == name:
                return ctx
        known = ", ".join(c.name for c in self.contexts) or "none"
        raise InfraError(
            f"Kubernetes context '{name}' is not in your kubeconfig (contexts: {known}); "
            "use --infra k8s/<context> with one of them."
        )

    def default(self) -> Context:
        if self.current:
            return self.get(self.current)
        if len(self.contexts) == 1:
            return self.contexts[0]
        raise InfraError(
            "Your kubeconfig has no current context; name one with --infra k8s/<context>."
        )


def read_contexts() -> Contexts:
    """The contexts of the kubeconfig files (the first file's current-context wins)."""
    import yaml

    found: dict[str, Context] = {}
    current: str | None = None
    for path in kubeconfig_files():
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InfraError(f"Could not read kubeconfig {path}: {exc}; fix or remove it.") from None
        current = current or data.get("current-context") or None
        for item in data.get("contexts") or []:
            name = str(item.get("name", ""))
            namespace = (item.get("context") or {}).get("namespace") or "default"
            found.setdefault(name, Context(name, str(namespace)))
    if not found and in_cluster():
        namespace = NS_FILE.read_text().strip() if NS_FILE.is_file() else "default"
        return Contexts((Context(IN_CLUSTER, namespace),), IN_CLUSTER)
    return Contexts(tuple(found.values()), current)


def credentials_problem() -> str:
    """``""`` when some kubeconfig or the in-cluster account is here, else one sentence."""
    if kubeconfig_files() or in_cluster():
        return ""
    return "no kubeconfig found (set KUBECONFIG or write ~/.kube/config)"


def api_client(context: str) -> ApiClient:
    """An API client for ``context`` (the in-cluster account for ``in-cluster``)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    if context == IN_CLUSTER:
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        configuration.retries = 1
        return client.ApiClient(configuration)
    files = os.pathsep.join(str(p) for p in kubeconfig_files())
    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=files, context=context, client_configuration=configuration
        )
    except ConfigException as exc:
        raise InfraError(f"Kubernetes context '{context}' cannot be used: {exc}.") from None
    configuration.retries = 1  # an unreachable API server costs one more try, not three
    return client.ApiClient(configuration)


def split_context(rest: str) -> tuple[str, str | None]:
    """``<context>[/<namespace>]``: a context of the kubeconfig may hold '/' (EKS names its
    contexts ``arn:aws:eks:<region>:<account>:cluster/<name>``), so the known names are matched
    first, longest first; else the first '/' ends the context."""
    try:
        names = [ctx.name for ctx in read_contexts().contexts]
    except InfraError:  # an unreadable kubeconfig is said by %sky check and at launch
        names = []
    for name in sorted(names, key=len, reverse=True):
        if rest == name:
            return name, None
        if rest.startswith(name + "/"):
            return name, rest[len(name) + 1 :]
    context, _, namespace = rest.partition("/")
    if "/" in namespace:  # no known context explains the extra '/': the shape check says so
        return "", None
    return context, namespace or None
