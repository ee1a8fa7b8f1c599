"""Hostile answers and manifest lines: every failure to decode or convert is a typed error."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from prolific_async import (
    APIStatusError,
    CreateBatchRequest,
    CreatedButUnreadableError,
    DuplicateBatchRequest,
    Journal,
    NotFoundError,
    ProlificClient,
    ProvisionRequest,
    ResponseValidationError,
    RetryPolicy,
    TaskDetails,
    set_testing,
)
from prolific_async._manifest import ManifestError, read_manifest, validate_manifest
from prolific_async.models.batches import Batch
from prolific_async.testing import FakeProlific

from .conftest import fixture_json

BATCH_PATH = "/api/v1/data-collection/batches/*"
CREATE = "/api/v1/data-collection/batches"
WS = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")
FAST = RetryPolicy(attempts=2, timeout=10.0, wait_initial=0.001, wait_max=0.01, wait_jitter=0.0)
DEEP = "[" * 100_000 + "]" * 100_000
BATCH: dict[str, Any] = fixture_json("get_batch_200.json")
CSV = b"text\nI love it\nNot for me\n"


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    with set_testing():
        yield


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=1) as emulator:
        yield emulator


@pytest.fixture
async def client(fake: FakeProlific) -> AsyncIterator[ProlificClient]:
    async with fake.client(retry=FAST, timeout=2.0) as bound:
        yield bound


def batch_body(**changes: Any) -> str:
    """The fixture batch as JSON text, with fields replaced by raw JSON text."""
    text = json.dumps({**BATCH, **dict.fromkeys(changes, "@@")})
    for key, raw in changes.items():
        text = text.replace(f'"{key}": "@@"', f'"{key}": {raw}', 1)
    return text


async def get_batch(
    client: ProlificClient, fake: FakeProlific, body: str, status: int = 200
) -> Batch:
    fake.add_fault("GET", BATCH_PATH, "status", status=status, body=body)
    return await client.batches.get("b1")


def test_fixture_batch_reads() -> None:
    """The unchanged fixture reads, so each failure below is the field's own."""
    from prolific_async._body import structure_response

    text = batch_body()
    structure_response(json.loads(text), Batch, status_code=200, method="GET", url="u")


