"""The curated public surface: one hand-written list for the top level, __all__ everywhere."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import prolific_async
from prolific_async import errors, models

#: The contract: what ``from prolific_async import ...`` offers.
TOP_LEVEL = {
    "APIConnectionError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Batch",
    "BatchDataset",
    "BatchSetupError",
    "BatchSyncFailedError",
    "BatchStatus",
    "BulkProgress",
    "BulkResult",
    "CallState",
    "ClientClosedError",
    "ConflictError",
    "CreateBatchRequest",
    "CreatedButUnreadableError",
    "Dataset",
    "DatasetProcessingError",
    "DatasetSchema",
    "DatasetSchemaPendingError",
    "DatasetStatus",
    "DuplicateBatchRequest",
    "ExportFailedError",
    "InputFileError",
    "InternalServerError",
    "JobFailedError",
    "Journal",
    "JournalError",
    "MissingTokenError",
    "NOT_GIVEN",
    "NotFoundError",
    "NotGiven",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProlificClient",
    "ProlificError",
    "ProvisionError",
    "ProvisionRequest",
    "ProvisionResult",
    "RateGate",
    "RateLimitError",
    "RawResponse",
    "ReconciliationError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "SchemaMigrationFailedError",
    "RetryPolicy",
    "RunStoppedError",
    "SchemaField",
    "SchemaFieldType",
    "TaskDetails",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "__version__",
    "errors",
    "load_layout",
    "load_schema",
    "set_testing",
}


#: Models added after the top level was narrowed: in prolific_async.models only.
NEVER_AT_TOP_LEVEL = set(models.__all__) - TOP_LEVEL - prolific_async._MOVED_TO_MODELS


def public_modules() -> list[str]:
    """Every module of the package whose dotted path has no ``_``-prefixed part."""
    names = [
        info.name for info in pkgutil.walk_packages(prolific_async.__path__, "prolific_async.")
    ]
    public = [name for name in names if not any(part.startswith("_") for part in name.split("."))]
    return sorted(["prolific_async", *public])


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run at import time, through ``if``/``try`` (not type-only ones)."""
    for node in body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.If):
            yield from _top_level([*node.body, *node.orelse])
        elif isinstance(node, ast.Try):
            handlers = [stmt for handler in node.handlers for stmt in handler.body]
            yield from _top_level([*node.body, *handlers, *node.orelse, *node.finalbody])
        else:
            yield node


def provided_names(module: types.ModuleType) -> tuple[set[str], set[str]]:
    """What a module defines at top level, and what it imports from the package.

    Definitions are assignments, annotated assignments, functions and classes. The
    imports are names taken from the module's own package: for a package ``__init__``,
    from its submodules and subpackages (its re-exports), for a plain module from
    anywhere in ``prolific_async`` (re-exports it may list, or helpers it uses).
    """
    path = Path(str(module.__file__))
    is_package = path.name == "__init__.py"
    package = module.__name__ if is_package else module.__name__.rpartition(".")[0]
    defined: set[str] = set()
    imported: set[str] = set()
    for node in _top_level(ast.parse(path.read_text()).body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and ast.unparse(node.targets[0] if isinstance(node, ast.Assign) else node.target)
            != "_LAZY"
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                defined |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif (
            isinstance(node, ast.AnnAssign)
            and ast.unparse(node.target) == "_LAZY"
            and isinstance(node.value, ast.Dict)
        ):
            # A package's lazy table (issue 14): its keys are re-exports, resolved on use.
            imported |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            source = ".".join([*base, node.module] if node.module else base)
            if not is_package or source == module.__name__ or source.startswith(package + "."):
                imported |= {alias.asname or alias.name for alias in node.names}
    defined.discard("__all__")
    return defined, imported


def test_the_top_level_is_exactly_the_contract() -> None:
    """The top level's __all__ is the hand-written list, and the names it defines are too."""
    assert set(prolific_async.__all__) == TOP_LEVEL
    for name in prolific_async.__all__:  # lazy names join vars() once resolved
        getattr(prolific_async, name)
    public = {
        name
        for name, value in vars(prolific_async).items()
        if not name.startswith(("_", "@"))
        and (name == "errors" or not isinstance(value, types.ModuleType))
        and str(getattr(value, "__module__", "prolific_async")).startswith("prolific_async")
    }
    assert public | {"__version__"} == TOP_LEVEL


@pytest.mark.parametrize("name", public_modules())
def test_every_public_module_lists_what_it_provides(name: str) -> None:
    """__all__ is exactly the public names a module defines and, a package, re-exports.

    A plain module may also list names it re-exports from elsewhere in the package
    (``bulk``, ``errors``); a constant, TypeVar or alias it defines is listed or private.
    """
    module = importlib.import_module(name)
    listed = set(module.__all__)
    for lazy in listed:  # a package's lazy names join vars() once resolved
        getattr(module, lazy)
    defined, imported = provided_names(module)
    public_defined = {n for n in defined if not n.startswith("_")}
    public_imported = {n for n in imported if not n.startswith("_")}
    if hasattr(module, "__path__"):  # a package: its own definitions and its re-exports
        assert {n for n in listed if not n.startswith("__")} == public_defined | public_imported
    else:
        assert public_defined - listed == set()
        assert {
            n for n in listed if not n.startswith("__")
        } - public_defined - public_imported == set()
    assert listed - set(vars(module)) == set()  # and each listed name exists


def test_every_error_is_reexported_at_top_level() -> None:
    """Every exception in prolific_async.errors is importable from the top level too."""
    for name in errors.__all__:
        assert getattr(prolific_async, name) is getattr(errors, name)


def test_a_moved_name_still_works_with_a_warning_naming_its_new_home() -> None:
    """A layout, response, import or export model at the top level warns until 0.3.0."""
    with pytest.warns(DeprecationWarning, match=r"prolific_async\.models"):
        page = prolific_async.Page
    assert page is models.Page


def test_every_moved_name_resolves_to_the_models_one() -> None:
    """Each name that left the top level is the same object in prolific_async.models."""
    moved = prolific_async._MOVED_TO_MODELS  # the one record of what left the top level
    assert moved <= set(models.__all__)
    assert moved.isdisjoint(TOP_LEVEL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in moved:
            assert getattr(prolific_async, name) is getattr(models, name)


def test_a_model_added_after_the_narrowing_is_not_at_the_top_level() -> None:
    """A model neither in the contract nor moved is importable from models only."""
    assert {"LayoutIssue", "SyncStatus"} <= NEVER_AT_TOP_LEVEL
    for name in NEVER_AT_TOP_LEVEL:
        assert not hasattr(prolific_async, name)


def test_an_unknown_top_level_name_is_an_attribute_error() -> None:
    """A name that never existed raises AttributeError, not a deprecation warning."""
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        prolific_async.nope  # noqa: B018
