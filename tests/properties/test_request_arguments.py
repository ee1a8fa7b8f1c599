"""Any arguments to a public call are sent exactly, or refused with a typed error unsent.

Each argument is drawn either from what the call documents (then the call must succeed)
or from anything at all (ids with ``/``, ``..``, lone surrogates; ``None``, numbers,
bools, lists where a string or a model goes). The call then either raised a
``ProlificError``, ``ValueError`` or ``TypeError`` with no request reaching the loopback
server, or the one request the server saw is the expected one: method, raw path (each id
percent-quoted as one segment), query and JSON body.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
from attrs import frozen
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prolific_async import (
    NOT_GIVEN,
    CreateBatchRequest,
    DuplicateBatchRequest,
    ProlificClient,
    ProlificError,
)
from prolific_async._converter import converter
from prolific_async.models import Column, DatasetSchema, Page, RichTextItem, Row, TaskDetails

from .loopback import Loopback, Seen
from .strategies import for_model, utc_datetimes

BATCHES = "/api/v1/data-collection/batches"
DATASETS = "/api/v1/data-collection/datasets"
TYPED = (ProlificError, ValueError, TypeError)

#: Valid ids and names: non-empty text, no lone surrogate; an id is not ``.`` or ``..``.
valid_texts = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=10)
valid_ids = valid_texts.filter(lambda value: value not in (".", ".."))
#: Anything a caller might pass by mistake.
anything: st.SearchStrategy[Any] = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["", ".", "..", "a/b", "?x=1#y", "%2F", " ", "\ud800", "\x00"]),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.lists(st.integers(), max_size=2),
    st.just(b"bytes"),
    st.just(object()),
)


@frozen
class Build:
    """A model built inside the call: its constructor may refuse what it was given."""

    cls: type[Any]
    kwargs: dict[str, Any]

    def __call__(self) -> Any:
        return self.cls(**self.kwargs)


def built(value: Any) -> Any:
    """``value``, or the model a :class:`Build` makes (raising as its constructor does)."""
    return value() if isinstance(value, Build) else value


#: Text with a lone surrogate somewhere: no UTF-8 form, so it can never be sent.
surrogate_texts = st.sampled_from(["\ud800", "bad \udfff", "k\udc00", "\ud83d x"])
#: Task details and layouts holding such text (anything else in them valid).
bad_details = st.tuples(
    surrogate_texts,
    st.sampled_from(sorted(attrs_fields := ("task_name", "task_introduction", "task_steps"))),
).map(lambda drawn: Build(TaskDetails, {**dict.fromkeys(attrs_fields, "ok"), drawn[1]: drawn[0]}))
bad_layouts = surrogate_texts.map(
    lambda text: [Page(rows=[Row(columns=[Column(items=[RichTextItem(content=text)])])])]
)


def arg(
    valid: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] | None = None
) -> st.SearchStrategy[tuple[bool, Any]]:
    """``(True, value)`` for a documented value, ``(False, value)`` for any other."""
    wrong = anything if bad is None else anything | bad
    return st.tuples(st.just(True), valid) | st.tuples(st.just(False), wrong)


def optional(
    valid: st.SearchStrategy[Any], absent: Any = None, bad: st.SearchStrategy[Any] | None = None
) -> st.SearchStrategy[Any]:
    return arg(st.just(absent) | valid, bad)


details = for_model(TaskDetails)
layouts = st.lists(for_model(Page), min_size=1, max_size=2)


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    served = Loopback.start()
    yield served
    served.stop()


def call(
    loopback: Loopback, answer: str, run: Callable[[ProlificClient], Awaitable[Any]], valid: bool
) -> Seen | None:
    """Run the call against the emulator's ``answer``; the one request seen, or None."""
    status, payload = loopback.answers[answer]
    loopback.answer(json.dumps(payload), status)
    try:
        loopback.run(run)
    except TYPED:
        assert not valid, "documented arguments were refused"
        assert loopback.seen == [], "refused after a request was sent"
        return None
    (seen,) = loopback.seen
    return seen


def body(seen: Seen) -> Any:
    return json.loads(seen.body) if seen.body else None


def seg(value: str) -> str:
    return quote(value, safe="")


def given_fields(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not NOT_GIVEN}


# -- ids ---------------------------------------------------------------------------------

