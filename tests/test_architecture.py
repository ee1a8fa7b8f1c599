"""The package's shape: imports flow one way, and no module reads another's private members."""

from __future__ import annotations

import ast
import functools
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "prolific_async"

#: Private names of other libraries, each read for a reason no public API serves.
ALLOWED_FOREIGN_PRIVATE = {
    "sys._getframe",  # CPython's documented frame access (the deprecation stacklevel)
    # A caller's own session keeps its middlewares behind ours; aiohttp has no accessor.
    "getattr(session, '_middlewares', ())",
    # aiohttp's process-wide cache of middleware chains pins a stopped emulator's state;
    # it has no public way to empty it.
    "getattr(web_app, '_cached_build_middleware', None)",
}

#: Lines a module may hold; past it a module holds two concepts.
LINE_LIMIT = 400
#: The emulator's layout checker is one table of rules; splitting it adds nothing.
LINE_LIMIT_EXCEPTIONS = {"prolific_async.testing._layout": 410}


@dataclass(frozen=True)
class Package:
    """The parsed modules of a package, keyed by dotted name, and which of them are packages."""

    trees: Mapping[str, ast.Module]
    packages: frozenset[str]

    @classmethod
    def from_sources(cls, sources: Mapping[str, str]) -> Package:
        """A package from ``{"prolific_async/_a.py": source, ...}``, to test the checks."""
        trees = {}
        packages = set()
        for path, source in sources.items():
            name = module_name(Path(path))
            trees[name] = ast.parse(textwrap.dedent(source), filename=path)
            if path.endswith("__init__.py"):
                packages.add(name)
        return cls(trees, frozenset(packages))

    def is_module(self, name: str) -> bool:
        return name in self.trees

    def is_package(self, name: str) -> bool:
        return name in self.packages


def module_name(path: Path) -> str:
    """The dotted name of a file given relative to the package's parent directory."""
    parts = path.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def the_package() -> Package:
    """``prolific_async`` parsed once for the whole file."""
    paths = sorted(PACKAGE.rglob("*.py"))
    return Package.from_sources(
        {str(path.relative_to(PACKAGE.parent)): path.read_text() for path in paths}
    )


