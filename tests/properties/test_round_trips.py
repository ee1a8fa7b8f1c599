"""Every model survives the wire: ``structure(json(unstructure(x))) == x`` through the converter.

The models are found, not listed: every attrs class that ``prolific_async`` or
``prolific_async.models`` exports is either round-tripped here or named in
:data:`NOT_ON_THE_WIRE` with the reason, so a new model fails
:func:`test_every_exported_model_is_covered` until it is one or the other.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import prolific_async
import prolific_async.models
from prolific_async import APIResponse, BulkProgress, BulkResult, CallState, RetryPolicy
from prolific_async._converter import REQUEST_BODIES, converter
from prolific_async.models import (
    DatasetStatus,
    DatasetUpload,
    ImportStatus,
    LayoutItem,
    UnknownItem,
)
from prolific_async.models._item_classes import ITEM_CLASSES
from prolific_async.models.provision import ProvisionRequest, ProvisionResult

from .strategies import for_model

#: Exported attrs classes that are never JSON, with the reason.
NOT_ON_THE_WIRE: dict[type[Any], str] = {
    APIResponse: "a decoded answer as it came (its data is whatever JSON was sent)",
    CallState: "the middleware's per-call state, never serialised",
    RetryPolicy: "client configuration, never serialised",
    BulkResult: "a bulk run's result: holds the exception the item failed with",
    BulkProgress: "a running bulk run's live counters, read by a progress display",
    ProvisionRequest: "a pipeline's input: holds a path or bytes, sent as a file",
    ProvisionResult: "a pipeline's result: holds the exception the pipeline failed with",
}


def exported_models() -> list[type[Any]]:
    """Every attrs class ``prolific_async`` and ``prolific_async.models`` export."""
    found: dict[str, type[Any]] = {}
    for module in (prolific_async, prolific_async.models):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the moved names
            values = [getattr(module, name) for name in dir(module) if not name.startswith("_")]
        for value in values:
            if isinstance(value, type) and attrs.has(value):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


WIRE_MODELS = [cls for cls in exported_models() if cls not in NOT_ON_THE_WIRE]


def test_every_exported_model_is_covered() -> None:
    """Each exported model has a strategy here, or a reason it never goes on the wire."""
    assert len(WIRE_MODELS) >= 30  # the enumeration found the models
    for cls in WIRE_MODELS:
        try:
            for_model(cls)
        except NotImplementedError as exc:  # pragma: no cover - a new annotation kind
            pytest.fail(f"{cls.__qualname__} has no strategy: {exc}")


#: Models read only as a member of a union: a layout item is read as a ``LayoutItem``.
READ_AS: dict[type[Any], Any] = dict.fromkeys((*ITEM_CLASSES.values(), UnknownItem), LayoutItem)


def through_the_wire(value: Any) -> Any:
    """``value`` unstructured, as JSON text and back, then structured again."""
    cls = READ_AS.get(type(value), type(value))
    data = json.loads(json.dumps(converter.unstructure(value), allow_nan=False))
    for base, left_out in REQUEST_BODIES.items():
        if isinstance(value, base):  # a request's POST body leaves these out: put them back
            data.update({name: getattr(value, name) for name in left_out})
    return converter.structure(data, cls)


@pytest.mark.parametrize("cls", WIRE_MODELS, ids=lambda cls: cls.__qualname__)
@given(data=st.data())
def test_a_model_round_trips_through_the_converter(cls: type[Any], data: st.DataObject) -> None:
    """Unstructured, written as JSON, read and structured back, a model is unchanged."""
    value = data.draw(for_model(cls))
    assert through_the_wire(value) == value


@given(for_model(DatasetUpload))
@example(DatasetUpload(dataset_id="d1", filename="f.jsonl", status=ImportStatus.PARTIAL))
def test_an_upload_result_of_either_kind_round_trips(upload: DatasetUpload) -> None:
    """A V3 (``READY``) or V4 (``partial``) upload status reads back as its own enum."""
    assert through_the_wire(upload) == upload
    if isinstance(upload.status, DatasetStatus | ImportStatus):
        assert type(through_the_wire(upload).status) is type(upload.status)
