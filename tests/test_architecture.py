"""The package's shape: imports flow one way, and no module reads another's private members."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "prolific_async"

#: Private names of other libraries, each read for a reason no public API serves.
ALLOWED_FOREIGN_PRIVATE = {
    "sys._getframe",  # CPython's documented frame access (the deprecation stacklevel)
    # A caller's own session keeps its middlewares behind ours; aiohttp has no accessor.
    "getattr(session, '_middlewares', ())",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {
        module_name(path): ast.parse(path.read_text(), filename=str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def is_module(name: str) -> bool:
    return is_package(name) or (PACKAGE.parent / f"{name.replace('.', '/')}.py").exists()


def resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``import from`` names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def runtime_imports(module: str, tree: ast.Module) -> Iterator[str]:
    """Modules of the package imported when ``module`` is imported (not lazily, not for types)."""
    for node in tree.body:  # module level only: a function's import is lazy
        yield from _imports_of(module, node)


def _imports_of(module: str, node: ast.stmt) -> Iterator[str]:
    if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        return
    if isinstance(node, ast.If | ast.Try):
        for child in [*node.body, *node.orelse, *getattr(node, "finalbody", [])]:
            yield from _imports_of(module, child)
        return
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.startswith("prolific_async"):
                yield alias.name
    elif isinstance(node, ast.ImportFrom):
        target = resolve(module, node)
        if not target.startswith("prolific_async"):
            return
        yield target
        for alias in node.names:  # `from . import errors` imports a submodule
            candidate = f"{target}.{alias.name}"
            if (
                is_package(candidate)
                or (PACKAGE.parent / f"{candidate.replace('.', '/')}.py").exists()
            ):
                yield candidate


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_in_the_package() -> None:
    """No two modules import each other at import time (lazy and type-only imports aside)."""
    trees = modules()
    graph = {name: set(runtime_imports(name, tree)) - {name} for name, tree in trees.items()}
    # Importing a package's submodule first runs the package: that edge is implicit, and
    # a package re-exporting its submodules is not a cycle.
    graph = {
        name: {other for other in targets if not name.startswith(other + ".")}
        for name, targets in graph.items()
    }
    assert cycles(graph) == []


def private_reads(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """``x._name`` where ``x`` is not ``self``/``cls``/``super()`` (dunders aside)."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and str(node.args[1].value).startswith("_")
            and not str(node.args[1].value).startswith("__")
            and ast.unparse(node.args[0]) not in ("self", "cls")
        ):
            if ast.unparse(node) not in ALLOWED_FOREIGN_PRIVATE:
                yield node.lineno, ast.unparse(node)
            continue
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
            continue
        text = ast.unparse(node)
        if text in ALLOWED_FOREIGN_PRIVATE:
            continue
        yield node.lineno, text


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_reads_another_modules_private_members(name: str) -> None:
    """Lower layers ask for named public members instead of reaching into privates."""
    tree = modules()[name]
    assert list(private_reads(tree)) == []


def test_no_module_is_over_about_400_lines() -> None:
    """A module past ~400 lines holds two concepts (the layout checker may reach ~410)."""
    long = {
        module_name(path): count
        for path in PACKAGE.rglob("*.py")
        if (count := len(path.read_text().splitlines())) > 410
    }
    assert long == {}