async def test_deep_json_in_a_2xx_body_is_a_validation_error(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """JSON nested 100,000 levels deep is a ResponseValidationError, not a RecursionError."""
    with pytest.raises(ResponseValidationError, match="nested too deeply"):
        await get_batch(client, fake, DEEP)


async def test_deep_json_inside_one_field_is_a_validation_error(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """Deep nesting inside one field of an object is a ResponseValidationError too."""
    with pytest.raises(ResponseValidationError):
        await get_batch(client, fake, batch_body(name=DEEP))


async def test_deep_json_in_an_error_body_is_a_status_error(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A 404 whose body nests 100,000 levels deep is still the NotFoundError it is."""
    with pytest.raises(APIStatusError) as caught:
        await get_batch(client, fake, DEEP, status=404)
    assert caught.value.status_code == 404


def nested_error(depth: int, wrap: str) -> str:
    """An error body whose ``detail`` (or ``message``, or ``error.detail``) nests ``depth`` deep."""
    deep = "[" * depth + '"too deep"' + "]" * depth
    return {
        "detail": '{"detail": %s}',
        "message": '{"message": %s}',
        "error": '{"error": {"title": "Not found", "detail": %s}}',
        "other": '{"odd": %s}',
    }[wrap] % deep


@pytest.mark.parametrize("wrap", ["detail", "message", "error", "other"])
@pytest.mark.parametrize("depth", [500, 950, 100_000])
async def test_a_deeply_nested_error_detail_is_the_status_error(
    client: ProlificClient, fake: FakeProlific, depth: int, wrap: str
) -> None:
    """A 404 whose detail nests 500, 950 or 100,000 deep is a NotFoundError, not RecursionError."""
    with pytest.raises(NotFoundError) as caught:
        await get_batch(client, fake, nested_error(depth, wrap), status=404)
    assert len(str(caught.value)) < 1000


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"], ids=["min", "max"]
)
async def test_a_date_with_no_utc_form_is_a_validation_error(
    client: ProlificClient, fake: FakeProlific, stamp: str
) -> None:
    """A created_at that parses but overflows in UTC is refused where it is read, by name."""
    with pytest.raises(ResponseValidationError, match=r"created_at"):
        await get_batch(client, fake, batch_body(created_at=json.dumps(stamp)))


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("total_task_count", "1" + "0" * 400),
        ("total_task_count", "-1" + "0" * 400),
        ("schema_version", "99999999999999999999"),
    ],
    ids=["huge-int", "huge-negative-int", "past-64-bits"],
)
async def test_an_integer_out_of_range_is_a_validation_error(
    client: ProlificClient, fake: FakeProlific, field: str, raw: str
) -> None:
    """An integer beyond 64 bits is refused, naming its field."""
    with pytest.raises(ResponseValidationError, match=field):
        await get_batch(client, fake, batch_body(**{field: raw}))


@pytest.mark.parametrize("raw", ["1e999", "-1e999", "NaN", "Infinity"])
async def test_a_number_that_is_not_finite_is_a_validation_error(
    client: ProlificClient, fake: FakeProlific, raw: str
) -> None:
    """``1e999`` (inf to json.loads), NaN and Infinity are refused: by the model, and as read."""
    from prolific_async._body import structure_response
    from prolific_async.models.responses import ResponseAnswer

    answer = json.loads('{"instruction_id": "i", "value": ' + raw + "}")
    with pytest.raises(ResponseValidationError, match="finite"):
        structure_response(answer, ResponseAnswer, status_code=200, method="GET", url="u")
    with pytest.raises(ResponseValidationError, match="a number JSON cannot carry"):
        await get_batch(client, fake, batch_body(total_task_count=raw))


async def test_a_lone_surrogate_is_a_validation_error_naming_the_field(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A name holding half a surrogate-pair escape is refused, naming ``$.name``."""
    with pytest.raises(ResponseValidationError, match=r"surrogate.*\$\.name"):
        await get_batch(client, fake, batch_body(name='"bad \\ud800 name"'))


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"id": "b1", "odd": {"deep": ["ok", "\\udfff"]}}', r"\$\.odd\.deep\[1\]"),
        (b'{"id": "b1", "odd": {"k\\ud800": 1}}', r"\$\.odd \(the key 'k\\ud800'\)"),
        (b'{"id": "b1", "name": "\xed\xa0\x80"}', r"\$\.name"),
    ],
    ids=["unmodelled-value", "key", "utf8-bytes"],
)
def test_a_lone_surrogate_anywhere_in_a_body_is_refused(raw: bytes, where: str) -> None:
    """Also outside typed fields (unknown layout keys are journaled) and as raw bytes."""
    from prolific_async._body import decode_json

    with pytest.raises(ResponseValidationError, match="lone surrogate @ " + where):
        decode_json(raw, 200, "GET", "u")


async def test_a_surrogate_pair_is_read(client: ProlificClient, fake: FakeProlific) -> None:
    """A valid pair of surrogate escapes (an emoji) reads as the character it is."""
    batch = await get_batch(client, fake, batch_body(name='"smile \\ud83d\\ude00"'))
    assert batch.name == "smile \N{GRINNING FACE}"


@pytest.mark.parametrize("raw", ['{"results": [], "meta": {}}', '"abc"'], ids=["object", "string"])
async def test_a_nested_list_field_takes_only_an_array(
    client: ProlificClient, fake: FakeProlific, raw: str
) -> None:
    """A list field answered with an object or a string is refused, not made its keys."""
    with pytest.raises(ResponseValidationError, match=r"(array|list) @ \$\.datasets"):
        await get_batch(client, fake, batch_body(datasets=raw))


# -- manifests ---------------------------------------------------------------------------

CREATE_LINE = {
    "name": "n",
    "workspace_id": WS,
    "task_details": json.loads(
        json.dumps({"task_name": "t", "task_introduction": "i", "task_steps": "s"})
    ),
}


