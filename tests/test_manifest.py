"""The provisioning manifest: one create or duplicate per JSON line, errors named by line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from prolific_async import CreateBatchRequest, DuplicateBatchRequest, TaskDetails
from prolific_async._manifest import (
    ManifestChangedError,
    ManifestError,
    parse_line,
    read_manifest,
    validate_manifest,
)

DETAILS = {"task_name": "Rate", "task_introduction": "Intro", "task_steps": "Steps"}
CREATE = {"name": "B", "workspace_id": "ws", "task_details": DETAILS}


def line(**fields: Any) -> str:
    return json.dumps(fields)


def write(tmp_path: Path, *lines: str | bytes) -> Path:
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
    return path


# -- good lines --------------------------------------------------------------------------


def test_a_create_line_becomes_a_create_request() -> None:
    """Name, workspace, task details and the optional dataset and key are all read."""
    request = parse_line(line(**CREATE, dataset_id="d1", key="k1"))
    assert request == CreateBatchRequest("B", "ws", TaskDetails(**DETAILS), "d1", key="k1")


def test_a_duplicate_line_becomes_a_duplicate_request() -> None:
    """``duplicate_of`` with an optional name, upload_new_dataset and key."""
    request = parse_line(line(duplicate_of="b1", name="Copy", upload_new_dataset=True, key="k2"))
    assert request == DuplicateBatchRequest("b1", "Copy", True, key="k2")


def test_a_duplicate_line_defaults_to_the_same_name_and_dataset() -> None:
    """Without name or upload_new_dataset a duplicate keeps the source's name and dataset."""
    assert parse_line(line(duplicate_of="b1")) == DuplicateBatchRequest("b1", None, False)


@pytest.mark.parametrize("text", ["", "   ", "\n", "# a comment", '  # {"name": "x"}'])
def test_blank_and_comment_lines_are_skipped(text: str) -> None:
    """A blank line or one starting with ``#`` is no request."""
    assert parse_line(text) is None


def test_read_manifest_yields_line_numbers_past_blanks_and_comments(tmp_path: Path) -> None:
    """Each request comes with the number of the line it was on, counting skipped lines."""
    path = write(tmp_path, "# header", line(**CREATE), "", line(duplicate_of="b1"))
    numbered = list(read_manifest(path))
    assert [number for number, _ in numbered] == [2, 4]
    assert isinstance(numbered[0][1], CreateBatchRequest)
    assert isinstance(numbered[1][1], DuplicateBatchRequest)


def test_a_utf8_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    """A manifest saved with a BOM (as some editors do) reads like one without."""
    path = write(tmp_path, b"\xef\xbb\xbf" + line(**CREATE).encode())
    assert [number for number, _ in read_manifest(path)] == [1]


# -- bad lines ---------------------------------------------------------------------------

BAD_LINES = [
    ('{"name": ', "not valid JSON"),
    (
        '{"name": "a", "workspace_id": NaN}',
        "not valid JSON (NaN is not a JSON number, at $.workspace_id)",
    ),
    ('{"name": "a", "key": 1e999}', "not valid JSON (1e999 is beyond a float's range, at $.key)"),
    ('{"name": "a", "key": ' + "1" * 5000 + "}", "holds an integer too long to read (at $.key)"),
    ("[1, 2]", "expected a JSON object, got list"),
    (line(**CREATE, extra=1), "unknown field(s) ['extra']"),
    (line(duplicate_of="b1", workspace_id="ws"), "unknown field(s) for a duplicate"),
    (line(workspace_id="ws", task_details=DETAILS), "'name' is required"),
    (line(name="B", task_details=DETAILS), "'workspace_id' is required"),
    (line(**{**CREATE, "name": ""}), "'name' must be a non-empty string"),
    (line(**{**CREATE, "workspace_id": 3}), "'workspace_id' must be a non-empty string"),
    (line(name="B", workspace_id="ws"), "'task_details' is required and must be an object"),
    (
        line(**{**CREATE, "task_details": {**DETAILS, "task_steps": None}}),
        "'task_details.task_steps' is required and must be a string",
    ),
    (line(**CREATE, dataset_id=""), "'dataset_id' must be a non-empty string"),
    (line(**CREATE, key=7), "'key' must be a non-empty string"),
    (line(duplicate_of=""), "'duplicate_of' must be a non-empty string"),
    (
        line(duplicate_of="b1", upload_new_dataset="yes"),
        "'upload_new_dataset' must be true or false",
    ),
]


