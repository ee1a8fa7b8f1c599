"""The fast converter's hook for an attrs class: one Python function, generated per class.

The function reads each field of the JSON object and checks it inline (a string is an
ASCII ``str``, an integer an ``int`` within 64 bits, a date an ISO string in UTC, ...),
calling the strict hook of :mod:`._scalar_hooks` only for a value the quick test does
not settle, which either accepts it, as the detailed converter does, or raises. A
missing field with a default is its default, and so is a ``null`` (the null-as-default
rule) unless the class is made with ``null_is_default=False``. The object is then built
with one call of the class, or, for a plain slotted class whose ``__init__`` only stores
the fields (and checks text the function has checked), by storing each field in its
slot, which is what that ``__init__`` does, without its calls: for a model, in an
unfrozen twin of it that then becomes the model; else through each slot's descriptor
(see :mod:`._fast_build`).
A list is read by a loop (cheaper than a comprehension on Python 3.11); a list of a
:class:`Tagged` union picks each element's hook in that loop. A field type with no
inline check goes through the converter's own hook for it, looked up once, when the
function is made.
"""

from __future__ import annotations

import math
import threading
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs
from cattrs import Converter

from ._fast_build import setters_of, twin_of
from ._scalar_hooks import MAX_INTEGER, answer_value_hook, strict, structure_datetime
from .models.layout import AnswerValue

__all__ = ["BUILDING", "LazyHook", "Tagged", "can_generate", "class_hook", "resolved_hook"]

_MISSING: Final = object()

#: Held while a hook is made (by every converter's factory, :class:`LazyHook` and
#: :class:`Tagged`): two threads reading a class for the first time make it one after the
#: other, and the second finds it made. Reentrant: making one hook makes those it calls.
#: A hook already made is called without it.
BUILDING: Final = threading.RLock()

_strict_str: Final = strict(str, "a string")


def _text(value: Any, _: Any) -> Any:
    """A value the quick test of a string left: a ``str`` not ASCII, or another type."""
    if value.__class__ is str:
        value.encode("utf-8")  # a lone surrogate raises, as the strict hook's check_text
        return value
    return _strict_str(value, _)


#: The names every generated function reads, besides its own class's hooks and defaults.
_GLOBALS: Final[dict[str, Any]] = {
    "_MIN": -MAX_INTEGER - 1,
    "_MAX": MAX_INTEGER,
    "_MISSING": _MISSING,
    "_UTC": UTC,
    "_isfinite": math.isfinite,
    "_fromiso": datetime.fromisoformat,
    "_datetime": structure_datetime,
    "_strict_str": _text,
    "_strict_int": strict(int, "an integer"),
    "_strict_bool": strict(bool, "a boolean"),
    "_strict_number": strict((int, float), "a number"),  # type: ignore[arg-type]
    "_strict_answer": answer_value_hook(),
}

#: Each type's check of the variable ``{v}``, in place: the quick test, else the strict
#: hook (which words the error, or accepts a value the quick test left to it).
_CHECKS: Final[dict[Any, tuple[str, ...]]] = {
    str: ("if {v}.__class__ is not str or not {v}.isascii(): {v} = _strict_str({v}, None)",),
    int: ("if {v}.__class__ is not int or not _MIN <= {v} <= _MAX: {v} = _strict_int({v}, None)",),
    bool: ("if {v}.__class__ is not bool: {v} = _strict_bool({v}, None)",),
    float: (
        "if not (({v}.__class__ is float and _isfinite({v}))"
        " or ({v}.__class__ is int and _MIN <= {v} <= _MAX)):",
        "    {v} = _strict_number({v}, None)",
    ),
    # fromisoformat gives the one UTC instance for a Z or +00:00: no other check needed.
    datetime: (
        "if {v}.__class__ is str and (_d := _fromiso({v})).tzinfo is _UTC: {v} = _d",
        "else: {v} = _datetime({v}, None)",
    ),
    AnswerValue: (
        "if not ({v}.__class__ is str and {v}.isascii()) and {v}.__class__ is not bool:",
        "    {v} = _strict_answer({v}, None)",
    ),
}
#: A list element's check, as an expression of ``_e``.
_ELEMENTS: Final[dict[Any, str]] = {
    str: "_e if _e.__class__ is str and _e.isascii() else _strict_str(_e, None)",
}


