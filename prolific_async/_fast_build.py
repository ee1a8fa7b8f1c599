"""How a generated hook builds a model without its ``__init__`` (see :mod:`._fast_hooks`).

A frozen attrs class refuses attribute stores, so its ``__init__`` stores each field
through ``object.__setattr__``. A generated hook, which has checked every field already,
does the same stores without the calls: for a model (based on
:class:`~prolific_async.models._base.Model`) in a plain twin class with the same slots,
whose object then takes the model's class (about a third of the cost of a descriptor
store per field); for another slotted class through each slot's descriptor.
"""

from __future__ import annotations

import types
import weakref
from typing import Any, Final

import attrs

from .models._base import Model
from .models._text import valid_text_field

__all__ = ["setters_of", "twin_of"]


def setters_of(cls: type[Any]) -> dict[str, Any] | None:
    """Each field's slot store, when storing the fields there is all ``cls(...)`` would do.

    That is: attrs' own ``__init__``, no pre- or post-init, no converter, every field
    set by ``__init__`` and held in a slot of ``cls`` itself (no base but ``object`` or
    the models' :class:`Model`, no cached hash or other slot), and no validator but the
    text check, on a ``str`` field (the generated function checks it).
    """
    init = getattr(cls.__init__, "__code__", None)
    new: Any = cls.__new__
    if (
        init is None
        or not init.co_filename.startswith("<attrs generated")
        or new is not object.__new__
        or type(cls) is not type
        or cls.__bases__ not in ((object,), (Model,))
        or "__init_subclass__" in cls.__dict__
        or hasattr(cls, "__attrs_pre_init__")
        or hasattr(cls, "__attrs_post_init__")
    ):
        return None
    fields = attrs.fields(attrs.resolve_types(cls))
    slots = cls.__dict__.get("__slots__", ())
    if set(slots) - {"__weakref__"} != {a.name for a in fields}:
        return None
    setters = {}
    for a in fields:
        checked = a.validator is None or (
            a.validator is valid_text_field and a.type in (str, str | None)
        )
        slot = cls.__dict__.get(a.name)
        if not a.init or a.converter is not None or not checked:
            return None
        if not isinstance(slot, types.MemberDescriptorType):
            return None
        setters[a.name] = slot.__set__
    return setters


#: Each class's twin (or ``None``), made once however many converters make hooks for it;
#: held weakly by its class (a twin holds nothing of it), so a class made on the fly goes.
_TWINS: Final = weakref.WeakKeyDictionary[type[Any], type[Any] | None]()


def twin_of(cls: type[Any]) -> type[Any] | None:
    """An unfrozen class ``cls``'s objects can be filled in as, then become ``cls``.

    It has ``cls``'s base (:class:`Model`) and slots, so the same layout: storing a field
    in its slot is a plain attribute store (a frozen class's refuses it, and its slot
    descriptor's ``__set__`` costs three times as much), and ``__class__`` may then be set
    to ``cls``. It is no subclass of ``cls``: ``cls.__subclasses__()`` stays as it was.
    ``None`` for a class not on :class:`Model` (or without slots), or where CPython
    refuses the change.
    """
    if cls in _TWINS:
        return _TWINS[cls]
    twin = _TWINS[cls] = _new_twin(cls)
    return twin


def _new_twin(cls: type[Any]) -> type[Any] | None:
    slots = cls.__dict__.get("__slots__")
    if cls.__bases__ != (Model,) or slots is None:
        return None
    namespace = {"__slots__": tuple(slots), "__module__": __name__}
    twin = type(f"{cls.__name__}Fields", (Model,), namespace)
    probe: Any = object.__new__(twin)
    try:
        probe.__class__ = cls
    except TypeError:  # a layout CPython does not see as the same: never seen, kept safe
        return None
    return twin