def resolve(package: Package, module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``import from`` names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not package.is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` exactly (or ``typing.TYPE_CHECKING``); ``not`` it is runtime."""
    return ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def runtime_imports(package: Package, module: str) -> Iterator[str]:
    """Modules of the package imported when ``module`` is imported (not lazily, not for types)."""
    for node in package.trees[module].body:
        yield from _imports_of(package, module, node)


def _imports_of(package: Package, module: str, node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return  # a function's import runs when it is called: lazy
    if isinstance(node, ast.If) and is_type_checking(node.test):
        for child in node.orelse:  # the `else` of `if TYPE_CHECKING:` runs
            yield from _imports_of(package, module, child)
        return
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.startswith("prolific_async"):
                yield alias.name
        return
    if isinstance(node, ast.ImportFrom):
        target = resolve(package, module, node)
        if not target.startswith("prolific_async"):
            return
        yield target
        for alias in node.names:  # `from . import errors` imports a submodule
            if package.is_module(f"{target}.{alias.name}"):
                yield f"{target}.{alias.name}"
        return
    # Every other statement's body runs at import time: if/else, try/except/finally,
    # with, for, while, match, and class bodies.
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt | ast.excepthandler | ast.match_case):
            yield from _imports_of(package, module, child)


def import_graph(package: Package) -> dict[str, set[str]]:
    """Each module's runtime imports of the package, package-to-own-submodule edges aside."""
    graph = {name: set(runtime_imports(package, name)) - {name} for name in package.trees}
    # Importing a package's submodule first runs the package: that edge is implicit, and
    # a package re-exporting its submodules is not a cycle.
    return {
        name: {other for other in targets if not name.startswith(other + ".")}
        for name, targets in graph.items()
    }


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


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(package: Package, module: str) -> Iterator[tuple[int, str]]:
    """Another module's private members: ``x._name``, ``getattr(x, "_name")``, imported ``_name``.

    ``self``/``cls``/``super()`` are a class's own (its subclasses included); dunders
    are protocol, not private. Importing a private *module* (``from . import _retry``,
    ``from ._bulk import run_bulk``) is how the package is built, so it is allowed.
    """
    for node in ast.walk(package.trees[module]):
        if isinstance(node, ast.ImportFrom):
            target = resolve(package, module, node)
            for alias in node.names:
                if is_private(alias.name) and not package.is_module(f"{target}.{alias.name}"):
                    yield (
                        node.lineno,
                        f"from {'.' * node.level}{node.module or ''} import {alias.name}",
                    )
            continue
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and is_private(str(node.args[1].value))
            and ast.unparse(node.args[0]) not in ("self", "cls")
        ):
            if ast.unparse(node) not in ALLOWED_FOREIGN_PRIVATE:
                yield node.lineno, ast.unparse(node)
            continue
        if not isinstance(node, ast.Attribute) or not is_private(node.attr):
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


def test_no_import_cycle_in_the_package() -> None:
    """No two modules import each other at import time (lazy and type-only imports aside)."""
    assert cycles(import_graph(the_package())) == []


@pytest.mark.parametrize("name", sorted(the_package().trees))
def test_no_module_reads_another_modules_private_members(name: str) -> None:
    """Lower layers ask for named public members instead of reaching into privates."""
    assert list(private_uses(the_package(), name)) == []


def test_only_the_logging_module_makes_a_logger() -> None:
    """Every module logs through _logging's one logger, the one the masking filter is on."""
    makers = {
        name
        for name, tree in the_package().trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "getLogger"
        if name != "prolific_async._logging"
    }
    assert makers == set()


def test_no_module_is_over_400_lines() -> None:
    """A module past 400 lines holds two concepts (the layout checker may reach 410)."""
    long = {
        module_name(path.relative_to(PACKAGE.parent)): count
        for path in PACKAGE.rglob("*.py")
        if (count := len(path.read_text().splitlines()))
        > LINE_LIMIT_EXCEPTIONS.get(module_name(path.relative_to(PACKAGE.parent)), LINE_LIMIT)
    }
    assert long == {}


# The checks themselves, on synthetic packages.

RETRY = """
    def _non_negative(value: float) -> float:
        return value

    def public() -> None: ...
"""


def test_importing_another_modules_private_name_is_flagged() -> None:
    """``from ._retry import _non_negative`` reaches into a private, as ``_retry._x`` does."""
    package = Package.from_sources(
        {
            "prolific_async/__init__.py": "",
            "prolific_async/_retry.py": RETRY,
            "prolific_async/_bulk.py": "from ._retry import public, _non_negative\n",
        }
    )
    assert list(private_uses(package, "prolific_async._bulk")) == [
        (1, "from ._retry import _non_negative")
    ]


def test_importing_a_private_module_or_a_dunder_is_allowed() -> None:
    """Private modules are how the package is built; ``__version__`` is protocol."""
    package = Package.from_sources(
        {
            "prolific_async/__init__.py": """
                from . import _retry
                from ._retry import public
                from ._version import __version__
                import prolific_async._retry
            """,
            "prolific_async/_retry.py": RETRY,
            "prolific_async/_version.py": "__version__ = '0'\n",
        }
    )
    assert list(private_uses(package, "prolific_async")) == []


def test_reading_another_objects_private_attribute_is_flagged() -> None:
    """``other._x`` and ``getattr(other, "_x")`` are flagged; ``self._x`` and ``super()._x`` not."""
    package = Package.from_sources(
        {
            "prolific_async/_a.py": """
                class A:
                    def __eq__(self, other: object) -> bool:
                        return self._x == other._x

                    def f(self, other: object) -> object:
                        return getattr(other, "_y"), super()._z, cls._w
            """
        }
    )
    assert list(private_uses(package, "prolific_async._a")) == [
        (4, "other._x"),
        (7, "getattr(other, '_y')"),
    ]


@pytest.mark.parametrize(
    "hidden",
    [
        "try:\n    pass\nexcept ImportError:\n    from . import _a\n",
        "try:\n    pass\nfinally:\n    from . import _a\n",
        "with open('x'):\n    from ._a import f\n",
        "class B:\n    from ._a import f\n",
        "if not TYPE_CHECKING:\n    from ._a import f\n",
        "if TYPE_CHECKING:\n    pass\nelse:\n    from ._a import f\n",
        "for _ in ():\n    import prolific_async._a\n",
    ],
)
def test_a_cycle_hidden_in_a_nested_block_is_found(hidden: str) -> None:
    """An import in an except/finally/with/class/`not TYPE_CHECKING` block runs at import time."""
    package = Package.from_sources(
        {
            "prolific_async/__init__.py": "",
            "prolific_async/_a.py": "from ._b import g\n\ndef f() -> None: ...\n",
            "prolific_async/_b.py": f"{hidden}\ndef g() -> None: ...\n",
        }
    )
    assert cycles(import_graph(package)) == [["prolific_async._a", "prolific_async._b"]]


@pytest.mark.parametrize(
    "lazy",
    [
        "if TYPE_CHECKING:\n    from ._a import f\n",
        "def h() -> None:\n    from ._a import f\n",
        "class B:\n    def h(self) -> None:\n        from ._a import f\n",
    ],
)
def test_type_only_and_lazy_imports_are_not_cycles(lazy: str) -> None:
    """``if TYPE_CHECKING:`` and a function's body do not run at import time."""
    package = Package.from_sources(
        {
            "prolific_async/__init__.py": "",
            "prolific_async/_a.py": "from ._b import g\n\ndef f() -> None: ...\n",
            "prolific_async/_b.py": f"{lazy}\ndef g() -> None: ...\n",
        }
    )
    assert cycles(import_graph(package)) == []
