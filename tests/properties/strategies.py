"""Hypothesis strategies for the library's models, derived from their annotations.

:func:`for_model` builds any wire model from its attrs fields, every optional field
sometimes set, with values that keep each model's documented constraints: text without
lone surrogates, integers within 64 bits, finite floats, timezone-aware UTC datetimes,
``extra`` keys the model does not itself name, an :class:`UnknownItem` of a type the
library does not model holding its own ``type``. Constraints a field's annotation cannot
say (a non-empty name, a path-safe id, a non-empty layout) are in :data:`FIELD_OVERRIDES`.
"""

from __future__ import annotations

import enum
import types
import typing
from datetime import UTC, datetime
from typing import Any

import attrs
from hypothesis import strategies as st

from prolific_async.models import Page, UnknownItem
from prolific_async.models._item_classes import ITEM_CLASSES
from prolific_async.models._text import usable_id_field
from prolific_async.models.bulk import CreateBatchRequest, DuplicateBatchRequest
from prolific_async.models.datasets import DatasetStatus, DatasetUpload, ImportStatus

#: Valid Unicode text: every code point but the surrogates, which UTF-8 cannot hold.
TEXT_CHARS = st.characters(exclude_categories=["Cs"])
texts = st.text(TEXT_CHARS, max_size=12)
non_empty_texts = st.text(TEXT_CHARS, min_size=1, max_size=12)
integers64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
utc_datetimes = st.datetimes(timezones=st.just(UTC))

#: Any JSON value a well-formed answer may hold in a free-form field (``extra``,
#: ``metadata``): finite numbers, valid text, nested a little.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | integers64 | finite_floats | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)


def _extra(cls: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Keys a model does not model (nor its ``type`` tag), with any JSON value."""
    taken = {a.name for a in attrs.fields(cls)} | {"type"}
    keys = texts.filter(lambda key: key not in taken)
    return st.dictionaries(keys, json_values, max_size=2)


def _unknown_items() -> st.SearchStrategy[UnknownItem]:
    kinds = non_empty_texts.filter(lambda kind: kind not in ITEM_CLASSES)
    return kinds.flatmap(
        lambda kind: st.dictionaries(
            texts.filter(lambda key: key != "type"), json_values, max_size=2
        ).map(lambda rest: UnknownItem(type=kind, raw={"type": kind, **rest}))
    )


def _path_safe_ids() -> st.SearchStrategy[str]:
    return non_empty_texts.filter(lambda value: value not in (".", ".."))


#: Strategies for fields whose documented constraint their annotation does not say.
FIELD_OVERRIDES: dict[tuple[type[Any], str], st.SearchStrategy[Any]] = {
    (CreateBatchRequest, "name"): non_empty_texts,
    (CreateBatchRequest, "workspace_id"): non_empty_texts,
    (CreateBatchRequest, "dataset_id"): st.none() | non_empty_texts,
    (CreateBatchRequest, "key"): st.none() | non_empty_texts,
    (CreateBatchRequest, "batch_items"): st.none()
    | st.lists(st.deferred(lambda: for_model(Page)), min_size=1, max_size=2).map(tuple),
    (DuplicateBatchRequest, "batch_id"): _path_safe_ids(),
    (DuplicateBatchRequest, "name"): st.none() | non_empty_texts,
    (DuplicateBatchRequest, "key"): st.none() | non_empty_texts,
    (DatasetUpload, "status"): st.sampled_from([*DatasetStatus, *ImportStatus]) | texts,
}

#: Models built by hand rather than from their fields.
MODEL_OVERRIDES: dict[type[Any], st.SearchStrategy[Any]] = {
    UnknownItem: st.deferred(_unknown_items),
}


def for_type(annotation: Any) -> st.SearchStrategy[Any]:
    """A strategy for one resolved field annotation."""
    if annotation is Any:
        return json_values
    if annotation is type(None):
        return st.none()
    if annotation is str:
        return texts
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return integers64
    if annotation is float:
        return finite_floats
    if annotation is datetime:
        return utc_datetimes
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    if isinstance(annotation, type) and attrs.has(annotation):
        return for_model(annotation)  # no model contains itself: no recursion
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([for_type(argument) for argument in arguments])
    if origin is list:
        return st.lists(for_type(arguments[0]), max_size=2)
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        return st.lists(for_type(arguments[0]), max_size=2).map(tuple)
    if origin is dict:
        return st.dictionaries(for_type(arguments[0]), for_type(arguments[1]), max_size=2)
    raise NotImplementedError(f"no strategy for the annotation {annotation!r}")


_MADE: dict[type[Any], st.SearchStrategy[Any]] = {}


def for_model(cls: type[Any]) -> st.SearchStrategy[Any]:
    """A strategy for instances of the attrs model ``cls``, every field drawn (made once)."""
    if cls in MODEL_OVERRIDES:
        return MODEL_OVERRIDES[cls]
    if cls not in _MADE:
        _MADE[cls] = _fields_of(cls)
    return _MADE[cls]


def _fields_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    attrs.resolve_types(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for attribute in attrs.fields(cls):
        if (cls, attribute.name) in FIELD_OVERRIDES:
            fields[attribute.alias] = FIELD_OVERRIDES[cls, attribute.name]
        elif attribute.name == "extra":
            fields[attribute.alias] = _extra(cls)
        elif attribute.validator is usable_id_field:  # a job id the client puts in a path
            ids = _path_safe_ids()
            fields[attribute.alias] = st.none() | ids if attribute.default is None else ids
        else:
            fields[attribute.alias] = for_type(attribute.type)
    return st.fixed_dictionaries(fields).map(lambda values: cls(**values))
