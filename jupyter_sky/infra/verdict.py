"""What a cloud's launch error means for failover, before it becomes the seam's error type.

Each cloud's ``errors.classify`` reads its SDK's exception and returns a :class:`Verdict`;
the infra raises ``CapacityError`` / ``QuotaError`` / ``CredentialError`` with the verdict's
``scope`` (kind ``retry``: back off and try the same place again; ``fatal``: show the sentence).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["capacity", "quota", "credential", "retry", "fatal"]
Scope = Literal["zone", "region", "infra"]


@dataclass(frozen=True)
class Verdict:
    """What to do after an error: ``kind``, how far it reaches (``scope``), the code, one sentence."""

    kind: Kind
    scope: Scope
    code: str
    sentence: str


def first_sentence(message: str) -> str:
    """The cloud's message up to its first full stop, without a trailing period."""
    return message.strip().split(". ")[0].rstrip(".")
