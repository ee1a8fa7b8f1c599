"""load_layout and load_schema: real files load and round-trip; bad ones say where.

The real files are Prolific's official CLI's examples in ``../shared/real-payloads/``
(other people's data: read from there, never copied into the project; the tests that
need them skip, naming the folder, where it is absent).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import prolific_async
from prolific_async import InputFileError, ProlificError, load_layout, load_schema
from prolific_async._converter import converter
from prolific_async._loaders import load_records
from prolific_async.models import DatasetSchema, Page

REAL_PAYLOADS = Path(__file__).resolve().parents[2] / "shared" / "real-payloads"
PAGE = {"rows": [{"columns": [{"items": [{"type": "free_text", "description": "Why?"}]}]}]}


def real_files(kind: str) -> list[Path]:
    """The real payload files of one INDEX.json kind (``batch_items``, ``dataset_schema``)."""
    if not (REAL_PAYLOADS / "INDEX.json").is_file():
        pytest.skip(f"the reference payloads are absent: {REAL_PAYLOADS} (../shared/real-payloads)")
    entries = json.loads((REAL_PAYLOADS / "INDEX.json").read_text())
    files = [REAL_PAYLOADS / entry["file"] for entry in entries if entry["kind"] == kind]
    assert files, f"INDEX.json lists no {kind} file"
    return files


def as_json(value: Any) -> Any:
    """A model's wire form as JSON reads it back (enums become their strings)."""
    return json.loads(json.dumps(converter.unstructure(value)))


def test_the_loaders_and_their_error_are_public() -> None:
    """Both loaders and InputFileError are top-level names; the error is also a ValueError."""
    assert prolific_async.load_layout is load_layout
    assert prolific_async.load_schema is load_schema
    assert issubclass(InputFileError, ProlificError)
    assert issubclass(InputFileError, ValueError)


def test_every_real_layout_loads_and_round_trips() -> None:
    """Each real layout file loads into pages whose wire form is the file's JSON."""
    for file in real_files("batch_items"):
        pages = load_layout(file)
        assert all(isinstance(page, Page) for page in pages), file.name
        assert as_json(pages) == json.loads(file.read_text()), file.name


def test_every_real_layout_loads_from_an_object_with_batch_items(tmp_path: Path) -> None:
    """A layout under a ``batch_items`` key (a batch or a create body) loads the same pages."""
    for file in real_files("batch_items"):
        layout = json.loads(file.read_text())
        wrapped = tmp_path / file.name
        wrapped.write_text(json.dumps({"name": "a batch", "batch_items": layout}))
        assert load_layout(wrapped) == load_layout(file), file.name


def test_every_real_schema_loads_and_round_trips() -> None:
    """Each real schema file loads into a DatasetSchema whose wire form is the file's JSON."""
    for file in real_files("dataset_schema"):
        schema = load_schema(file)
        assert isinstance(schema, DatasetSchema), file.name
        assert as_json(schema) == json.loads(file.read_text()), file.name


