"""Valid Unicode text: the one check of every string the client reads or sends.

A lone surrogate (half of a UTF-16 pair, which JSON may escape on its own and Python
keeps in a string) has no UTF-8 form: it breaks whatever writes the string (the request
body, the journal, a log, a file).
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["check_text", "first_bad_text", "usable_id_field", "valid_text_field"]


def check_text(value: str) -> str:
    """``value`` if it is valid Unicode: a lone surrogate is refused.

    Raises:
        ValueError: the string holds a lone surrogate.
    """
    if not value.isascii():  # the common case needs no encoding
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"expected valid Unicode text, got a lone surrogate at character {exc.start + 1}"
            ) from None
    return value


def valid_text_field(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """An attrs validator: a string field (or ``None``) holds no lone surrogate.

    Raises:
        ValueError: naming the field (the type is another validator's business).
    """
    if isinstance(value, str):
        try:
            check_text(value)
        except ValueError as exc:
            raise ValueError(f"{attribute.name} must be valid text: {exc}") from None


def first_bad_text(value: Any, path: str) -> str | None:
    """Where the first string (or key) holding a lone surrogate is in ``value``, if any.

    Walks models (their attrs fields), lists, tuples and dicts without recursion.
    """
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, current = stack.pop()
        if isinstance(current, str):
            if not current.isascii() and not _encodes(current):
                return where
        elif isinstance(current, dict):
            for key, item in current.items():
                if isinstance(key, str) and not key.isascii() and not _encodes(key):
                    return f"{where} (the key {key!a})"
                stack.append((f"{where}.{key}", item))
        elif isinstance(current, list | tuple):
            stack.extend((f"{where}[{index}]", item) for index, item in enumerate(current))
        elif attrs.has(type(current)):
            fields = attrs.fields(type(current))
            stack.extend(
                (f"{where}.{field.name}", getattr(current, field.name)) for field in fields
            )
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def usable_id_field(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """An attrs validator: an id the library puts in a later request's path is usable there.

    The server gives it (a job's id) and the client waits on it next: one no path can
    hold (empty, ``.``, ``..``) is refused as the answer is read, before anything else
    is sent on its strength.

    Raises:
        ValueError: naming the field.
    """
    if isinstance(value, str) and value in ("", ".", ".."):
        raise ValueError(
            f"expected {attribute.name} to be an id a request path can hold, got {value!r}"
        )
    valid_text_field(_, attribute, value)