def write_manifest(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_manifest_line_with_a_lone_surrogate_is_refused_with_its_line(tmp_path: Path) -> None:
    """Validation refuses a lone surrogate in a value, naming the line and the field."""
    good = json.dumps(CREATE_LINE)
    bad = json.dumps({**CREATE_LINE, "name": "x"}).replace('"x"', '"bad \\ud800"')
    path = write_manifest(tmp_path, good, bad)
    errors = validate_manifest(path).problems
    assert [(error.line, "surrogate" in error.problem) for error in errors] == [(2, True)]
    assert "'name'" in errors[0].problem
    with pytest.raises(ManifestError) as caught:
        list(read_manifest(path))
    assert caught.value.line == 2


def test_a_manifest_line_with_a_surrogate_in_a_key_or_detail_is_refused(tmp_path: Path) -> None:
    """A lone surrogate in task details or in the journal key is refused too."""
    details = json.dumps(
        {**CREATE_LINE, "task_details": {**CREATE_LINE["task_details"], "task_steps": "x"}}
    )
    keyed = json.dumps({**CREATE_LINE, "key": "x"})
    path = write_manifest(
        tmp_path, details.replace('"x"', '"\\udfff"'), keyed.replace('"x"', '"k\\udc00"')
    )
    errors = validate_manifest(path).problems
    assert [error.line for error in errors] == [1, 2]
    assert "task_details.task_steps" in errors[0].problem


def test_a_deeply_nested_manifest_line_is_refused_with_its_line(tmp_path: Path) -> None:
    """A line nested 100,000 levels deep is a bad line, not a RecursionError."""
    path = write_manifest(tmp_path, json.dumps(CREATE_LINE), DEEP)
    errors = validate_manifest(path).problems
    assert [error.line for error in errors] == [2]
    assert "nested too deeply" in errors[0].problem


# -- bulk runs ---------------------------------------------------------------------------


#: Unusable 201 answers to a create or duplicate that was applied, and what becomes of the
#: item: with no readable id it is reconciled (the listing shows the batch it made, which
#: is adopted); with an id it fails as CreatedButUnreadableError naming that batch.
UNUSABLE_CREATED = {
    "deep-json": (DEEP, "adopted"),
    "out-of-range-date": (batch_body(created_at='"0001-01-01T00:00:00+01:00"'), "unreadable"),
    "lone-surrogate": (batch_body(name='"\\ud800"'), "adopted"),
}


def assert_only_the_first_was_hit(
    results: list[Any], fake: FakeProlific, names: list[str], fate: str
) -> None:
    """Item 0 (the one the fault answered) met ``fate``; the others were made as usual.

    Either way its batch was made exactly once: the create was applied, and not resent.
    """
    results = sorted(results, key=lambda r: r.index)
    assert [r.index for r in results] == list(range(len(names)))
    first, rest = results[0], results[1:]
    if fate == "adopted":
        assert first.ok, first.error
        assert first.reconciled
        assert first.batch is not None
        assert first.batch.name == names[0]
    else:
        assert isinstance(first.error, CreatedButUnreadableError)
        assert first.error.batch_id == BATCH["id"]  # the id the (canned) answer named
        assert not first.reconciled
    assert all(r.ok and not r.reconciled for r in rest), [str(r.error) for r in rest]
    assert [r.batch.name for r in rest if r.batch is not None] == names[1:]
    made = Counter(batch.name for batch in fake.batches.values())
    assert all(made[name] == 1 for name in names), made  # each made once, none resent


@pytest.mark.parametrize("case", list(UNUSABLE_CREATED))
async def test_one_unreadable_create_answer_fails_only_its_item(
    client: ProlificClient, fake: FakeProlific, case: str, tmp_path: Path
) -> None:
    """A journaled create answered 201 with an unusable body: only that item is affected."""
    body, fate = UNUSABLE_CREATED[case]
    fake.add_fault("POST", CREATE, "status_after", status=201, body=body)
    names = [f"batch-{i}" for i in range(4)]
    requests = [CreateBatchRequest(name, WS, DETAILS) for name in names]
    journal = Journal(tmp_path / "run.journal")
    results = [
        r
        async for r in client.batches.create_many(
            requests, concurrency=1, journal=journal, reconcile_delay=0
        )
    ]
    assert_only_the_first_was_hit(results, fake, names, fate)
    assert len(fake.batches) == 4


@pytest.mark.parametrize("case", list(UNUSABLE_CREATED))
async def test_one_unreadable_duplicate_answer_fails_only_its_item(
    client: ProlificClient, fake: FakeProlific, case: str
) -> None:
    """A duplicate answered 201 with an unusable body: only that copy is affected."""
    body, fate = UNUSABLE_CREATED[case]
    source = fake.add_batch(name="source", workspace_id=WS, task_details=DETAILS)
    fake.add_fault("POST", f"{CREATE}/*/duplicate", "status_after", status=201, body=body)
    names = [f"copy-{i}" for i in range(3)]
    requests = [DuplicateBatchRequest(source.id, name) for name in names]
    results = [
        r async for r in client.batches.duplicate_many(requests, concurrency=1, reconcile_delay=0)
    ]
    assert_only_the_first_was_hit(results, fake, names, fate)


async def three_pipelines(client: ProlificClient) -> list[Any]:
    """provision_many of pipelines p0, p1 and p2, one at a time; the results by index."""
    requests = [
        ProvisionRequest(
            name=f"p{i}", workspace_id=WS, task_details=DETAILS, dataset=CSV, filename=f"{i}.csv"
        )
        for i in range(3)
    ]
    results = [r async for r in client.provision_many(requests, concurrency=1)]
    return sorted(results, key=lambda r: r.index)


async def test_one_unreadable_answer_fails_only_its_provision_pipeline(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A batch create answered 201 with a date out of range fails that pipeline only."""
    fake.add_fault(
        "POST", CREATE, "status_after", status=201, body=UNUSABLE_CREATED["out-of-range-date"][0]
    )
    results = await three_pipelines(client)
    assert [r.ok for r in results] == [False, True, True], [str(r.error) for r in results]
    assert results[0].error is not None
    assert isinstance(results[0].error.__cause__, CreatedButUnreadableError)
    assert sorted(batch.name for batch in fake.batches.values()) == ["p0", "p1", "p2"]


async def test_a_created_batch_id_no_url_can_hold_fails_only_its_provision_pipeline(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A batch created with the id '..': that pipeline fails at setup, naming what was made."""
    body = batch_body(id='".."', name='"p0"', workspace_id=json.dumps(WS))  # p0's own
    fake.add_fault("POST", CREATE, "status_after", status=201, body=body)
    results = await three_pipelines(client)
    assert [r.ok for r in results] == [False, True, True], [str(r.error) for r in results]
    error = results[0].error
    assert error is not None
    assert error.step == "set up batch"
    assert error.batch is not None
    assert error.batch.id == ".."
    assert error.dataset is not None
    assert "already made: dataset" in str(error)


async def test_a_pipeline_that_raises_a_bug_ends_provision_many_with_it(
    client: ProlificClient, fake: FakeProlific, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline task raising something unexpected stops the run with it, never a lost item."""
    from prolific_async import _provision

    async def broken(*_args: Any) -> Any:
        raise RuntimeError("a bug in a pipeline")

    monkeypatch.setattr(_provision, "_make_ready", broken)
    requests = [
        ProvisionRequest(
            name="p", workspace_id=WS, task_details=DETAILS, dataset=CSV, filename="a.csv"
        )
    ]
    with pytest.raises(RuntimeError, match="a bug in a pipeline"):
        [r async for r in client.provision_many(requests, concurrency=1)]


@pytest.mark.parametrize("call", ["tasks", "task_groups"])
@pytest.mark.parametrize("raw", ['{"results": [], "meta": {}}', '"abc"'], ids=["object", "string"])
async def test_tasks_answered_with_an_object_or_a_string_is_refused(
    client: ProlificClient, fake: FakeProlific, call: str, raw: str
) -> None:
    """``tasks``/``task_groups`` answered with an object or a string: not its keys or letters."""
    path = {"tasks": "tasks", "task_groups": "task-groups"}[call]
    fake.add_fault("GET", f"{CREATE}/*/{path}", "status", status=200, body=raw)
    with pytest.raises(ResponseValidationError, match=r"JSON array"):
        await getattr(client.batches, call)("b1")