@pytest.mark.parametrize(("text", "problem"), BAD_LINES)
def test_a_bad_line_says_what_is_wrong(text: str, problem: str) -> None:
    """parse_line raises ValueError naming the field or the JSON problem."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_line(text)


@pytest.mark.parametrize(("text", "problem"), BAD_LINES)
def test_read_manifest_names_the_file_and_line_of_a_bad_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    """The first bad line stops reading with ``path:line: problem``."""
    path = write(tmp_path, line(**CREATE), "", text, line(**CREATE))
    with pytest.raises(ManifestError) as caught:
        list(read_manifest(path))
    assert caught.value.line == 3
    assert caught.value.path == str(path)
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{path}:3: ")


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are an error of their line, with the byte's position."""
    path = write(tmp_path, line(**CREATE), b'{"name": "\xff"}')
    with pytest.raises(ManifestError, match=r":2: not UTF-8 text \(byte 11 of the line\)"):
        list(read_manifest(path))


def test_a_batch_id_the_model_refuses_is_a_line_error(tmp_path: Path) -> None:
    """The request model's own validation (an id that would change the path) names the line."""
    path = write(tmp_path, line(duplicate_of=".."))
    with pytest.raises(ManifestError) as caught:
        list(read_manifest(path))
    assert caught.value.line == 1
    assert "must not be '..'" in caught.value.problem


def test_read_manifest_is_lazy(tmp_path: Path) -> None:
    """Lines before a bad one are yielded before the error is raised."""
    path = write(tmp_path, line(**CREATE), "not json")
    lines = read_manifest(path)
    assert next(lines)[0] == 1
    with pytest.raises(ManifestError, match=":2: "):
        next(lines)


# -- validating the whole file -----------------------------------------------------------


def test_validate_counts_requests_and_collects_every_error(tmp_path: Path) -> None:
    """Validation reads on past a bad line: the count of good lines and each bad one."""
    path = write(tmp_path, line(**CREATE), "oops", "# c", line(duplicate_of="b1"), "[]")
    check = validate_manifest(path)
    count, problems = check.count, check.problems
    assert count == 2
    assert [problem.line for problem in problems] == [2, 5]


def test_a_duplicate_key_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    """A key used twice is reported on its second line, naming the first."""
    path = write(
        tmp_path,
        line(**CREATE, key="same"),
        line(duplicate_of="b1", key="other"),
        line(duplicate_of="b2", key="same"),
    )
    check = validate_manifest(path)
    count, problems = check.count, check.problems
    assert count == 3
    assert [(p.line, p.problem) for p in problems] == [(3, "key 'same' already used on line 1")]


def test_lines_without_keys_never_clash(tmp_path: Path) -> None:
    """Only explicit keys are checked for duplicates; identical keyless lines are fine."""
    path = write(tmp_path, line(**CREATE), line(**CREATE))
    check = validate_manifest(path)
    assert (check.count, check.problems) == (2, [])


def test_validate_stops_after_the_limit(tmp_path: Path) -> None:
    """At most ``limit`` errors are collected, so a wrong file is not read to its end."""
    path = write(tmp_path, *["bad"] * 10)
    check = validate_manifest(path, limit=3)
    count, problems = check.count, check.problems
    assert count == 0
    assert [problem.line for problem in problems] == [1, 2, 3]


# -- a manifest that changes after it was checked ----------------------------------------