#: Calls taking only ids: (answer, the call, the expected method and path).
ID_CALLS: dict[str, tuple[str, Callable[..., Awaitable[Any]], Callable[..., tuple[str, str]]]] = {
    "batches.get": (
        "batches.get",
        lambda c, a, b: c.batches.get(a),
        lambda a, b: ("GET", f"{BATCHES}/{seg(a)}"),
    ),
    "batches.tasks": (
        "batches.tasks",
        lambda c, a, b: c.batches.tasks(a),
        lambda a, b: ("GET", f"{BATCHES}/{seg(a)}/tasks"),
    ),
    "batches.report": (
        "batches.report",
        lambda c, a, b: c.batches.report(a),
        lambda a, b: ("GET", f"{BATCHES}/{seg(a)}/report/"),
    ),
    "batches.get_export": (
        "batches.get_export",
        lambda c, a, b: c.batches.get_export(a, b),
        lambda a, b: ("GET", f"{BATCHES}/{seg(a)}/export/{seg(b)}"),
    ),
    "batches.delete_export": (
        "batches.get_status",
        lambda c, a, b: c.batches.delete_export(a, b),
        lambda a, b: ("DELETE", f"{BATCHES}/{seg(a)}/export/{seg(b)}"),
    ),
    "batches.sync": (
        "batches.sync",
        lambda c, a, b: c.batches.sync(a),
        lambda a, b: ("POST", f"{BATCHES}/{seg(a)}/sync"),
    ),
    "datasets.get_upload_url": (
        "datasets.get_upload_url",
        lambda c, a, b: c.datasets.get_upload_url(a, b),
        lambda a, b: ("GET", f"{DATASETS}/{seg(a)}/upload-url/{seg(b)}"),
    ),
    "datasets.get_import": (
        "datasets.get_import",
        lambda c, a, b: c.datasets.get_import(a, b),
        lambda a, b: ("GET", f"{DATASETS}/{seg(a)}/imports/{seg(b)}"),
    ),
}


@pytest.mark.parametrize("name", sorted(ID_CALLS))
@given(first=arg(valid_ids), second=arg(valid_ids))
@example(first=(False, "\ud800"), second=(True, "e1"))
@example(first=(True, "a/../b"), second=(True, "?#"))
def test_ids_are_quoted_into_one_segment_or_refused(
    loopback: Loopback, name: str, first: tuple[bool, Any], second: tuple[bool, Any]
) -> None:
    """An id goes into its own path segment, percent-quoted; a bad one is refused unsent."""
    answer, run, expected = ID_CALLS[name]
    seen = call(loopback, answer, lambda c: run(c, first[1], second[1]), first[0] and second[0])
    if seen is not None:
        assert (seen.method, seen.path) == expected(first[1], second[1])


# -- bodies ------------------------------------------------------------------------------


@given(
    name=arg(valid_texts),
    workspace_id=arg(valid_texts),
    task_details=arg(details, bad_details),
    dataset_id=optional(valid_texts),
    batch_items=optional(layouts, bad=bad_layouts),
    auto_sync_enabled=optional(st.booleans()),
)
@example(
    name=(True, "n"),
    workspace_id=(True, "w"),
    task_details=(
        False,
        Build(TaskDetails, {"task_name": "\ud800", "task_introduction": "i", "task_steps": "s"}),
    ),
    dataset_id=(True, None),
    batch_items=(True, None),
    auto_sync_enabled=(True, None),
)
def test_create_sends_its_fields_or_refuses(loopback: Loopback, **drawn: tuple[bool, Any]) -> None:
    """A create sends exactly its given fields as JSON, or refuses them unsent."""
    values = {key: value for key, (_, value) in drawn.items()}
    seen = call(
        loopback,
        "batches.create",
        lambda c: c.batches.create(**{key: built(value) for key, value in values.items()}),
        all(valid for valid, _ in drawn.values()),
    )
    if seen is None:
        return
    expected = {key: value for key, value in values.items() if value is not None}
    expected["task_details"] = converter.unstructure(values["task_details"])
    if values["batch_items"] is not None:
        expected["batch_items"] = converter.unstructure(list(values["batch_items"]), list[Page])
    assert (seen.method, seen.path) == ("POST", BATCHES)
    assert body(seen) == expected


