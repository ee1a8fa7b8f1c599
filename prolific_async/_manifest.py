"""Reading a manifest of the `provision` command: one JSON object per line, a create or a copy.

A create line::

    {"name": "...", "workspace_id": "...", "task_details": {"task_name": "...",
     "task_introduction": "...", "task_steps": "..."}, "dataset_id": "..."}

A duplicate line::

    {"duplicate_of": "<batch id>", "name": "...", "upload_new_dataset": false}

``dataset_id``, ``name`` (for a duplicate) and ``upload_new_dataset`` are optional; any
line may carry a ``key``, a unique id for it in the journal. Blank lines and lines
starting with ``#`` are skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from attrs import frozen

from ._json import (
    FINITE_ONLY,
    NonFiniteNumberError,
    long_integer_at,
    non_finite_at,
    shortened_list,
    shortened_repr,
    shortened_url,
)
from ._scalar_hooks import check_text
from .models.batches import TaskDetails
from .models.bulk import BulkRequest, CreateBatchRequest, DuplicateBatchRequest

__all__ = [
    "ManifestChangedError",
    "ManifestCheck",
    "ManifestError",
    "ManifestLine",
    "parse_line",
    "read_manifest",
    "validate_manifest",
]

_CREATE_FIELDS = {"name", "workspace_id", "task_details", "dataset_id", "key"}
_DUPLICATE_FIELDS = {"duplicate_of", "name", "upload_new_dataset", "key"}
_DETAIL_FIELDS = ("task_name", "task_introduction", "task_steps")


class ManifestError(ValueError):
    """A manifest line that is not a valid create or duplicate; names file and line.

    The message cuts each long part of the path (:func:`~._json.shortened_url`), and
    every value of the line it quotes, to :data:`~._json.MAX_SHOWN` characters;
    ``path`` keeps it whole.
    """

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{shortened_url(path)}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class ManifestChangedError(ManifestError):
    """The manifest changed after it was checked: what is read now was never checked."""


ManifestLine = tuple[int, BulkRequest]

#: What identifies one version of a file: device, inode, size, modification and change
#: times (ns). The change time too: ``cp -p`` or ``rsync -t`` put the old mtime back.
Stamp = tuple[int, int, int, int, int]


def _stamp(descriptor: int) -> Stamp:
    status = os.fstat(descriptor)
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


@frozen
class ManifestCheck:
    """What :func:`validate_manifest` found: the requests, the bad lines, the file's stamp."""

    count: int
    problems: list[ManifestError]
    #: The file as it was checked; :func:`read_manifest` refuses to read another version.
    stamp: Stamp


def _text(value: str, field: str) -> str:
    """``value``, refused if it holds a lone surrogate.

    Such a line would be sent, and then break the journal write at the same record on
    every re-run.
    """
    try:
        return check_text(value)
    except ValueError as exc:
        raise ValueError(f"{field!r}: {exc}") from None


def _optional(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{field!r} must be a non-empty string, got {shortened_repr(value)}")
    return value if value is None else _text(value, field)


def _required(data: dict[str, Any], field: str) -> str:
    value = _optional(data, field)
    if value is None:
        raise ValueError(f"{field!r} is required")
    return value


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start + 1} of the line)") from exc


