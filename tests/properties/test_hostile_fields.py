"""Any JSON in any field of any answer parses or raises ``ResponseValidationError``, nothing else.

For each public call, the emulator's own answer (:func:`emulator_answers`) has one field
(chosen by hypothesis, at any depth, or the whole body) replaced by arbitrary JSON text:
deep nesting, huge integers, ``1e999``, ``NaN``, lone surrogate escapes, wrong types,
``null``. The result is served from a loopback server to the public call itself, so the
body goes through the client's real read, decode and convert path.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from prolific_async import ProlificClient, ResponseValidationError
from prolific_async.models import DatasetSchema, SchemaField

from .loopback import DETAILS, Loopback

Call = Callable[[ProlificClient], Awaitable[Any]]

#: Every public call that reads a JSON answer, with the ids it is called with.
CALLS: dict[str, Call] = {
    "batches.get": lambda c: c.batches.get("b1"),
    "batches.create": lambda c: c.batches.create(name="n", workspace_id="w", task_details=DETAILS),
    "batches.duplicate": lambda c: c.batches.duplicate("b1"),
    "batches.update": lambda c: c.batches.update("b1", name="n"),
    "batches.get_status": lambda c: c.batches.get_status("b1"),
    "batches.list": lambda c: c.batches.list("w"),
    "batches.tasks": lambda c: c.batches.tasks("b1"),
    "batches.task_groups": lambda c: c.batches.task_groups("b1"),
    "batches.responses": lambda c: c.batches.responses("b1"),
    "batches.report": lambda c: c.batches.report("b1"),
    "batches.request_export": lambda c: c.batches.request_export("b1"),
    "batches.get_export": lambda c: c.batches.get_export("b1", "e1"),
    "batches.list_exports": lambda c: c.batches.list_exports("b1"),
    "batches.sync": lambda c: c.batches.sync("b1"),
    "batches.get_sync": lambda c: c.batches.get_sync("b1", "s1"),
    "datasets.create": lambda c: c.datasets.create(name="n", workspace_id="w"),
    "datasets.get": lambda c: c.datasets.get("d1"),
    "datasets.get_status": lambda c: c.datasets.get_status("d1"),
    "datasets.get_upload_url": lambda c: c.datasets.get_upload_url("d1", "f.jsonl"),
    "datasets.get_import": lambda c: c.datasets.get_import("d1", "i1"),
    "datasets.add_datapoints": lambda c: c.datasets.add_datapoints("d1", [{"text": "a"}]),
    "datasets.update": lambda c: c.datasets.update(
        "d1", schema=DatasetSchema(fields={"text": SchemaField(type="text")})
    ),
    "datasets.get_schema_migration": lambda c: c.datasets.get_schema_migration("d1", "j1"),
}


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    """One loopback server and client for every example of the module."""
    served = Loopback.start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def answers(loopback: Loopback) -> dict[str, tuple[int, Any]]:
    """The emulator's answer to each call, captured once."""
    return loopback.answers


#: Raw JSON texts no Python value serialises to, or that break naive decoders.
HOSTILE_TEXTS = [
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' * 20_000 + "null" + "}" * 20_000,
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "-Infinity",
    "1" + "0" * 5_000,
    str(2**63),
    str(-(2**63) - 1),
    '"\\ud800"',
    '"\\udfff x"',
    '{"\\ud800": 1}',
    '"0001-01-01T00:00:00+01:00"',
    '"9999-12-31T23:59:59-01:00"',
    '"2026-13-45T99:99:99Z"',
    "null",
    "true",
    "0",
    "-0.0",
    '""',
    "[]",
    "{}",
]

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(), max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)
#: Arbitrary JSON text: a hostile text, or any JSON value (non-finite floats and lone
#: surrogates are written as ``NaN``/``Infinity`` and ``\\udXXX`` escapes).
json_texts = st.sampled_from(HOSTILE_TEXTS) | json_values.map(json.dumps)

MARK = "\x00field-under-test\x00"


@st.composite
def mutations(draw: st.DrawFn, payload: Any) -> str:
    """The payload as JSON text with one value (at any depth, or the root) replaced."""
    path: list[str | int] = []
    node = payload
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        path.append(key)
        node = node[key]
    replacement = draw(json_texts)
    if not path:
        return replacement
    copy = json.loads(json.dumps(payload))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = MARK
    return json.dumps(copy).replace(json.dumps(MARK), replacement, 1)


def served_and_read(loopback: Loopback, name: str, status: int, body: str) -> None:
    loopback.answer(body, status)
    with contextlib.suppress(ResponseValidationError):
        loopback.run(CALLS[name])


def test_every_call_has_an_emulator_answer(
    loopback: Loopback, answers: dict[str, tuple[int, Any]]
) -> None:
    """The scenario captured an answer for each call, and each parses unchanged."""
    assert set(answers) == set(CALLS)
    for name, (status, payload) in answers.items():
        loopback.answer(json.dumps(payload), status)
        loopback.run(CALLS[name])


@pytest.mark.parametrize("name", sorted(CALLS))
@given(data=st.data())
def test_any_json_in_any_field_is_parsed_or_a_validation_error(
    loopback: Loopback, answers: dict[str, tuple[int, Any]], name: str, data: st.DataObject
) -> None:
    """A field holding any JSON value never escapes as anything but ResponseValidationError."""
    status, payload = answers[name]
    served_and_read(loopback, name, status, data.draw(mutations(payload)))


@given(st.sampled_from(sorted(CALLS)), json_texts)
@example("batches.get", '"\\ud800"')
def test_any_json_as_the_whole_answer_is_parsed_or_a_validation_error(
    loopback: Loopback, answers: dict[str, tuple[int, Any]], name: str, body: str
) -> None:
    """A whole answer of any JSON never escapes as anything but ResponseValidationError."""
    served_and_read(loopback, name, answers[name][0], body)
