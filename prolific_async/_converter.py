"""The one converter between the API's JSON and our attrs models (cattrs preconf style).

Models carry no wire logic; every rule about the wire lives in :func:`configure_converter`.
"""

from __future__ import annotations

import enum
import typing
from datetime import datetime
from typing import Any, TypeVar

import attrs
from cattrs import Converter
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._scalar_hooks import (
    answer_value_hook,
    open_enum_hook,
    strict,
    structure_datetime,
    unstructure_datetime,
    upload_status_hook,
)
from .models._item_classes import ITEM_CLASSES
from .models.batches import BatchStatus, TaskDetails
from .models.bulk import CreateBatchRequest, DuplicateBatchRequest
from .models.dataset_changes import MigrationStatus
from .models.datasets import (
    DatasetSchema,
    DatasetStatus,
    ImportStatus,
    SchemaField,
    SchemaFieldType,
)
from .models.exports import BatchExport, ExportStatus
from .models.layout import (
    AnswerValue,
    ChoiceOption,
    Column,
    ContentFormat,
    DisplayPosition,
    InstructionType,
    LayoutItem,
    Page,
    Row,
    UnitOption,
    UnitPosition,
    UnknownItem,
    ValidationRule,
)
from .models.responses import ResponseAnswer
from .models.syncs import SyncStatus

__all__ = ["configure_converter", "converter", "is_list_type", "make_converter"]

T = TypeVar("T")

#: Enums whose unknown server values are kept as plain strings instead of failing.
OPEN_ENUMS: tuple[type[enum.StrEnum], ...] = (
    BatchStatus,
    DatasetStatus,
    ImportStatus,
    SchemaFieldType,
    ExportStatus,
    SyncStatus,
    MigrationStatus,
    InstructionType,
    DisplayPosition,
    ContentFormat,
    UnitPosition,
)

#: Models that keep the JSON keys they do not model in their ``extra`` field: a layout
#: read from the server and sent back with an update loses nothing, and an answer of a
#: newer instruction type keeps its values.
KEEPS_UNKNOWN_KEYS: tuple[type[Any], ...] = (
    Page,
    Row,
    Column,
    *ITEM_CLASSES.values(),
    ResponseAnswer,
)

#: Models written to the wire without their ``None`` (not given) fields.
OMITS_NONE: tuple[type[Any], ...] = (
    ChoiceOption,
    UnitOption,
    ValidationRule,
    SchemaField,
    DatasetSchema,
)


def _require_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        raise TypeError(f"expected a JSON object, got {kind}")
    return value


class _LazyHooks:
    """cattrs' generated hooks for one class, made on first use.

    Generating looks up the hooks of the class's fields; made lazily, that lookup happens
    after :func:`configure_converter` has registered every custom hook, whatever order
    the classes were registered in.
    """

    def __init__(self, converter: Converter, cls: type[Any]) -> None:
        self._converter = converter
        self._cls = cls
        self._structure: Any = None
        self._unstructure: Any = None

    def structure(self, data: dict[str, Any]) -> Any:
        if self._structure is None:
            self._structure = self._converter.gen_structure_attrs_fromdict(self._cls)
        return self._structure(data, self._cls)

    def unstructure(self, obj: Any) -> dict[str, Any]:
        if self._unstructure is None:
            self._unstructure = self._converter.gen_unstructure_attrs_fromdict(self._cls)
        data: dict[str, Any] = self._unstructure(obj)
        return data


#: Fields the spec does not document, read only when they have the type we model; a value
#: of another type goes to ``extra`` instead of failing the whole answer (an answer list
#: has no paging: one odd answer must not hide a batch's responses).
LENIENT_FIELDS: dict[type[Any], dict[str, tuple[type, ...]]] = {
    ResponseAnswer: {
        "unit": (str,),
        "explanation": (str,),
        "file_key": (str,),
        "file_name": (str,),
        "file_size_mb": (int, float),
        "content_type": (str,),
    },
}


def _fits(value: Any, kinds: tuple[type, ...]) -> bool:
    return value is None or (isinstance(value, kinds) and not isinstance(value, bool))


def _extra_keeping_hooks(converter: Converter, cls: type[Any]) -> tuple[Any, Any]:
    """Hooks for a model with an ``extra`` field; an item class also writes its ``type``."""
    names = {a.name for a in attrs.fields(cls)} - {"extra"}
    lenient = LENIENT_FIELDS.get(cls, {})
    tag = getattr(cls, "type", None)
    generated = _LazyHooks(converter, cls)

    def known_here(key: str, item: Any) -> bool:
        return key in names and (key not in lenient or _fits(item, lenient[key]))

    def structure(value: Any, _: Any) -> Any:
        data = _require_object(value)
        known = {key: item for key, item in data.items() if known_here(key, item)}
        extra = {key: item for key, item in data.items() if key not in known and key != "type"}
        if extra:
            known["extra"] = extra
        return generated.structure(known)

    def unstructure(obj: Any) -> dict[str, Any]:
        data = generated.unstructure(obj)
        extra = data.pop("extra", None) or {}
        wire: dict[str, Any] = {"type": str(tag)} if tag is not None else {}
        wire.update((key, item) for key, item in data.items() if item is not None)
        for key, item in extra.items():
            wire.setdefault(key, item)
        return wire

    return structure, unstructure