def test_a_layout_keeps_what_the_library_does_not_model(tmp_path: Path) -> None:
    """Unknown keys and item types survive loading, so the layout sent is the file's."""
    layout = [
        {
            "rows": [
                {
                    "columns": [
                        {"items": [{"type": "slider", "min": 0, "max": 5}], "width": 2},
                    ]
                }
            ],
            "colour": "blue",
        }
    ]
    file = tmp_path / "layout.json"
    file.write_text(json.dumps(layout))
    assert as_json(load_layout(file)) == layout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"rows": []', "not valid JSON: Expecting ',' delimiter (line 1, column 13)"),
        ('\n\n  {"rows": [}', "(line 3, column 13)"),
        (
            "{}",
            'expected a JSON array of pages, or an object {"batch_items": [...]}, got an object',
        ),
        ('"pages"', "got a string @ $"),
        ('{"batch_items": null}', "got null @ $.batch_items"),
        ("[]", "a layout needs at least one page, got an empty array @ $"),
        ('{"batch_items": []}', "empty array @ $.batch_items"),
        ("[1]", "@ $[0]"),
        (
            '[{"rows": [{"columns": [{"items": [{"type": "free_text"}]}]}]}]',
            "required field missing @ $[0].rows[0].columns[0].items[0].description",
        ),
        (
            json.dumps({"batch_items": [PAGE, {"rows": [{"columns": [{"items": [["x"]]}]}]}]}),
            "@ $.batch_items[1].rows[0].columns[0].items[0]",
        ),
        (
            json.dumps(
                [
                    {
                        "rows": [
                            {
                                "columns": [
                                    {
                                        "items": [
                                            {
                                                "type": "multiple_choice",
                                                "description": "Pick",
                                                "options": [{"label": "A", "value": [1]}],
                                            }
                                        ]
                                    }
                                ]
                            }
                        ]
                    }
                ]
            ),
            "@ $[0].rows[0].columns[0].items[0].options[0].value",
        ),
    ],
)
def test_a_bad_layout_file_names_the_file_and_where(
    tmp_path: Path, content: str, message: str
) -> None:
    """A layout file that is not JSON or not pages raises InputFileError saying where."""
    file = tmp_path / "layout.json"
    file.write_text(content)
    with pytest.raises(InputFileError) as caught:
        load_layout(file)
    assert caught.value.path == file
    assert str(caught.value).startswith(f"{file}: ")
    assert message in str(caught.value)
    assert caught.value.errors


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('["prompt"]', 'expected a JSON object {"strict"'),
        ('{"strict": true, "feilds": {}}', "expected a JSON object"),
        ('{"fields": {}, "colour": 1}', "unknown key(s) colour"),
        ('{"fields": {"p": {"type": "text", "max": 3}}}', "field 'p' has unknown key(s) max"),
        ('{"strict": "yes", "fields": {}}', "@ $.strict"),
        ('{"fields": {"p": {"label": "P"}}}', "required field missing @ $.fields['p'].type"),
        ('{"fields": [', "not valid JSON"),
        (
            '{"fields": {"prompt": "text"}}',
            'expected field \'prompt\' to be an object {"type": ..., "label": ...}, '
            "got a string @ $.fields['prompt']",
        ),
        ('{"fields": {"prompt": null}}', "got null @ $.fields['prompt']"),
        (
            '{"fields": [{"name": "prompt", "type": "text"}]}',
            'expected "fields" to be an object {"NAME": {"type": ..., "label": ...}}, '
            "got an array @ $.fields",
        ),
        ('{"fields": {"p": {"type": "text", "label": 5}}}', "expected a string, got int 5 @"),
    ],
)
def test_a_bad_schema_file_names_the_file_and_where(
    tmp_path: Path, content: str, message: str
) -> None:
    """A schema file with the wrong shape or unknown keys raises InputFileError saying where."""
    file = tmp_path / "schema.json"
    file.write_text(content)
    with pytest.raises(InputFileError) as caught:
        load_schema(file)
    assert caught.value.path == file
    assert str(caught.value).startswith(f"{file}: ")
    assert message in str(caught.value)
    assert "Schema" not in str(caught.value)  # no model class (SchemaField, DatasetSchema)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('["page"]', "expected a JSON object, got str @ $[0]"),
        ("[null]", "expected a JSON object, got null @ $[0]"),
        ('[{"rows": "x"}]', "expected a JSON array, got str @ $[0].rows"),
        (
            json.dumps(
                [{"rows": [{"columns": [{"items": [{"type": "rich_text", "content": 5}]}]}]}]
            ),
            "expected a string, got int 5 @ $[0].rows[0].columns[0].items[0].content",
        ),
    ],
)
def test_a_layout_value_of_the_wrong_kind_says_what_was_expected_not_a_class(
    tmp_path: Path, content: str, message: str
) -> None:
    """A page, list or text of the wrong kind is named in JSON terms, not by a model class."""
    file = tmp_path / "layout.json"
    file.write_text(content)
    with pytest.raises(InputFileError) as caught:
        load_layout(file)
    assert str(caught.value) == f"{file}: {message}"