class _DuplicateKeyError(ValueError):
    """A key given twice in one object of a line."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members; a key given twice is refused (JSON would keep the last)."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(f"the field {shortened_repr(key)} is given twice")
            seen.add(key)
    return data


def parse_line(text: str) -> BulkRequest | None:
    """Parse one manifest line; ``None`` for a blank or comment line.

    Raises:
        ValueError: the line is not a valid create or duplicate (the message says why).
    """
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    try:
        data = json.loads(stripped, object_pairs_hook=_unique_keys, **FINITE_ONLY)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    except NonFiniteNumberError as exc:  # NaN, Infinity, 1e999: no server reads them
        raise ValueError(f"not valid JSON ({exc}, at {non_finite_at(stripped)})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None
    except _DuplicateKeyError as exc:
        raise ValueError(str(exc)) from None
    except ValueError:  # Python's cap on the digits of an integer
        at = long_integer_at(stripped) or "$"
        raise ValueError(f"holds an integer too long to read (at {at})") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    key = _optional(data, "key")
    if "duplicate_of" in data:
        unknown = set(data) - _DUPLICATE_FIELDS
        if unknown:
            raise ValueError(f"unknown field(s) for a duplicate: {shortened_list(sorted(unknown))}")
        upload_new = data.get("upload_new_dataset", False)
        if not isinstance(upload_new, bool):
            shown = shortened_repr(upload_new)
            raise ValueError(f"'upload_new_dataset' must be true or false, got {shown}")
        return DuplicateBatchRequest(
            _required(data, "duplicate_of"), _optional(data, "name"), upload_new, key=key
        )
    unknown = set(data) - _CREATE_FIELDS
    if unknown:
        raise ValueError(
            f"unknown field(s) {shortened_list(sorted(unknown))}: a create has "
            f"{sorted(_CREATE_FIELDS)}, "
            f"a duplicate has {sorted(_DUPLICATE_FIELDS)}"
        )
    name = _required(data, "name")
    workspace_id = _required(data, "workspace_id")
    details = data.get("task_details")
    if not isinstance(details, dict):
        raise ValueError("'task_details' is required and must be an object")
    unknown = set(details) - set(_DETAIL_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown field(s) in 'task_details': {shortened_list(sorted(unknown))} "
            f"(it has {list(_DETAIL_FIELDS)})"
        )
    for field in _DETAIL_FIELDS:
        if not isinstance(details.get(field), str):
            raise ValueError(f"'task_details.{field}' is required and must be a string")
        _text(details[field], f"task_details.{field}")
    return CreateBatchRequest(
        name,
        workspace_id,
        TaskDetails(**{field: details[field] for field in _DETAIL_FIELDS}),
        _optional(data, "dataset_id"),
        key=key,
    )


def read_manifest(path: Path, *, checked: Stamp | None = None) -> Iterator[ManifestLine]:
    """Yield ``(line number, request)`` lazily, one line at a time.

    ``checked``: the stamp of the version :func:`validate_manifest` checked. The file is
    then compared with it before each line is used, so a manifest rewritten, truncated
    or appended to meanwhile (a long run reads it as it goes) stops the reading instead
    of sending lines nobody checked, or silently fewer.

    Raises:
        ManifestError: on the first bad line, naming it.
        ManifestChangedError: the file is no longer the version checked.
    """
    with path.open("rb") as file:
        number = 0
        for number, raw in enumerate(file, start=1):
            if checked is not None and _stamp(file.fileno()) != checked:
                raise _changed(path, number)
            try:
                request = parse_line(_decode(raw))
            except (ValueError, TypeError) as exc:
                raise ManifestError(str(path), number, str(exc)) from exc
            if request is not None:
                yield number, request
        if checked is not None and _stamp(file.fileno()) != checked:
            raise _changed(path, number)


def _changed(path: Path, line: int) -> ManifestChangedError:
    return ManifestChangedError(
        str(path),
        line,
        "the file changed after it was checked (rewritten, truncated or appended to); "
        "the lines from here on were not sent",
    )


def validate_manifest(path: Path, *, limit: int = 20) -> ManifestCheck:
    """Check every line without keeping them: the count, up to ``limit`` errors, the stamp.

    Duplicate keys are reported too. Memory holds only the keys seen. The stamp is taken
    as the file is opened: a file changed while it is checked no longer matches it.
    """
    errors: list[ManifestError] = []
    keys: dict[str, int] = {}
    count = 0
    with path.open("rb") as file:
        stamp = _stamp(file.fileno())
        for number, raw in enumerate(file, start=1):
            try:
                request = parse_line(_decode(raw))
            except (ValueError, TypeError) as exc:
                errors.append(ManifestError(str(path), number, str(exc)))
            else:
                if request is None:
                    continue
                count += 1
                if request.key is not None:
                    first = keys.setdefault(request.key, number)
                    if first != number:
                        errors.append(
                            ManifestError(
                                str(path),
                                number,
                                f"key {shortened_repr(request.key)} already used on line {first}",
                            )
                        )
            if len(errors) >= limit:
                break
    return ManifestCheck(count, errors, stamp)
