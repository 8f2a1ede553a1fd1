"""Which variables a cell needs and changes, and moving them (notebook side).

The cell is analysed after IPython's own transformation (so ``!cmd`` and ``%magic`` lines
are plain calls), but the raw cell is what runs remotely. Names the cell reads that exist
in the notebook are pushed; names it assigns at top level are checked afterwards; names
it reads are checked too, so in-place changes (``model.fit(X)``, ``lst.append(1)``) come
back. A push is skipped only when the remote copy has the same content digest.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import types
from dataclasses import dataclass, field
from typing import Any

from jupyter_sky.errors import TransferError
from jupyter_sky.variables import serialize

BIG_PUSH = 100 * 1024 * 1024
_HIDDEN = {"In", "Out", "get_ipython", "exit", "quit", "open"}
_FORMAT_NAME = re.compile(r"(?<![{\w])[{$]([A-Za-z_]\w*)")


@dataclass
class CellNames:
    """Names a cell reads (before assigning them) and names it assigns at top level."""

    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    #: Names rebound by the cell (not only updated with ``+=``): pulled values replace them.
    rebinds: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=256)
def analyse(cell: str) -> CellNames:
    """Find the notebook names a cell reads and the names it assigns (best effort)."""
    from IPython.core.inputtransformer2 import TransformerManager

    source = TransformerManager().transform_cell(cell)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return CellNames()  # the remote kernel reports the syntax error itself
    reads: dict[str, None] = {}
    writes: dict[str, None] = {}
    rebinds: dict[str, None] = {}
    for stmt in tree.body:
        visitor = _Names()
        visitor.visit(stmt)
        for name in visitor.loads:
            if name not in writes:
                reads[name] = None
        for name in visitor.stores:
            writes[name] = None
            rebinds[name] = None
        for name in visitor.augmented:
            writes[name] = None
    return CellNames(list(reads), list(writes), list(rebinds))


class _Names(ast.NodeVisitor):
    """Module-level loads and stores of one statement, plus globals of nested scopes."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self.stores: list[str] = []
        self.augmented: list[str] = []
        self.depth = 0
        self.locals_stack: list[set[str]] = []

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            if not any(node.id in scope for scope in self.locals_stack):
                self.loads.append(node.id)
        elif self.depth == 0:
            self.stores.append(node.id)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        # `arr *= 2` reads `arr`, then (for mutable objects) changes it in place.
        if isinstance(node.target, ast.Name) and self.depth == 0:
            self.loads.append(node.target.id)
            self.augmented.append(node.target.id)
            self.visit(node.value)
            return
        self.generic_visit(node)

    def _bind(self, name: str) -> None:
        if self.depth == 0:
            self.stores.append(name)
        elif self.locals_stack:
            self.locals_stack[-1].add(name)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self._bind(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global) -> None:
        self.stores.extend(node.names)

    def _scope(self, node: ast.AST, name: str | None, params: ast.arguments | None) -> None:
        if name:
            self._bind(name)
        for deco in getattr(node, "decorator_list", []):
            self.visit(deco)
        local = _params(params) | _assigned_in(node)
        self.depth += 1
        self.locals_stack.append(local)
        for child in _body_of(node):
            self.visit(child)
        self.locals_stack.pop()
        self.depth -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(default)
        self._scope(node, node.name, node.args)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope(node, None, node.args)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            self.visit(base)
        self._scope(node, node.name, None)

    def visit_ListComp(self, node: Any) -> None:
        self._scope(node, None, None)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp

    def visit_Call(self, node: ast.Call) -> None:
        # get_ipython().system('echo {x}') / run_line_magic('time', 'f(x)'): names hide in strings.
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _MAGIC_CALLS:
            for arg in node.args[1:] if func.attr != "system" else node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    loads, stores = _names_in_string(arg.value)
                    self.loads.extend(loads)
                    if self.depth == 0:  # `%time x = f()` assigns x in the user namespace
                        self.stores.extend(stores)
        self.generic_visit(node)


_MAGIC_CALLS = {"system", "getoutput", "run_line_magic", "run_cell_magic"}


def _names_in_string(text: str) -> tuple[list[str], list[str]]:
    names = _FORMAT_NAME.findall(text)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return names, []
    sub = _Names()
    sub.visit(tree)
    return names + sub.loads, sub.stores