def test_an_unchanged_manifest_reads_whole_against_its_stamp(tmp_path: Path) -> None:
    """A file left as it was checked yields every request against its stamp."""
    path = write(tmp_path, line(**CREATE), "# c", line(duplicate_of="b1"))
    check = validate_manifest(path)
    assert [number for number, _ in read_manifest(path, checked=check.stamp)] == [1, 3]


@pytest.mark.parametrize(
    "change",
    [
        lambda path: path.write_bytes(path.read_bytes()[: len(line(**CREATE)) + 1]),
        lambda path: path.write_bytes(path.read_bytes() + line(duplicate_of="b9").encode()),
        lambda path: path.write_bytes(path.read_bytes().replace(b'"b1"', b'"b2"')),
    ],
    ids=["truncated", "appended", "rewritten-same-size"],
)
def test_a_manifest_changed_mid_read_stops_at_the_next_line(tmp_path: Path, change: Any) -> None:
    """Truncating, appending to or rewriting the file mid-read stops it, naming the line."""
    path = write(tmp_path, line(**CREATE), line(duplicate_of="b1"), line(duplicate_of="b3"))
    check = validate_manifest(path)
    lines = read_manifest(path, checked=check.stamp)
    assert next(lines)[0] == 1
    stamp = path.stat()
    change(path)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))  # a coarse clock
    with pytest.raises(ManifestChangedError) as caught:
        next(lines)
    assert caught.value.line == 2
    assert "changed after it was checked" in str(caught.value)


def test_a_same_size_rewrite_with_its_mtime_put_back_is_still_seen(tmp_path: Path) -> None:
    """Rewritten in place at the same size and mtime (cp -p, rsync -t): refused all the same."""
    path = write(tmp_path, *[line(duplicate_of=f"b{i}") for i in range(2000)])  # past a buffer
    before = path.stat()
    check = validate_manifest(path)
    lines = read_manifest(path, checked=check.stamp)
    assert next(lines)[0] == 1
    # The kernel's clock is coarse: change another file until its ctime has moved on.
    probe = tmp_path / "probe"
    for _ in range(100_000):
        probe.write_bytes(b"x")
        if probe.stat().st_ctime_ns != before.st_ctime_ns:
            break
    path.write_bytes(path.read_bytes().replace(b'"b1999"', b'"x1999"'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert path.stat().st_size == before.st_size
    with pytest.raises(ManifestChangedError):
        for _ in lines:
            pass


def test_a_manifest_replaced_before_the_read_yields_nothing(tmp_path: Path) -> None:
    """A file renamed over the checked one is refused before its first line."""
    path = write(tmp_path, line(**CREATE))
    check = validate_manifest(path)
    (tmp_path / "other").mkdir()
    write(tmp_path / "other", line(**CREATE)).replace(path)
    with pytest.raises(ManifestChangedError) as caught:
        next(read_manifest(path, checked=check.stamp))
    assert caught.value.line == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"name": "a", "name": "b", "workspace_id": "ws", "task_details": {}}', "'name'"),
        (
            '{"name": "a", "workspace_id": "ws", "task_details": '
            '{"task_name": "x", "task_name": "y", "task_introduction": "", "task_steps": ""}}',
            "'task_name'",
        ),
    ],
    ids=["top-level", "in-task-details"],
)
def test_a_field_given_twice_is_refused_naming_it(text: str, problem: str) -> None:
    """JSON would keep a repeated key's last value: the line is refused instead."""
    with pytest.raises(ValueError, match=f"the field {problem} is given twice"):
        parse_line(text)


def test_an_unknown_task_details_field_is_refused() -> None:
    """A task_details field the API does not have is refused, not silently dropped."""
    details = {**DETAILS, "task_notes": "dropped?"}
    with pytest.raises(ValueError, match=r"unknown field\(s\) in 'task_details': \['task_notes'\]"):
        parse_line(line(**{**CREATE, "task_details": details}))
