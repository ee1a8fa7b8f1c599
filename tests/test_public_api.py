"""The curated public surface: one hand-written list for the top level, __all__ everywhere."""

from __future__ import annotations

import importlib
import pkgutil
import types
import warnings

import pytest

import prolific_async
from prolific_async import errors, models

#: Models added after the top level was narrowed: they live in prolific_async.models only.
NEVER_AT_TOP_LEVEL = {
    "BatchSync",
    "DatapointsAppended",
    "DatasetUpdate",
    "MigrationStatus",
    "SchemaMigration",
    "SyncStatus",
}

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
    "ReconciliationError",
    "ResponseValidationError",
    "SchemaMigrationFailedError",
    "RetryPolicy",
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


def public_modules() -> list[str]:
    """Every module of the package whose dotted path has no ``_``-prefixed part."""
    names = [
        info.name for info in pkgutil.walk_packages(prolific_async.__path__, "prolific_async.")
    ]
    public = [name for name in names if not any(part.startswith("_") for part in name.split("."))]
    return sorted(["prolific_async", *public])


def provided_names(module: types.ModuleType) -> set[str]:
    """The public names a module provides: what it defines, and a package's re-exports.

    A name a plain module imports (a helper, an annotation's type) is its home
    module's to list; names from outside the package and submodules are not surface.
    """
    is_package = hasattr(module, "__path__")
    provided = set()
    for name, value in vars(module).items():
        if name.startswith(("_", "@")):  # "@py_..." names come from pytest's rewriting
            continue
        if isinstance(value, types.ModuleType):
            continue
        origin = getattr(value, "__module__", None)
        if not isinstance(origin, str):
            continue
        if origin == module.__name__ or (is_package and origin.startswith(module.__name__ + ".")):
            provided.add(name)
    return provided


def test_the_top_level_is_exactly_the_contract() -> None:
    """The top level's __all__ is the hand-written list, and the names it defines are too."""
    assert set(prolific_async.__all__) == TOP_LEVEL
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
    """A public module's __all__ names what it provides, and only names it has."""
    module = importlib.import_module(name)
    listed = set(getattr(module, "__all__", ()))
    assert provided_names(module) - listed == set()
    assert listed - set(vars(module)) == set()


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
    # New models, never at the top:
    new = {"AnswerValue", "LayoutIssue", *NEVER_AT_TOP_LEVEL}
    moved = set(models.__all__) - TOP_LEVEL - new
    assert moved  # the layout, response, import and export models
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in moved:
            assert getattr(prolific_async, name) is getattr(models, name)


def test_an_unknown_top_level_name_is_an_attribute_error() -> None:
    """A name that never existed raises AttributeError, not a deprecation warning."""
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        prolific_async.nope  # noqa: B018