class LazyHook:
    """A hook made on first use: once every hook it calls is registered.

    A generated function calls :meth:`resolve`'s result directly, never this wrapper.
    """

    def __init__(self, make: Callable[[], Callable[[Any, Any], Any]]) -> None:
        self._make = make
        self._made: Callable[[Any, Any], Any] | None = None
        self._making = False

    def resolve(self) -> Callable[[Any, Any], Any]:
        """The hook itself (this wrapper while it is being made: a class that holds itself)."""
        made = self._made
        if made is not None:
            return made
        with BUILDING:  # another thread making it: wait for it, then take its hook
            if self._made is None:
                if self._making:  # this thread, making it: the class holds itself
                    return self
                self._making = True
                try:
                    self._made = self._make()
                finally:
                    self._making = False
            return self._made

    def __call__(self, value: Any, type_: Any) -> Any:
        return self.resolve()(value, type_)


class Tagged:
    """A hook for a union of classes told apart by one key of the object (a string).

    ``table`` (made on first use, once every hook is registered) maps each tag to its
    class's hook; an object with a string tag not in it goes to ``other(value, tag)``.
    A generated function reading a list of these picks each element's hook itself.
    """

    def __init__(
        self,
        key: str,
        table: Callable[[], dict[str, Callable[[Any, Any], Any]]],
        other: Callable[[Any, str], Any],
    ) -> None:
        self.key = key
        self._make = table
        self._table: dict[str, Callable[[Any, Any], Any]] | None = None
        self._other = other

    def table(self) -> dict[str, Callable[[Any, Any], Any]]:
        """Each tag's hook."""
        table = self._table
        if table is None:
            with BUILDING:
                if self._table is None:
                    self._table = self._make()
                table = self._table
        return table

    def __call__(self, value: Any, _: Any = None) -> Any:
        tag = value.get(self.key)
        if tag.__class__ is not str:
            raise TypeError(f"expected a string {self.key}")
        hook = self.table().get(tag)
        return self._other(value, tag) if hook is None else hook(value, None)


def resolved_hook(converter: Converter, type_: Any) -> Callable[[Any, Any], Any]:
    """The converter's hook for ``type_``, not a :class:`LazyHook` wrapping it."""
    hook = converter.get_structure_hook(type_)
    return hook.resolve() if isinstance(hook, LazyHook) else hook


def _optional_of(type_: Any) -> Any:
    """``X`` for ``X | None`` (one ``X``), else ``None``."""
    if typing.get_origin(type_) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(type_)
    if len(args) != 2 or type(None) not in args:
        return None
    return next(arg for arg in args if arg is not type(None))


class _Writer:
    """The source of one generated function and the names it reads."""

    def __init__(self, converter: Converter, enums: Mapping[Any, Mapping[str, Any]]) -> None:
        self.converter = converter
        self.enums = enums
        self.names: dict[str, Any] = dict(_GLOBALS)
        self.lines: list[str] = []

    def bind(self, value: Any) -> str:
        name = f"_n{len(self.names)}"
        self.names[name] = value
        return name

    def hook_call(self, type_: Any, v: str) -> str:
        hook = resolved_hook(self.converter, type_)
        return f"{self.bind(hook)}({v}, {self.bind(type_)})"

    def check(self, type_: Any, v: str, indent: str) -> None:
        """Lines that check (and convert) ``v`` as ``type_``."""
        inner = _optional_of(type_)
        if inner is not None:
            self.lines.append(f"{indent}if {v} is not None:")
            self.check(inner, v, indent + "    ")
            return
        members = _lookup(self.enums, type_)
        if members is not None:  # an open enum: a member, else the hook (a new value, an error)
            self.lines.append(
                f"{indent}if {v}.__class__ is str and (_m := {self.bind(members)}.get({v}))"
                " is not None:"
            )
            self.lines.append(f"{indent}    {v} = _m")
            self.lines.append(f"{indent}else: {v} = {self.hook_call(type_, v)}")
            return
        lines = _lookup(_CHECKS, type_)
        if lines is not None:
            self.lines.extend(indent + line.format(v=v) for line in lines)
            return
        if typing.get_origin(type_) is list and typing.get_args(type_):
            (element,) = typing.get_args(type_)
            self.lines.append(
                f"{indent}if {v}.__class__ is not list: raise TypeError('expected a JSON array')"
            )
            # A loop, not a comprehension: on Python 3.11 a comprehension is a call of its own.
            self.lines.append(f"{indent}_l = []")
            self.lines.append(f"{indent}for _e in {v}:")
            hook = resolved_hook(self.converter, element)
            if isinstance(hook, Tagged):  # each element's hook picked here, by its tag
                self.lines.append(f"{indent}    _k = _e[{hook.key!r}]")
                self.lines.append(f"{indent}    _h = {self.bind(hook.table())}.get(_k)")
                self.lines.append(
                    f"{indent}    _l.append(_h(_e, None) if _h is not None and _k.__class__ is str"
                    f" else {self.bind(hook)}(_e))"
                )
            else:
                expression = _lookup(_ELEMENTS, element) or self.hook_call(element, "_e")
                self.lines.append(f"{indent}    _l.append({expression})")
            self.lines.append(f"{indent}{v} = _l")
            return
        self.lines.append(f"{indent}{v} = {self.hook_call(type_, v)}")

    def default(self, attribute: attrs.Attribute[Any]) -> str:
        default: Any = attribute.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            if default.factory is dict:
                return "{}"
            if default.factory is list:
                return "[]"
            return f"{self.bind(default.factory)}()"
        return self.bind(default)