def _none_omitting_hook(converter: Converter, cls: type[Any]) -> Any:
    generated = _LazyHooks(converter, cls)

    def unstructure(obj: Any) -> dict[str, Any]:
        return {key: item for key, item in generated.unstructure(obj).items() if item is not None}

    return unstructure


#: Request classes written as the body of their POST, with the fields that are not in it:
#: the journal ``key``, and a duplicate's source (it is in the path).
REQUEST_BODIES: dict[type[Any], tuple[str, ...]] = {
    CreateBatchRequest: ("key",),
    DuplicateBatchRequest: ("key", "batch_id"),
}


def _subclass_of(base: type[Any]) -> Any:
    def predicate(cls: Any) -> bool:
        return isinstance(cls, type) and issubclass(cls, base)

    return predicate


def _request_body_hook(converter: Converter, base: type[Any]) -> Any:
    """Hook factory: a request (or a subclass, with its own fields) as its POST body."""
    left_out: dict[str, Any] = {name: override(omit=True) for name in REQUEST_BODIES[base]}

    def factory(cls: Any) -> Any:
        generated = make_dict_unstructure_fn(cls, converter, **left_out)

        def unstructure(obj: Any) -> dict[str, Any]:
            return {key: item for key, item in generated(obj).items() if item is not None}

        return unstructure

    return factory


def is_list_type(type_: Any) -> bool:
    """Whether ``type_`` is ``list`` or ``list[...]``."""
    return type_ is list or typing.get_origin(type_) is list


def _array_only(converter: Converter) -> Any:
    """Hook factory: a ``list[...]`` field reads only a JSON array.

    cattrs reads any iterable as a list: an object would become its keys and a string
    its characters, a silent wrong value instead of an error naming the field.
    """

    def factory(type_: Any) -> Any:
        generated = list_structure_factory(type_, converter)

        def structure(value: Any, target: Any) -> Any:
            if not isinstance(value, list):
                raise TypeError(f"expected a JSON array, got {type(value).__name__}")
            return generated(value, target)

        return structure

    return factory


def _structure_layout_item(converter: Converter) -> Any:
    def structure(value: Any, _: Any) -> LayoutItem:
        data = _require_object(value)
        kind = data.get("type")
        if not isinstance(kind, str):
            raise TypeError(f"expected a string item type, got {type(kind).__name__}")
        cls = ITEM_CLASSES.get(kind)
        if cls is None:
            return UnknownItem(type=kind, raw=dict(data))
        item: LayoutItem = converter.structure(data, cls)
        return item

    return structure


def _null_means_default(converter: Converter) -> Any:
    """Hook factory: a JSON ``null`` for a field that has a default reads as the default.

    The docs disagree on which fields may be ``null``; a ``null`` where a list or a
    string is documented (``errors``, ``answer``, ``http_method``) is read as "not sent".
    A ``null`` for a required field is still an error.
    """

    def factory(cls: Any) -> Any:
        structure = converter.gen_structure_attrs_fromdict(cls)
        defaulted = {a.name for a in attrs.fields(cls) if a.default is not attrs.NOTHING}

        def hook(value: Any, target: Any) -> Any:
            # Not an object: cattrs would index it and blame its first field (a schema
            # field given as "text" was "invalid value @ $.fields['p'].type").
            _require_object(value)
            # Copy only when a null is there to drop: listings parse thousands of these.
            if any(value.get(k, 0) is None for k in defaulted):
                value = {k: v for k, v in value.items() if v is not None or k not in defaulted}
            return structure(value, target)

        return hook

    return factory


def _structure_task_details(converter: Converter) -> Any:
    """Hook for :class:`TaskDetails`: a missing or ``null`` introduction or steps is ``""``.

    The create and duplicate answers (``AiTaskBuilderBatchCreateTaskDetails``) require only
    ``task_name`` and mark the other two nullable. :class:`TaskDetails` keeps them required
    (a caller building one must say both), so the general null-means-default rule does not
    cover them: this hook does, wherever a batch is read. Failing here would report a
    failure for a batch that was created.
    """
    generated = _LazyHooks(converter, TaskDetails)
    texts = ("task_introduction", "task_steps")

    def structure(value: Any, _: Any) -> TaskDetails:
        data = _require_object(value)
        # Copy only when a text is missing or null: listings parse thousands of these.
        if any(data.get(key) is None for key in texts):
            data = {**data, **{key: "" for key in texts if data.get(key) is None}}
        details: TaskDetails = generated.structure(data)
        return details

    return structure


