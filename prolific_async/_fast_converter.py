"""The fast path of decoding: the converter's rules, folded into hooks made once per class.

:func:`fast_structure` reads an answer that fits, which is nearly every answer, with a
converter built on :func:`~prolific_async._converter.configure_converter` whose hooks
are replaced by cheaper equivalents (no detailed validation; each attrs class read by one
function that :mod:`._fast_hooks` generates, with the null-as-default rule and the type
checks inside it; the extra-keeping hook without a copy of a clean object). It accepts
exactly what the detailed converter accepts and returns equal objects; any failure
raises, and the caller (``structure_response``) then runs the detailed converter, which
words the error with its field path as before. The test ``tests/test_fast_converter.py``
holds the two to the same answers.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, override

from ._converter import (
    KEEPS_UNKNOWN_KEYS,
    LENIENT_FIELDS,
    OPEN_ENUMS,
    configure_converter,
    is_list_type,
)
from ._fast_hooks import BUILDING, LazyHook, Tagged, can_generate, class_hook, resolved_hook
from ._scalar_hooks import MAX_INTEGER, answer_value_hook, check_text, strict
from .models._item_classes import ITEM_CLASSES
from .models.batches import TaskDetails
from .models.exports import BatchExport
from .models.layout import AnswerValue, LayoutItem, UnknownItem

__all__ = ["fast_structure"]

T = TypeVar("T")
_Enums = dict[Any, dict[str, Any]]

# The strict hooks, for the rare value the quick test below does not settle (a
# non-ASCII string, a value of the wrong type: the strict hook words the failure).
_strict_str: Final = strict(str, "a string")
_strict_int: Final = strict(int, "an integer")
_strict_bool: Final = strict(bool, "a boolean")
_strict_number: Final = strict((int, float), "a number")  # type: ignore[arg-type]
_strict_answer: Final = answer_value_hook()
_MIN_INTEGER: Final = -MAX_INTEGER - 1


def _str(value: Any, _: Any) -> Any:
    if value.__class__ is str and value.isascii():
        return value
    return _strict_str(value, _)


def _int(value: Any, _: Any) -> Any:
    if value.__class__ is int and _MIN_INTEGER <= value <= MAX_INTEGER:
        return value
    return _strict_int(value, _)


def _bool(value: Any, _: Any) -> Any:
    return value if value.__class__ is bool else _strict_bool(value, _)


def _number(value: Any, _: Any) -> Any:
    kind = value.__class__
    if (kind is float and math.isfinite(value)) or (
        kind is int and _MIN_INTEGER <= value <= MAX_INTEGER
    ):
        return value
    return _strict_number(value, _)


def _answer_value(value: Any, _: Any) -> Any:
    kind = value.__class__
    if (kind is str and value.isascii()) or kind is bool:
        return value
    return _strict_answer(value, _)


# The `X | None` hooks repeat their scalar's test inline: one call per field, not two.
def _optional_str(value: Any, _: Any) -> Any:
    if value is None or (value.__class__ is str and value.isascii()):
        return value
    return _strict_str(value, _)


def _optional_int(value: Any, _: Any) -> Any:
    if value is None or (value.__class__ is int and _MIN_INTEGER <= value <= MAX_INTEGER):
        return value
    return _strict_int(value, _)


def _optional_bool(value: Any, _: Any) -> Any:
    return value if value is None or value.__class__ is bool else _strict_bool(value, _)


def _optional_number(value: Any, _: Any) -> Any:
    return None if value is None else _number(value, _)


_SCALARS: Final[dict[Any, Callable[[Any, Any], Any]]] = {
    str: _str,
    int: _int,
    bool: _bool,
    float: _number,
    str | None: _optional_str,
    int | None: _optional_int,
    bool | None: _optional_bool,
    float | None: _optional_number,
}


def _single_optional(type_: Any) -> bool:
    """``X | None`` for one ``X`` (not the open enums' ``E | str | None``)."""
    if typing.get_origin(type_) not in (typing.Union, types.UnionType):
        return False
    args = typing.get_args(type_)
    return len(args) == 2 and type(None) in args


def _optional_factory(converter: Converter) -> Callable[[Any], Any]:
    """``X | None``: ``X``'s own hook, found once for the type, not per value."""

    def factory(type_: Any) -> Any:
        scalar = _SCALARS.get(type_)
        if scalar is not None:
            return scalar
        inner = next(arg for arg in typing.get_args(type_) if arg is not type(None))
        hook = converter.get_structure_hook(inner)

        def structure(value: Any, _: Any) -> Any:
            return None if value is None else hook(value, inner)

        return structure

    return factory


def _list_factory(converter: Converter) -> Callable[[Any], Any]:
    """``list[X]``: a JSON array only, each element through ``X``'s hook found once."""

    def factory(type_: Any) -> Any:
        args = typing.get_args(type_)
        element = args[0] if args else Any
        hook = converter.get_structure_hook(element)

        def structure(value: Any, _: Any) -> Any:
            if value.__class__ is not list:
                raise TypeError("expected a JSON array")
            return [hook(item, element) for item in value]

        return structure

    return factory


def _default_of(attribute: attrs.Attribute[Any]) -> Callable[[], Any]:
    default: Any = attribute.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        factory: Callable[[], Any] = default.factory
        return factory
    return lambda: default


def _null_default_overrides(converter: Converter, cls: type[Any]) -> dict[str, Any]:
    """Per-field hooks reading a JSON ``null`` as the field's default.

    A field whose type takes ``None`` and whose default is ``None`` needs none: its own
    hook already reads ``null`` as ``None``.
    """
    overrides: dict[str, Any] = {}
    for attribute in attrs.fields(attrs.resolve_types(cls)):
        if attribute.default is attrs.NOTHING or not attribute.init:
            continue
        if attribute.default is None and _single_optional(attribute.type):
            continue
        hook = converter.get_structure_hook(attribute.type)
        default = _default_of(attribute)

        def null_as_default(
            value: Any, type_: Any, hook: Any = hook, default: Any = default
        ) -> Any:
            return default() if value is None else hook(value, type_)

        overrides[attribute.name] = override(struct_hook=null_as_default)
    return overrides


def _attrs_factory(converter: Converter, enums: _Enums) -> Callable[[Any], Any]:
    """Any attrs class without a hook of its own: its generated function (``_fast_hooks``)."""
    making: dict[Any, LazyHook] = {}

    def factory(cls: Any) -> Any:
        if not can_generate(cls):
            overrides = _null_default_overrides(converter, cls)
            return make_dict_structure_fn(cls, converter, **overrides)
        with BUILDING:  # ``making`` holds this thread's classes only
            lazy = making.get(cls)
            if lazy is not None:  # a class that holds itself: called through the wrapper
                return lazy
            lazy = making[cls] = LazyHook(lambda: class_hook(converter, cls, enums=enums))
            try:
                return lazy.resolve()
            finally:
                del making[cls]

    return factory


class _Split:
    """A model with ``extra``, for an object with keys it does not know: split, then read.

    The object's known keys are read as the fields (for a class with
    :data:`LENIENT_FIELDS`, only when of the modelled type), the rest go to ``extra``.
    """

    def __init__(self, converter: Converter, cls: type[Any]) -> None:
        self._converter = converter
        self.cls = cls
        self.names = frozenset(a.name for a in attrs.fields(cls)) - {"extra"}
        self._lenient = LENIENT_FIELDS.get(cls, {})
        self._split: Any = None

    def _known_here(self, key: str, item: Any) -> bool:
        if key not in self.names:
            return False
        kinds = self._lenient.get(key)
        return (
            kinds is None
            or item is None
            or (isinstance(item, kinds) and not isinstance(item, bool))
        )

    def __call__(self, value: Any) -> Any:
        if self._split is None:
            self._split = make_dict_structure_fn(self.cls, self._converter)
        known = {key: item for key, item in value.items() if self._known_here(key, item)}
        extra = {key: item for key, item in value.items() if key not in known and key != "type"}
        if extra:
            known["extra"] = extra
        return self._split(known, self.cls)  # cattrs 24 makes the type argument required


def _extra_keeping(converter: Converter, cls: type[Any], enums: _Enums) -> LazyHook:
    """A model with ``extra``: a clean object (no unknown key) is read by the generated hook.

    Only an object with keys the model does not know is split (or, for a class with
    :data:`LENIENT_FIELDS`, every object, since a known key may still belong in
    ``extra``). As the detailed converter has it, a ``null`` is not read as the default.
    """
    split = _Split(converter, cls)
    # A lenient class is always split: its keys are never all "clean".
    allowed = frozenset() if cls in LENIENT_FIELDS else split.names | {"type"}
    return LazyHook(
        lambda: class_hook(
            converter,
            cls,
            enums=enums,
            null_is_default=False,
            omit=frozenset({"extra"}),
            clean=(allowed, split),
        )
    )


def _layout_item(converter: Converter) -> Tagged:
    """A layout item: its class's hook by its ``type``, or an :class:`UnknownItem`."""
    return Tagged(
        "type",
        lambda: {kind: resolved_hook(converter, cls) for kind, cls in ITEM_CLASSES.items()},
        lambda value, kind: UnknownItem(type=kind, raw=dict(value)),
    )


def _open_enum(enum_type: Any, *, optional: bool) -> Callable[[Any, Any], Any]:
    members: dict[str, Any] = {member.value: member for member in enum_type}

    def structure(value: Any, _: Any) -> Any:
        if value is None and optional:
            return None
        if value.__class__ is not str:
            raise TypeError("expected a string")
        member = members.get(value)
        return member if member is not None else check_text(value)

    return structure


def make_fast_converter() -> Converter:
    """The converter :func:`fast_structure` uses (the rules of ``configure_converter``)."""
    converter = Converter(detailed_validation=False, forbid_extra_keys=False)
    configure_converter(converter)
    enums: _Enums = {}
    for enum_type in OPEN_ENUMS:
        members = {member.value: member for member in enum_type}
        enums[enum_type | str] = enums[enum_type | str | None] = members
    # Registered after: each replaces the rule configure_converter installed.
    converter.register_structure_hook_factory(attrs.has, _attrs_factory(converter, enums))
    converter.register_structure_hook_factory(_single_optional, _optional_factory(converter))
    converter.register_structure_hook_factory(is_list_type, _list_factory(converter))
    for type_ in (str, int, bool, float):  # their `X | None`: _optional_factory
        converter.register_structure_hook(type_, _SCALARS[type_])
    for enum_type in OPEN_ENUMS:
        converter.register_structure_hook(enum_type | str, _open_enum(enum_type, optional=False))
        converter.register_structure_hook(
            enum_type | str | None, _open_enum(enum_type, optional=True)
        )
    for cls in KEEPS_UNKNOWN_KEYS:
        converter.register_structure_hook(cls, _extra_keeping(converter, cls, enums))
    converter.register_structure_hook(LayoutItem, _layout_item(converter))
    # A missing or null introduction or steps is "": the create answers may leave them out.
    texts = {"task_introduction": "", "task_steps": ""}
    converter.register_structure_hook(
        TaskDetails,
        LazyHook(lambda: class_hook(converter, TaskDetails, enums=enums, defaults=texts)),
    )
    converter.register_structure_hook(AnswerValue, _answer_value)
    # Renamed, and without the null-as-default rule: as the detailed converter has it.
    converter.register_structure_hook(
        BatchExport, make_dict_structure_fn(BatchExport, converter, from_=override(rename="from"))
    )
    return converter


_made: list[Converter] = []
"""The fast converter, made on first use (importing the package stays cheap)."""
_hooks: dict[Any, Callable[[Any, Any], Any]] = {}
"""Its hook for each type asked for, found once."""


def fast_structure(data: Any, cls: type[T]) -> T:
    """``data`` as ``cls`` when it fits; raises (any exception) when it does not."""
    if data.__class__ is not dict and attrs.has(cls):
        raise TypeError("expected a JSON object")
    hook = _hooks.get(cls)
    if hook is None:
        hook = _first_hook(cls)
    result: T = hook(data, cls)
    return result


def _first_hook(cls: Any) -> Callable[[Any, Any], Any]:
    """The hook for ``cls``, made (with the converter, the first time) by one thread."""
    with BUILDING:
        hook = _hooks.get(cls)
        if hook is None:
            if not _made:
                _made.append(make_fast_converter())
            hook = _hooks[cls] = resolved_hook(_made[0], cls)
        return hook
