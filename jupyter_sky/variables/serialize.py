"""The wire format for variables, shared by the notebook and the remote kernel.

Values travel as one cloudpickle stream (pickle protocol 5) plus out-of-band buffers,
so a numpy array or a tensor moves as zero-copy ZMQ frames instead of being copied into
the pickle. Functions and classes defined in the notebook (module ``__main__``) are sent
*without* the globals they reference: the receiver rebinds them to its own namespace,
so a one-line function never drags a 40 MB global along, and a later cell that changes
a global is seen by the function — as in a normal notebook. The sender pushes the
globals such a function needs as separate names (see :func:`main_globals_of`).
"""

from __future__ import annotations

import io
import pickle
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import xxhash

#: Where rebuilt ``__main__`` functions look up their globals; set by each side at start.
_namespace: dict[str, Any] = {}


def set_namespace(ns: dict[str, Any]) -> None:
    """Bind rebuilt notebook functions to ``ns`` (the user namespace of this side)."""
    global _namespace
    _namespace = ns


def _rebuild_function(
    code: types.CodeType,
    name: str,
    defaults: tuple | None,
    kwdefaults: dict | None,
    closure: tuple | None,
    qualname: str,
    attrs: dict | None,
) -> types.FunctionType:
    func = types.FunctionType(code, _namespace, name, defaults, closure)
    func.__kwdefaults__ = kwdefaults
    func.__qualname__ = qualname
    func.__module__ = "__main__"
    if attrs:
        func.__dict__.update(attrs)
    return func


@dataclass
class Packed:
    """One pickled value: the pickle stream, its out-of-band buffers, and facts about it."""

    data: bytes
    buffers: list[memoryview] = field(default_factory=list)
    digest: str = ""
    has_code: bool = False

    @property
    def nbytes(self) -> int:
        return len(self.data) + sum(b.nbytes for b in self.buffers)

    def frames(self) -> list[Any]:
        return [self.data, *self.buffers]


class _Pickler(cloudpickle.Pickler):
    """cloudpickle, except notebook functions are rebuilt against the receiver's globals."""

    has_code = False

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType) and obj.__module__ == "__main__":
            self.has_code = True
            return _rebuild_function, (
                obj.__code__,
                obj.__name__,
                obj.__defaults__,
                obj.__kwdefaults__,
                obj.__closure__,
                obj.__qualname__,
                obj.__dict__ or None,
            )
        if isinstance(obj, type) and obj.__module__ == "__main__":
            self.has_code = True
        return super().reducer_override(obj)


def pack(value: Any) -> Packed:
    """Pickle ``value`` with out-of-band buffers and a content digest.

    Raises whatever pickling raises (``TypeError``, ``PicklingError``, ...): the caller
    names the variable in its error.
    """
    out = io.BytesIO()
    buffers: list[pickle.PickleBuffer] = []
    pickler = _Pickler(out, protocol=5, buffer_callback=buffers.append)
    pickler.dump(value)
    views = [b.raw() for b in buffers]
    data = out.getvalue()
    return Packed(data, views, digest_of(data, views), pickler.has_code)


def digest_of(data: bytes | memoryview, buffers: list[memoryview]) -> str:
    """A content hash of a pickle and its buffers (xxh3: ~10 GB/s, so 100 MB costs ~10 ms)."""
    h = xxhash.xxh3_128()
    h.update(data)
    for buf in buffers:
        h.update(buf)
    return h.hexdigest()


def unpack(data: Any, buffers: list[Any]) -> Any:
    """Inverse of :func:`pack`; ``data`` and ``buffers`` may be bytes, memoryviews or frames."""
    return pickle.loads(_view(data), buffers=[_view(b) for b in buffers])


def _view(obj: Any) -> Any:
    # zmq.Frame exposes a writable memoryview as .buffer: arrays built on it stay writable.
    return getattr(obj, "buffer", obj)


def versions() -> dict[str, str]:
    """What both sides compare before sending pickled code."""
    v = sys.version_info
    return {"python": f"{v.major}.{v.minor}.{v.micro}", "cloudpickle": cloudpickle.__version__}


def main_globals_of(value: Any) -> set[str]:
    """Global names a notebook-defined function or class (or its instance) refers to."""
    if isinstance(value, types.FunctionType):
        return _code_names(value.__code__) if value.__module__ == "__main__" else set()
    cls = value if isinstance(value, type) else type(value)
    if getattr(cls, "__module__", None) != "__main__":
        return set()
    names: set[str] = set()
    for member in vars(cls).values():
        func = getattr(member, "__func__", getattr(member, "fget", member))
        if isinstance(func, types.FunctionType):
            names |= _code_names(func.__code__)
    for base in cls.__bases__:
        if base.__module__ == "__main__":
            names.add(base.__name__)
    return names


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names