def configure_converter(converter: Converter) -> None:
    """Install the wire rules of the Prolific API on ``converter``.

    Rules:
        * ``str``, ``int``, ``bool`` and ``float`` are strict: a wrongly typed value (a
          ``null`` id, a string count) is an error, never silently coerced. A string
          holding a lone surrogate (half of a JSON surrogate-pair escape), an integer
          beyond 64 bits and a number that is not finite (``1e999``) are errors too.
          A ``list`` field reads only a JSON array (not an object's keys or a string's
          characters).
        * Datetimes are ISO-8601 strings; a trailing ``Z`` is UTC, and a timestamp with no
          offset is taken as UTC. One with no UTC form (``0001-01-01T00:00:00+01:00``) is
          an error. They are written back as ISO-8601 with ``Z``.
        * A ``null`` for a field that has a default reads as that default.
        * Open enums (:data:`OPEN_ENUMS`: :class:`BatchStatus`, the dataset, import and
          export statuses, instruction and schema field types, and the layout's small
          enums): a value this library does not know is kept as the plain string, so
          ``status`` types as ``BatchStatus | str`` (a ``DatasetUpload``'s: either enum).
        * Optional fields the server leaves out (``schema_version``, ``total_task_groups``
          and dataset ``filename`` in create/duplicate responses) take their default,
          ``None``. Unknown keys are ignored, except on the layout models and
          :class:`ResponseAnswer` (:data:`KEEPS_UNKNOWN_KEYS`), which keep them in
          ``extra`` and write them back unchanged.
        * Layout items are a union told apart by ``type``; an unknown ``type`` becomes an
          :class:`UnknownItem` holding the raw object, written back as it came. Layout
          models, options and schemas are written without their ``None`` fields, and each
          item with its ``type``.
        * :class:`BatchExport`'s ``from_`` is ``from`` on the wire.
        * A :class:`CreateBatchRequest` or :class:`DuplicateBatchRequest` is written as
          the body of its POST, the only place that body is made: every field but those
          :data:`REQUEST_BODIES` names, ``None`` (not given) fields left out, the layout
          as a list of pages. A field added to the class joins the body, and so the
          bulk layer's fingerprint.
        * ``task_details``: the create response schema requires only ``task_name``; a
          missing or ``null`` ``task_introduction`` or ``task_steps`` reads as ``""``.
        * :data:`AnswerValue` (an answer's and a multiple-choice option's ``value``) is a
          string, a number or a boolean, kept as it came: ``bool`` stays apart from
          ``int`` and an integer is not made a float. Any other JSON type is an error.
    """
    # Registered first: the class-specific hooks below take precedence over it.
    converter.register_structure_hook_factory(attrs.has, _null_means_default(converter))
    converter.register_structure_hook(str, strict(str, "a string"))
    converter.register_structure_hook(int, strict(int, "an integer"))
    converter.register_structure_hook(bool, strict(bool, "a boolean"))
    converter.register_structure_hook(float, strict((int, float), "a number"))  # type: ignore[arg-type]
    converter.register_structure_hook_factory(is_list_type, _array_only(converter))
    converter.register_structure_hook(datetime, structure_datetime)
    converter.register_unstructure_hook(datetime, unstructure_datetime)
    for enum_type in OPEN_ENUMS:
        converter.register_structure_hook(enum_type | str, open_enum_hook(enum_type))
        converter.register_structure_hook(
            enum_type | str | None, open_enum_hook(enum_type, optional=True)
        )
    converter.register_structure_hook(DatasetStatus | ImportStatus | str, upload_status_hook())

    for cls in KEEPS_UNKNOWN_KEYS:
        structure, unstructure = _extra_keeping_hooks(converter, cls)
        converter.register_structure_hook(cls, structure)
        converter.register_unstructure_hook(cls, unstructure)
    converter.register_structure_hook(LayoutItem, _structure_layout_item(converter))
    converter.register_unstructure_hook(UnknownItem, lambda item: dict(item.raw))
    for cls in OMITS_NONE:
        converter.register_unstructure_hook(cls, _none_omitting_hook(converter, cls))

    for request_class in REQUEST_BODIES:
        converter.register_unstructure_hook_factory(
            _subclass_of(request_class), _request_body_hook(converter, request_class)
        )

    converter.register_structure_hook(
        BatchExport, make_dict_structure_fn(BatchExport, converter, from_=override(rename="from"))
    )
    converter.register_unstructure_hook(
        BatchExport,
        make_dict_unstructure_fn(BatchExport, converter, from_=override(rename="from")),
    )

    converter.register_structure_hook(AnswerValue, answer_value_hook())
    converter.register_structure_hook(AnswerValue | None, answer_value_hook(optional=True))
    converter.register_structure_hook(TaskDetails, _structure_task_details(converter))


def make_converter() -> Converter:
    """Return a converter configured with :func:`configure_converter`."""
    converter = Converter(detailed_validation=True, forbid_extra_keys=False)
    configure_converter(converter)
    return converter


converter = make_converter()
