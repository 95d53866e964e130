"""The shape of the `connector` package, checked statically: one way through it (issue 17).

The import graph is read with `ast` from the source, not from `sys.modules`, so it sees every
import: those inside functions and under `if TYPE_CHECKING:` too, which is where cycles hide.
Relative imports are resolved, and `from pkg import name` where `name` is a submodule counts
as importing that submodule. Importing `a.b` does not count as importing the package `a`
(whose `__init__` Python runs first): packages re-export their modules' names, and that
would make every such package a cycle.

Three rules: no cycle of modules; no module reaching into another's private names (`from x
import _y`, or `x._y` on an imported module); every module outside `sandbox/` under 500 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import connector

ROOT = Path(connector.__file__).parent
MAX_LINES = 500


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: set[str] = field(default_factory=set)  # the connector modules it imports
    private: list[str] = field(default_factory=list)  # "line N: what it reaches into"


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _in(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@cache
def graph() -> dict[str, Module]:
    """Every module of `connector` by dotted name, with what it imports and the private names it uses."""
    modules: dict[str, Module] = {}
    for path in sorted(ROOT.rglob("*.py")):
        name, is_package = _module_name(path)
        modules[name] = Module(name, path, is_package)
    for module in modules.values():
        _read(module, modules, module.path.read_text(encoding="utf-8"))
    return modules


def _owner(dotted: str, modules: dict[str, Module]) -> str | None:
    """The longest prefix of `dotted` that is a connector module (None: not the connector's)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _read(module: Module, modules: dict[str, Module], source: str) -> None:
    """Fill in what `module` (whose text is `source`) imports and which private names it uses."""
    tree = ast.parse(source)
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    bound: dict[str, str] = {}  # local name -> the connector module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _owner(alias.name, modules)
                if target is None:
                    continue
                module.imports.add(target)
                if alias.asname:
                    bound[alias.asname] = target if target == alias.name else ""
                else:
                    top = alias.name.split(".")[0]
                    bound.setdefault(top, top if top in modules else "")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            source = _owner(base, modules)
            if source is None:
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    module.imports.add(submodule)
                    bound[alias.asname or alias.name] = submodule
                    continue
                module.imports.add(source)
                if _private(alias.name) and source != module.name:
                    module.private.append(f"line {node.lineno}: from {base} import {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            target = _dotted(node.value, bound, modules)
            if target is not None and target != module.name:
                module.private.append(f"line {node.lineno}: {target}.{node.attr}")
    module.imports.discard(module.name)


def _dotted(node: ast.expr, bound: dict[str, str], modules: dict[str, Module]) -> str | None:
    """The connector module an expression like `x` or `x.y.z` names, if it names one."""
    if isinstance(node, ast.Name):
        return bound.get(node.id) or None
    if isinstance(node, ast.Attribute):
        parent = _dotted(node.value, bound, modules)
        if parent is not None and f"{parent}.{node.attr}" in modules:
            return f"{parent}.{node.attr}"
    return None


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(name: str) -> None:  # recursion depth is bounded by the ~100 modules
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for target in sorted(modules[name].imports):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == name:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(modules):
        if name not in index:
            visit(name)
    return sorted(found)


def private_uses(modules: dict[str, Module], packages: tuple[str, ...] = ("connector",)) -> list[str]:
    return [f"{m.name} {use}" for m in modules.values() if _in(m.name, packages) for use in m.private]


def long_modules(modules: dict[str, Module]) -> Iterator[str]:
    for m in modules.values():
        if _in(m.name, ("connector.sandbox",)):
            continue
        lines = len(m.path.read_text(encoding="utf-8").splitlines())
        if lines >= MAX_LINES:
            yield f"{m.name}: {lines} lines"


# ------------------------------------------------------------------ the graph reader itself
def test_the_graph_sees_imports_inside_functions_under_type_checking_and_relative() -> None:
    """The reader finds what a runtime import graph would miss, and the private names used."""
    modules = dict(graph())
    probe = Module("connector.hubspot.probe", ROOT / "hubspot" / "probe.py", False)
    source = (
        "from typing import TYPE_CHECKING\n"
        "import connector.saber.retry as saber_retry\n"
        "from . import limits\n"
        "from ..mapping import model\n"
        "if TYPE_CHECKING:\n"
        "    from connector.state.store import StateStore\n"
        "def later():\n"
        "    from .errors import _private_thing\n"
        "    return limits._hidden, saber_retry._x, model.OPERATORS\n"
    )
    _read(probe, modules, source)
    assert probe.imports == {
        "connector.saber.retry",
        "connector.hubspot.limits",
        "connector.mapping.model",
        "connector.state.store",
        "connector.hubspot.errors",
    }
    assert probe.private == [
        "line 8: from connector.hubspot.errors import _private_thing",
        "line 9: connector.hubspot.limits._hidden",
        "line 9: connector.saber.retry._x",
    ]
    modules[probe.name] = probe
    limits = modules["connector.hubspot.limits"]
    modules[limits.name] = Module(limits.name, limits.path, False, {probe.name})  # limits -> probe
    assert any({probe.name, limits.name} <= set(c) for c in cycles(modules))


# ------------------------------------------------------------------ the whole package
def test_no_import_cycles() -> None:
    """No strongly connected component of more than one module in the import graph of `connector`."""
    offenders = cycles(graph())
    assert not offenders, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in offenders)


def test_no_module_uses_another_modules_private_names() -> None:
    """No `from x import _y`, and no `x._y` on an imported module, anywhere in `connector`."""
    offenders = private_uses(graph())
    assert not offenders, "private names used across modules:\n" + "\n".join(offenders)


def test_every_module_outside_the_sandbox_is_under_500_lines() -> None:
    """Small modules with one job each; the sandbox (a fake of two whole APIs) is the exception."""
    offenders = list(long_modules(graph()))
    assert not offenders, "modules of 500 lines or more:\n" + "\n".join(offenders)