@pytest.mark.parametrize("load", [load_layout, load_schema])
def test_a_missing_or_unreadable_file_is_an_input_file_error(tmp_path: Path, load: Any) -> None:
    """A file that does not exist, is a directory or is not UTF-8 is named in the error."""
    binary = tmp_path / "binary.json"
    binary.write_bytes(b'["\xff"]')
    for file, message in [
        (tmp_path / "missing.json", "cannot be read (No such file or directory)"),
        (tmp_path, "cannot be read"),
        (binary, "is not UTF-8 text (byte 2)"),
    ]:
        with pytest.raises(InputFileError) as caught:
            load(file)
        assert caught.value.path == file
        assert str(caught.value) == f"{file}: {caught.value.errors[0]}"
        assert message in str(caught.value)


def test_a_loader_takes_a_string_path(tmp_path: Path) -> None:
    """The path may be a str as well as a Path."""
    file = tmp_path / "layout.json"
    file.write_text(json.dumps([PAGE]))
    assert load_layout(str(file)) == load_layout(file)


def test_records_load_from_json_lines_or_one_array(tmp_path: Path) -> None:
    """load_records reads JSON Lines (blank lines skipped) or one JSON array of objects."""
    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"text": "a"}\n\n{"text": "b", "n": 2}\n')
    array = tmp_path / "rows.json"
    array.write_text('[{"text": "a"}, {"text": "b", "n": 2}]')
    expected = [{"text": "a"}, {"text": "b", "n": 2}]
    assert load_records(lines) == load_records(array) == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("\n\n", "holds no records"),
        ("[]", "holds no records"),
        ('{"a": 1}\n{"a": \n', "line 2 is not valid JSON"),
        ('{"a": 1}\n"text"\n', "line 2: expected a JSON object, got a string"),
        ('[{"a": 1}, null]', "expected a JSON object, got null @ $[1]"),
    ],
)
def test_a_bad_records_file_names_the_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    """A records file with a line that is not a JSON object raises InputFileError naming it."""
    file = tmp_path / "rows.jsonl"
    file.write_text(content)
    with pytest.raises(InputFileError) as caught:
        load_records(file)
    assert caught.value.path == file
    assert message in str(caught.value)


DEEP = "[" * 100_000 + "]" * 100_000
LONG = '{"a": ' + "1" * 5000 + "}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (DEEP, "nested too deeply to read"),
        (LONG, r"holds an integer too long to read \(.*at \$\.a\)"),
    ],
    ids=["deep", "long-integer"],
)
@pytest.mark.parametrize("load", [load_layout, load_schema, load_records])
def test_json_nested_too_deeply_or_too_long_is_an_input_file_error(
    tmp_path: Path, load: Any, text: str, problem: str
) -> None:
    """Deep nesting or a 5000-digit integer is an InputFileError naming the file, not a crash."""
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputFileError, match=problem) as caught:
        load(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (DEEP, "line 2 is nested too deeply"),
        (LONG, r"line 2 holds an integer too long.*at \$\.a\)"),
    ],
    ids=["deep", "long-integer"],
)
def test_a_json_line_nested_too_deeply_or_too_long_is_named_by_line(
    tmp_path: Path, line: str, problem: str
) -> None:
    """In JSON Lines records, the deep or overlong line is named by its number."""
    path = tmp_path / "records.jsonl"
    path.write_text('{"a": 1}\n' + line + "\n")
    with pytest.raises(InputFileError, match=problem):
        load_records(path)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e999"])
@pytest.mark.parametrize("load", [load_layout, load_schema, load_records])
def test_a_non_finite_number_in_a_file_is_an_input_file_error(
    tmp_path: Path, load: Any, number: str
) -> None:
    """NaN, Infinity or 1e999 in an input file is refused naming the file (no JSON has them)."""
    path = tmp_path / "bad.json"
    path.write_text('{"a": ' + number + "}")
    with pytest.raises(
        InputFileError, match=r"not valid JSON: .*(not a JSON number|range) \(at \$\.a\)"
    ):
        load(path)
