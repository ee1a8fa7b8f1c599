"""What the emulator makes of dataset files and schemas: parsing, validation, ingestion.

Pure functions, no state: :mod:`._datasets` calls them when an upload arrives and applies
their outcome once the processing delay has passed.

* V3: a CSV file gives one datapoint per data row (rows after the header, blank lines
  skipped); a ``.zip`` counts as one datapoint. An empty or unparsable file is an error.
* V4: each JSON Lines line (or CSV row) is a record. A record is accepted when it is a
  JSON object and, if the schema is ``strict``, has a non-empty value for every schema
  field; otherwise it is rejected with a reason. A file that cannot be read at all
  (empty, not UTF-8, a malformed CSV) fails as a whole.
* Each version takes some file types (V3 ``.csv``/``.zip``, V4 ``.csv``/``.jsonl``); an
  upload URL is signed for one ``Content-Type`` by extension: ``text/csv`` and
  ``application/x-ndjson`` as the official CLI's upload tests sign them
  (``cmd/aitaskbuilder/upload_dataset_test.go``, prolific-oss/cli @ 4596a2fba604), and
  ``application/zip`` for a V3 ``.zip``, which neither the CLI nor the spec names.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any, Final

from attrs import frozen

from ._errors import APIError
from ._validation import NOT_BOOLEAN, NOT_NULL, REQUIRED

__all__ = [
    "UPLOAD_TYPES",
    "ImportOutcome",
    "check_schema",
    "field_schema",
    "read_v3",
    "read_v4",
    "upload_content_type",
]

#: Each dataset version's file extensions, and the ``Content-Type`` their URLs are signed for.
UPLOAD_TYPES: Final[Mapping[int, Mapping[str, str]]] = {
    3: {".csv": "text/csv", ".zip": "application/zip"},
    4: {".csv": "text/csv", ".jsonl": "application/x-ndjson"},
}


def upload_content_type(schema_version: int, filename: str) -> str:
    """The type an upload URL for ``filename`` is signed for; a 400 if it is not taken."""
    types = UPLOAD_TYPES[schema_version]
    for suffix, content_type in types.items():
        if filename.lower().endswith(suffix):
            return content_type
    expected = ", ".join(types)
    raise APIError(400, {"filename": [f"Unsupported file type. Allowed extensions: {expected}."]})


def _text(body: bytes) -> str:
    """Decode an upload as UTF-8 (a BOM is dropped), or raise ValueError saying why not."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("The file is not valid UTF-8.") from None


def parse_csv(body: bytes) -> list[dict[str, str]]:
    """The data rows of a CSV file with a header row, as dicts (blank lines skipped).

    Raises:
        ValueError: not UTF-8, no header, no data row, or a row longer than the header.
    """
    reader = csv.DictReader(io.StringIO(_text(body)), restval="")
    try:
        rows = [row for row in reader if any(value for value in row.values())]
    except csv.Error as exc:
        raise ValueError(f"The CSV file cannot be parsed: {exc}.") from None
    if not reader.fieldnames:
        raise ValueError("The file is empty.")
    for number, row in enumerate(rows, start=1):
        if None in row:
            raise ValueError(f"Data row {number} has more values than the header has columns.")
    if not rows:
        raise ValueError("The file has a header but no data rows.")
    return rows


def read_v3(filename: str, body: bytes) -> list[dict[str, Any]] | None:
    """The datapoints of a V3 upload, or ``None`` when it is empty or unparsable."""
    if filename.lower().endswith(".zip"):
        return [{"filename": filename}] if body else None
    try:
        return list(parse_csv(body))
    except ValueError:
        return None


@frozen(kw_only=True)
class ImportOutcome:
    """How a V4 import ends."""

    status: str
    """``complete``, ``partial`` or ``failed``."""
    accepted: list[dict[str, Any]]
    """The accepted records, in file order."""
    errors: list[dict[str, Any]]
    """One ``{record_index, field, reason}`` per rejected record."""
    reason: str | None = None
    """Why a failed import ingested nothing."""