def _params(args: ast.arguments | None) -> set[str]:
    if args is None:
        return set()
    every = args.posonlyargs + args.args + args.kwonlyargs
    names = {a.arg for a in every}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    return names


def _body_of(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Lambda):
        return [node.body]
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        return [*node.generators, node.elt]
    if isinstance(node, ast.DictComp):
        return [*node.generators, node.key, node.value]
    return list(getattr(node, "body", []))


def _assigned_in(node: ast.AST) -> set[str]:
    """Names a function/class/comprehension body binds locally (so they are not globals)."""
    declared: set[str] = set()
    bound: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, (ast.Global, ast.Nonlocal)):
            declared.update(child.names)
        elif isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            bound.add(child.id)
        elif (
            isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and child is not node
        ):
            bound.add(child.name)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name.split(".")[0]) for a in child.names)
    return bound - declared


# ---- planning a push -------------------------------------------------------------------


@dataclass
class PushPlan:
    """What to send before a cell, and what to check after it."""

    items: list[dict[str, Any]] = field(default_factory=list)
    frames: list[Any] = field(default_factory=list)
    check: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    has_code: bool = False


def plan_push(
    names: CellNames,
    ns: dict[str, Any],
    synced: dict[str, str],
    *,
    push: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
    hidden: set[str] | frozenset[str] = frozenset(),
) -> PushPlan:
    """Pack the values a cell needs that the remote does not have; preflight each one."""
    wanted = list(push) if push is not None else _candidates(names.reads, ns, hidden, exclude)
    plan = PushPlan()
    for name in _with_function_globals(wanted, ns, hidden, exclude):
        if name not in ns:
            raise TransferError(f"--push names `{name}`, which is not defined in the notebook.")
        plan.check.append(name)
        item, packed = _pack_one(name, ns[name])
        if item["digest"] == synced.get(name):
            continue
        plan.items.append(item)
        if packed is not None:
            plan.frames.extend(packed.frames())
            plan.has_code = plan.has_code or packed.has_code
            if packed.nbytes > BIG_PUSH:
                plan.notes.append(f"sending `{name}` ({human_size(packed.nbytes)})")
    return plan


def _candidates(
    reads: list[str],
    ns: dict[str, Any],
    hidden: set[str] | frozenset[str],
    exclude: tuple[str, ...],
) -> list[str]:
    return [
        n
        for n in reads
        if n in ns
        and n not in hidden
        and n not in _HIDDEN
        and n not in exclude
        and not n.startswith("_")
        and not (hasattr(builtins, n) and ns[n] is getattr(builtins, n))
    ]


def _with_function_globals(
    names: list[str],
    ns: dict[str, Any],
    hidden: set[str] | frozenset[str],
    exclude: tuple[str, ...],
) -> list[str]:
    """Add the globals that pushed notebook functions and classes refer to (transitively)."""
    result: dict[str, None] = dict.fromkeys(names)
    todo = list(names)
    while todo:
        value = ns.get(todo.pop())
        extra = _candidates(sorted(serialize.main_globals_of(value)), ns, hidden, exclude)
        for name in extra:
            if name not in result:
                result[name] = None
                todo.append(name)
    return list(result)


def _pack_one(name: str, value: Any) -> tuple[dict[str, Any], serialize.Packed | None]:
    if isinstance(value, types.ModuleType):
        module = value.__name__
        return {
            "name": name,
            "kind": "module",
            "module": module,
            "digest": f"module:{module}",
        }, None
    try:
        packed = serialize.pack(value)
    except Exception as exc:  # noqa: BLE001 - every pickling failure is named for the user
        raise TransferError(
            f"Cannot send `{name}` ({_type_name(value)}) to the remote kernel: it cannot be "
            f"pickled ({exc}); exclude it with --exclude {name}, or create it inside the cell."
        ) from None
    item = {
        "name": name,
        "kind": "pickle",
        "digest": packed.digest,
        "nframes": 1 + len(packed.buffers),
    }
    return item, packed


def _type_name(value: Any) -> str:
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def human_size(nbytes: float) -> str:
    """``123456789`` -> ``'117.7 MB'``."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} GB"