@given(
    batch_id=arg(valid_ids),
    name=optional(valid_texts, NOT_GIVEN),
    task_details=optional(details, NOT_GIVEN, bad_details),
    dataset_id=optional(valid_texts, NOT_GIVEN),
    batch_items=optional(st.none() | layouts, NOT_GIVEN, bad_layouts),
    auto_sync_enabled=optional(st.booleans(), NOT_GIVEN),
)
def test_update_sends_only_the_given_fields_or_refuses(
    loopback: Loopback, **drawn: tuple[bool, Any]
) -> None:
    """An update sends only the fields given (``None`` layout as null), or refuses unsent."""
    values = {key: value for key, (_, value) in drawn.items()}
    batch_id = values.pop("batch_id")
    seen = call(
        loopback,
        "batches.update",
        lambda c: c.batches.update(batch_id, **{k: built(v) for k, v in values.items()}),
        all(valid for valid, _ in drawn.values()),
    )
    if seen is None:
        return
    expected = given_fields(**values)
    if "task_details" in expected:
        expected["task_details"] = converter.unstructure(expected["task_details"])
    if expected.get("batch_items") is not None:
        expected["batch_items"] = converter.unstructure(list(expected["batch_items"]), list[Page])
    assert (seen.method, seen.path) == ("PATCH", f"{BATCHES}/{seg(batch_id)}")
    assert body(seen) == expected


@given(batch_id=arg(valid_ids), name=optional(valid_texts), fresh=arg(st.booleans()))
def test_duplicate_sends_its_fields_or_refuses(
    loopback: Loopback, batch_id: tuple[bool, Any], name: tuple[bool, Any], fresh: tuple[bool, Any]
) -> None:
    """A duplicate sends its name (if any) and ``upload_new_dataset``, or refuses unsent."""
    seen = call(
        loopback,
        "batches.duplicate",
        lambda c: c.batches.duplicate(batch_id[1], name=name[1], upload_new_dataset=fresh[1]),
        batch_id[0] and name[0] and fresh[0],
    )
    if seen is None:
        return
    expected = {"upload_new_dataset": fresh[1]} | ({} if name[1] is None else {"name": name[1]})
    assert (seen.method, seen.path) == ("POST", f"{BATCHES}/{seg(batch_id[1])}/duplicate")
    assert body(seen) == expected


@given(workspace_id=arg(valid_texts))
@example(workspace_id=(True, "a&b=c#d"))
@example(workspace_id=(False, "\ud800"))  # aiohttp 3.14.4 sent it as workspace_id=
def test_list_sends_the_workspace_as_its_query_or_refuses(
    loopback: Loopback, workspace_id: tuple[bool, Any]
) -> None:
    """A listing sends ``workspace_id`` as the query, whatever it holds, or refuses unsent."""
    seen = call(
        loopback, "batches.list", lambda c: c.batches.list(workspace_id[1]), workspace_id[0]
    )
    if seen is not None:
        assert (seen.method, seen.path) == ("GET", BATCHES)
        assert seen.query == {"workspace_id": workspace_id[1]}


@given(
    batch_id=arg(valid_ids),
    dataset_id=optional(valid_texts, NOT_GIVEN),
    tasks_per_group=optional(st.integers(min_value=1), NOT_GIVEN),
)
def test_setup_sends_its_fields_or_refuses(loopback: Loopback, **drawn: tuple[bool, Any]) -> None:
    """A setup sends the given dataset and group size, or refuses unsent."""
    values = {key: value for key, (_, value) in drawn.items()}
    batch_id = values.pop("batch_id")
    seen = call(
        loopback,
        "batches.get_status",
        lambda c: c.batches.setup(batch_id, **values),
        all(valid for valid, _ in drawn.values()),
    )
    if seen is not None:
        assert (seen.method, seen.path) == ("POST", f"{BATCHES}/{seg(batch_id)}/setup")
        assert body(seen) == given_fields(**values)


@given(
    study_id=optional(valid_texts),
    from_=optional(valid_texts | utc_datetimes),
    to=optional(valid_texts | utc_datetimes),
)
@example(study_id=(True, None), from_=(True, None), to=(False, "\ud800"))
def test_an_export_request_sends_its_filters_or_refuses(
    loopback: Loopback, **drawn: tuple[bool, Any]
) -> None:
    """An export request sends each filter as a query value (datetimes in UTC), or refuses."""
    values = {key: value for key, (_, value) in drawn.items()}
    seen = call(
        loopback,
        "batches.request_export",
        lambda c: c.batches.request_export("b1", **values),
        all(valid for valid, _ in drawn.values()),
    )
    if seen is None:
        return
    wire = {"study_id": "study_id", "from_": "from", "to": "to"}
    expected = {
        wire[key]: converter.unstructure(value) if isinstance(value, datetime) else value
        for key, value in values.items()
        if value is not None
    }
    assert seen.query == expected