def _records(filename: str, body: bytes) -> list[dict[str, Any] | str]:
    """Each record of a V4 file: its dict, or the reason it is not a JSON object."""
    if filename.lower().endswith(".csv"):
        return list(parse_csv(body))
    records: list[dict[str, Any] | str] = []
    # JSON Lines are split on "\n" only: str.splitlines() would also split inside a
    # string holding U+2028, U+2029 or U+0085, which JSON allows unescaped.
    for line in _text(body).split("\n"):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            records.append("The line is not valid JSON.")
            continue
        records.append(value if isinstance(value, dict) else "The record is not a JSON object.")
    if not records:
        raise ValueError("The file is empty.")
    return records


def read_v4(filename: str, body: bytes, schema: Mapping[str, Any]) -> ImportOutcome:
    """Validate every record of a V4 upload against the dataset's schema."""
    try:
        records = _records(filename, body)
    except ValueError as exc:
        return ImportOutcome(status="failed", accepted=[], errors=[], reason=str(exc))
    required = list(schema.get("fields", {})) if schema.get("strict") else []
    accepted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if isinstance(record, str):
            errors.append({"record_index": index, "field": None, "reason": record})
            continue
        missing = next((name for name in required if record.get(name) in (None, "")), None)
        if missing is not None:
            reason = "This field is required by the strict schema."
            errors.append({"record_index": index, "field": missing, "reason": reason})
            continue
        accepted.append(record)
    if not accepted:
        return ImportOutcome(
            status="failed", accepted=[], errors=errors, reason="Every record was rejected."
        )
    return ImportOutcome(
        status="partial" if errors else "complete", accepted=accepted, errors=errors
    )


# -- schemas -------------------------------------------------------------------------


def _schema_fields(fields: Any) -> Any:
    """The error ``detail`` for a schema's ``fields``, or ``None`` when they are valid."""
    if not isinstance(fields, dict):
        return [f'Expected a dictionary of items but got type "{type(fields).__name__}".']
    bad = {
        name: {"type": [REQUIRED]}
        for name, definition in fields.items()
        if not isinstance(definition, dict) or not isinstance(definition.get("type"), str)
    }
    if bad:
        return bad
    groupings = [name for name, d in fields.items() if d["type"] == "task_group_id"]
    if len(groupings) > 1:
        return ["At most one field may have the type task_group_id."]
    return None


def field_schema(body: Mapping[str, Any], errors: dict[str, Any]) -> dict[str, Any] | None:
    """Validate a body's optional ``schema``: an object with a ``fields`` object.

    Each field is an object with a string ``type`` (any type name is accepted, so new
    ones work); at most one has the type ``task_group_id``; ``strict`` is a boolean
    (absent means ``false``). Problems are recorded in ``errors["schema"]``.

    Returns:
        The schema normalised to ``{"strict": bool, "fields": {...}}``, or ``None``
        when there is none or it is invalid.
    """
    if "schema" not in body:
        return None
    value = body["schema"]
    if value is None:
        errors["schema"] = [NOT_NULL]
        return None
    if not isinstance(value, dict):
        kind = type(value).__name__
        message = f"Invalid data. Expected a dictionary, but got {kind}."
        errors["schema"] = {"non_field_errors": [message]}
        return None
    nested: dict[str, Any] = {}
    if "fields" not in value:
        nested["fields"] = [REQUIRED]
    else:
        problem = _schema_fields(value["fields"])
        if problem is not None:
            nested["fields"] = problem
    if "strict" in value and not isinstance(value["strict"], bool):
        nested["strict"] = [NOT_BOOLEAN]
    if nested:
        errors["schema"] = nested
        return None
    return {"strict": bool(value.get("strict", False)), "fields": dict(value["fields"])}


def check_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a schema given to ``add_dataset``; return it normalised.

    Raises:
        ValueError: the API would refuse this schema.
    """
    errors: dict[str, Any] = {}
    checked = field_schema({"schema": dict(schema)}, errors)
    if checked is None:
        raise ValueError(f"invalid schema: {errors['schema']}")
    return checked