def _lookup(table: Mapping[Any, Any], type_: Any) -> Any:
    try:
        return table.get(type_)
    except TypeError:  # an unhashable annotation
        return None


def can_generate(cls: type[Any]) -> bool:
    """Whether :func:`class_hook` can make ``cls``'s hook (its fields read by their names)."""
    return all(
        a.alias == a.name and not (isinstance(a.default, attrs.Factory) and a.default.takes_self)  # type: ignore[arg-type]
        for a in attrs.fields(cls)
        if a.init
    )


def class_hook(
    converter: Converter,
    cls: type[Any],
    *,
    enums: Mapping[Any, Mapping[str, Any]],
    null_is_default: bool = True,
    defaults: Mapping[str, str] | None = None,
    omit: frozenset[str] = frozenset(),
    clean: tuple[frozenset[str], Callable[[Any], Any]] | None = None,
) -> Callable[[Any, Any], Any]:
    """The generated hook for ``cls`` (``can_generate(cls)`` must hold).

    ``enums`` maps each open enum's types (``E | str``, ``E | str | None``) to its members
    by value. ``defaults`` gives a required field a default that a missing or ``null``
    value reads as. ``omit`` names fields never read (left to their own default).
    ``clean``, ``(keys, other)``: an object with a key outside ``keys`` goes to ``other``.
    """
    writer = _Writer(converter, enums)
    lines = writer.lines
    lines.append("if o.__class__ is not dict: raise TypeError('expected a JSON object')")
    if clean is not None:
        keys, other = clean
        # issuperset walks the keys without a view object: cheaper than keys() <= set.
        known = writer.bind(keys.issuperset)
        lines.append(f"if not {known}(o): return {writer.bind(other)}(o)")
    arguments = []
    for index, attribute in enumerate(attrs.fields(attrs.resolve_types(cls))):
        if not attribute.init:
            continue
        name, v, type_ = attribute.name, f"f{index}", attribute.type
        arguments.append((name, v))
        if name in omit:  # never read: its default
            lines.append(f"{v} = {writer.default(attribute)}")
            continue
        if defaults is not None and name in defaults:
            default = writer.bind(defaults[name])
        elif attribute.default is not attrs.NOTHING:
            default = writer.default(attribute)
        else:
            lines.append(f"{v} = o[{name!r}]")
            writer.check(type_, v, "")
            continue
        inner = _optional_of(type_)
        if attribute.default is None and inner is not None:  # null and missing read as None
            lines.append(f"{v} = o.get({name!r})")
            writer.check(type_, v, "")
        elif null_is_default:
            lines.append(f"{v} = o.get({name!r})")
            lines.append(f"if {v} is None: {v} = {default}")
            lines.append("else:")
            writer.check(type_ if inner is None else inner, v, "    ")
        else:
            lines.append(f"{v} = o.get({name!r}, _MISSING)")
            lines.append(f"if {v} is _MISSING: {v} = {default}")
            lines.append("else:")
            writer.check(type_, v, "    ")
    setters = setters_of(cls)
    if setters is None:
        call = ", ".join(f"{name}={v}" for name, v in arguments)
        lines.append(f"return {writer.bind(cls)}({call})")
    elif (twin := twin_of(cls)) is not None:  # filled in as its twin, then made a cls
        lines.append(f"_o = {writer.bind(object.__new__)}({writer.bind(twin)})")
        lines.extend(f"_o.{name} = {v}" for name, v in arguments)
        lines.append(f"_o.__class__ = {writer.bind(cls)}")
        lines.append("return _o")
    else:  # made as object.__new__ makes it, each field stored through its slot
        lines.append(f"_o = {writer.bind(object.__new__)}({writer.bind(cls)})")
        lines.extend(f"{writer.bind(setters[name])}(_o, {v})" for name, v in arguments)
        lines.append("return _o")
    function = f"structure_{cls.__name__}"
    source = f"def {function}(o, _=None):\n" + "".join(f"    {line}\n" for line in lines)
    namespace = writer.names
    code = compile(source, f"<fast structure {cls.__module__}.{cls.__qualname__}>", "exec")
    exec(code, namespace)  # noqa: S102 (our own source, made from the model's fields)
    made: Callable[[Any, Any], Any] = namespace[function]
    return made
