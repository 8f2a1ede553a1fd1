"""``kubernetes:`` (or ``k8s:``) — the settings of the Kubernetes infra.

```yaml
kubernetes:
  image: null                  # the pod image (default: gpu_image / cpu_image below)
  gpu_image: nvcr.io/nvidia/pytorch:24.08-py3
  cpu_image: python:3.11-slim
  pending_timeout: 60          # seconds a Pending pod may wait before it counts as no capacity
  ready_timeout: 120           # seconds from Running to the kernel answering
  namespace: null              # default: the context's namespace, else "default"
  bootstrap: true              # an image without ipykernel/jupyter-sky gets wheels from here
```

The image needs Python 3.10 or newer. What it lacks of the kernel's packages (ipykernel,
cloudpickle, this notebook's jupyter-sky) is sent from here as wheels over the API server's
port-forward and installed in the pod (see bootstrap.py); ``bootstrap: false`` requires an
image that has them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from jupyter_sky.config_sections import bad, boolean, optional_text
from jupyter_sky.infra.base import checked


def _seconds(value: object, label: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:  # type: ignore[arg-type]
        raise bad(label, "a positive number of seconds such as 60", value)
    return float(value)  # type: ignore[arg-type]


def _text(value: object, label: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad(label, "a non-empty text", value)
    return value.strip()


@dataclass(frozen=True)
class KubernetesConfig:
    """``kubernetes:`` — images, bounded waits and the namespace of the Kubernetes infra."""

    image: str | None = field(default=None, metadata=checked(optional_text))
    gpu_image: str = field(default="nvcr.io/nvidia/pytorch:24.08-py3", metadata=checked(_text))
    cpu_image: str = field(default="python:3.11-slim", metadata=checked(_text))
    pending_timeout: float = field(default=60.0, metadata=checked(_seconds))
    ready_timeout: float = field(default=120.0, metadata=checked(_seconds))
    namespace: str | None = field(default=None, metadata=checked(optional_text))
    bootstrap: bool = field(default=True, metadata=checked(boolean))

    def image_for(self, gpus: int) -> str:
        """The configured image, else the GPU or CPU default."""
        return self.image or (self.gpu_image if gpus else self.cpu_image)