@given(
    name=arg(valid_texts),
    workspace_id=arg(valid_texts),
    schema=optional(for_model(DatasetSchema)),
)
def test_a_dataset_create_sends_its_fields_or_refuses(
    loopback: Loopback, **drawn: tuple[bool, Any]
) -> None:
    """A dataset create sends its name, workspace and schema, or refuses unsent."""
    values = {key: value for key, (_, value) in drawn.items()}
    seen = call(
        loopback,
        "datasets.create",
        lambda c: c.datasets.create(**values),
        all(valid for valid, _ in drawn.values()),
    )
    if seen is None:
        return
    expected = {"name": values["name"], "workspace_id": values["workspace_id"]}
    if values["schema"] is not None:
        expected["schema"] = converter.unstructure(values["schema"])
    assert body(seen) == expected


records = st.lists(
    st.dictionaries(valid_texts, st.none() | st.booleans() | st.integers() | valid_texts),
    min_size=1,
    max_size=3,
)


@given(records=arg(records))
@example(records=(False, [{"a": float("nan")}]))
@example(records=(False, "a string is not records"))
@example(records=(True, [{"0": "\x85 \u2028"}]))
def test_appended_records_are_sent_as_json_lines_or_refused(
    loopback: Loopback, records: tuple[bool, Any]
) -> None:
    """Each record becomes one JSON line, in order; anything else is refused unsent."""
    seen = call(
        loopback,
        "datasets.add_datapoints",
        lambda c: c.datasets.add_datapoints("d1", records[1]),
        records[0],
    )
    if seen is not None:
        lines = seen.body.split(b"\n")  # JSON Lines end each record with "\n", and only there
        assert lines[-1] == b""
        assert [json.loads(line) for line in lines[:-1]] == list(records[1])


# -- bulk calls with request objects --------------------------------------------------


def bulk_call(
    loopback: Loopback, answer: str, run: Callable[[ProlificClient], Any], valid: bool
) -> list[Seen]:
    """Run a one-item bulk call; the POST it sent (none if the request was refused)."""
    status, payload = loopback.answers[answer]
    loopback.answer(json.dumps(payload), status)

    async def go(client: ProlificClient) -> list[Any]:
        return [result async for result in run(client)]

    try:
        loopback.run(go)  # the one answer serves every call: later steps may fail the item
    except TYPED:
        assert not valid, "documented arguments were refused"
        assert loopback.seen == [], "refused after a request was sent"
        return []
    posts = [seen for seen in loopback.seen if seen.method == "POST"]
    assert len(posts) == 1
    return posts


@settings(max_examples=15)
@given(
    name=arg(valid_texts),
    workspace_id=arg(valid_texts),
    task_details=arg(details, bad_details),
    dataset_id=optional(valid_texts),
    key=optional(valid_texts),
)
@example(
    name=(True, "n"),
    workspace_id=(True, "w"),
    task_details=(True, TaskDetails(task_name="t", task_introduction="i", task_steps="s")),
    dataset_id=(True, None),
    key=(False, "k\udc00"),
)
def test_create_many_sends_each_request_or_refuses(
    loopback: Loopback, **drawn: tuple[bool, Any]
) -> None:
    """A bulk create of one request sends its fields, or the request is refused unbuilt."""
    values = {key: value for key, (_, value) in drawn.items()}
    key = values.pop("key")

    def run(client: ProlificClient) -> Any:
        fields = {name: built(value) for name, value in values.items()}
        request = CreateBatchRequest(**fields, key=key)
        return client.batches.create_many([request], reconcile_delay=0)

    seen = bulk_call(loopback, "batches.create", run, all(v for v, _ in drawn.values()))
    if seen:
        post = seen[-1]
        assert (post.method, post.path) == ("POST", BATCHES)
        assert body(post)["name"] == values["name"]


@settings(max_examples=15)
@given(batch_id=arg(valid_ids), name=optional(valid_texts), key=optional(valid_texts))
@example(batch_id=(True, "b1"), name=(False, "bad \ud800"), key=(True, None))
def test_duplicate_many_sends_each_request_or_refuses(
    loopback: Loopback, **drawn: tuple[bool, Any]
) -> None:
    """A bulk duplicate of one request posts to its source's path, or is refused unbuilt."""
    values = {key: value for key, (_, value) in drawn.items()}

    def run(client: ProlificClient) -> Any:
        request = DuplicateBatchRequest(values["batch_id"], values["name"], key=values["key"])
        return client.batches.duplicate_many([request], reconcile_delay=0)

    seen = bulk_call(loopback, "batches.duplicate", run, all(v for v, _ in drawn.values()))
    if seen:
        post = seen[-1]
        assert (post.method, post.path) == (
            "POST",
            f"{BATCHES}/{seg(values['batch_id'])}/duplicate",
        )
