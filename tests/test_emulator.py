"""The emulator's API: state, validation, status codes and response shapes.

Checked twice where it matters: through the real ProlificClient (what users see) and
through raw aiohttp requests (what goes over the wire, key order included).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import prolific_async.testing
from prolific_async import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    ProlificClient,
    TaskDetails,
)
from prolific_async.testing import FAST_RETRY_POLICY, FakeProlific, RateLimit, StoredBatch

FIXTURES = Path(__file__).parent / "fixtures"
BATCHES = "/api/v1/data-collection/batches"
WORKSPACE = "6278acb09062db3b35bcbeb0"
TASK = {"task_name": "Rate it", "task_introduction": "<p>Hi</p>", "task_steps": "<ol></ol>"}
TASK_DETAILS = TaskDetails(**TASK)
#: Keys the docs' current Batch object adds after the recorded fixtures' (null/false here).
LAYOUT_KEYS = ["batch_items", "auto_sync_enabled"]


def fixture_keys(name: str) -> list[str]:
    """The top-level keys, in order, of a recorded API response in tests/fixtures."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return list(data)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    """A started emulator with the default seed and a generated token."""
    async with FakeProlific() as fake:
        yield fake


@pytest.fixture
async def client(fake: FakeProlific) -> AsyncIterator[ProlificClient]:
    """The real client, bound to the emulator, with millisecond backoff."""
    async with fake.client(retry=FAST_RETRY_POLICY) as client:
        yield client


@pytest.fixture
async def http(fake: FakeProlific) -> AsyncIterator[aiohttp.ClientSession]:
    """A raw session sending the fake's token; no keep-alive, so no hidden resends."""
    async with aiohttp.ClientSession(
        base_url=fake.url,
        headers={"Authorization": f"Token {fake.token}"},
        connector=aiohttp.TCPConnector(force_close=True),
    ) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """Send one raw request; return the status, the decoded body and the response."""
    async with http.request(method, path, **kwargs) as response:
        text = await response.text()
    body = json.loads(text) if response.content_type == "application/json" else text
    return response.status, body, response


def create_body(**overrides: Any) -> dict[str, Any]:
    """A valid Create a Batch body, with some fields replaced."""
    return {"name": "Batch A", "workspace_id": WORKSPACE, "task_details": dict(TASK), **overrides}


# -- package -------------------------------------------------------------------------


EXPECTED_PUBLIC_NAMES = {
    "FAST_RETRY_POLICY",
    "EmulatorStats",
    "FakeProlific",
    "Fault",
    "FaultKind",
    "Latency",
    "RateLimit",
    "RecordedRequest",
    "StoredBatch",
    "StoredDataset",
    "StoredExport",
    "StoredImport",
}


def test_all_lists_exactly_the_public_names() -> None:
    """prolific_async.testing.__all__ names every public attribute and nothing else."""
    module = prolific_async.testing
    # pytest loaded the plugin submodule (reachable, not curated) and, as for any plugin's
    # distribution, rewrote the package's asserts, adding non-identifier "@py_*" globals.
    public = {name for name in vars(module) if name.isidentifier() and not name.startswith("_")}
    public -= {"pytest_plugin"}
    assert set(module.__all__) == public == EXPECTED_PUBLIC_NAMES


# -- shapes and state ----------------------------------------------------------------


async def test_create_answers_201_in_the_create_shape(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """Create answers 201 with the seed's keys in order, without schema_version etc."""
    dataset = fake.add_dataset(total_datapoint_count=7, filename="rows.csv")
    status, body, _ = await call(http, "POST", BATCHES, json=create_body(dataset_id=dataset.id))
    assert status == 201
    assert list(body) == fixture_keys("duplicate_batch_201.json")
    assert body["datasets"] == [{"id": dataset.id, "total_datapoint_count": 7}]
    assert body["status"] == "UNINITIALISED"
    assert (body["total_task_count"], body["total_instruction_count"]) == (0, 0)
    stored = fake.batches[body["id"]]
    assert (stored.name, stored.workspace_id, stored.dataset_ids) == (
        "Batch A",
        WORKSPACE,
        [dataset.id],
    )
    assert stored.task_details == TASK_DETAILS


async def test_get_and_update_answer_200_in_the_full_shape(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """Get and update answer 200 with every Batch field, dataset filename included."""
    dataset = fake.add_dataset(total_datapoint_count=3, filename="rows.csv")
    batch = fake.add_batch(dataset_ids=[dataset.id])
    status, got, _ = await call(http, "GET", f"{BATCHES}/{batch.id}")
    assert status == 200
    assert list(got) == [*fixture_keys("get_batch_200.json"), *LAYOUT_KEYS]
    assert got["datasets"] == [
        {"id": dataset.id, "total_datapoint_count": 3, "filename": "rows.csv"}
    ]
    assert (got["schema_version"], got["total_task_groups"]) == (1, 0)
    status, updated, _ = await call(http, "PATCH", f"{BATCHES}/{batch.id}", json={"name": "B"})
    assert status == 200
    assert list(updated) == [*fixture_keys("update_batch_200.json"), *LAYOUT_KEYS]
    assert updated == {**got, "name": "B"}


async def test_client_round_trip_matches_the_stored_state(
    fake: FakeProlific, client: ProlificClient
) -> None:
    """create, get, update, duplicate and list through the client agree with fake.batches."""
    dataset = fake.add_dataset()
    created = await client.batches.create(
        name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS, dataset_id=dataset.id
    )
    assert created.schema_version is None  # the create response leaves it out
    assert fake.batches[created.id].created_at == created.created_at
    fetched = await client.batches.get(created.id)
    assert (fetched.name, fetched.schema_version, fetched.datasets[0].filename) == (
        "A",
        1,
        "dataset.csv",
    )
    updated = await client.batches.update(created.id, name="A2")
    assert updated.name == fake.batches[created.id].name == "A2"
    copy = await client.batches.duplicate(created.id)
    assert copy.name == "A2 (Copy)"
    listed = await client.batches.list(WORKSPACE)
    assert [batch.id for batch in listed] == [created.id, copy.id]


async def test_ids_are_uuid4_and_created_by_is_a_user_id(fake: FakeProlific) -> None:
    """Batch ids are UUID4 strings and created_by is 24 hex characters, like the API's."""
    batch = fake.add_batch()
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", batch.id
    )
    assert re.fullmatch(r"[0-9a-f]{24}", batch.created_by)


async def test_created_at_comes_from_the_clock_in_whole_seconds(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """created_at is the (skewable) clock's time, rendered with Z at whole seconds."""
    fake.clock = lambda: datetime(2024, 1, 15, 9, 30, 0, 987654, tzinfo=UTC) - timedelta(hours=1)
    _, body, _ = await call(http, "POST", BATCHES, json=create_body())
    assert body["created_at"] == "2024-01-15T08:30:00Z"
    assert fake.batches[body["id"]].created_at == datetime(2024, 1, 15, 8, 30, tzinfo=UTC)


async def test_fractional_seconds_keeps_microseconds() -> None:
    """fractional_seconds=True renders created_at with microseconds."""
    moment = datetime(2024, 1, 15, 9, 30, 0, 123456, tzinfo=UTC)
    fake = FakeProlific(clock=lambda: moment, fractional_seconds=True)
    async with fake, fake.client() as client:
        batch = await client.batches.create(
            name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS
        )
    assert batch.created_at == moment


# -- validation ----------------------------------------------------------------------

REQUIRED = ["This field is required."]
NOT_STRING = ["Not a valid string."]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": None}, {"name": ["This field may not be null."]}),
        ({"name": 5}, {"name": NOT_STRING}),
        ({"name": "  "}, {"name": ["This field may not be blank."]}),
        ({"workspace_id": ["w"]}, {"workspace_id": NOT_STRING}),
        ({"task_details": "text"}, {"task_details": {"non_field_errors": [
            "Invalid data. Expected a dictionary, but got str."]}}),
        ({"task_details": {**TASK, "task_name": 1}}, {"task_details": {"task_name": NOT_STRING}}),
        ({"task_details": {**TASK, "task_introduction": None}},
         {"task_details": {"task_introduction": ["This field may not be null."]}}),
        ({"task_details": {"task_name": "n", "task_introduction": "i"}},
         {"task_details": {"task_steps": REQUIRED}}),
        ({"dataset_id": 12}, {"dataset_id": NOT_STRING}),
    ],
)  # fmt: skip
async def test_create_rejects_a_wrongly_typed_field_with_400(
    fake: FakeProlific, http: aiohttp.ClientSession, body: dict[str, Any], detail: Any
) -> None:
    """A wrongly typed field answers 400 with the nested error body naming it."""
    status, answer, _ = await call(http, "POST", BATCHES, json=create_body(**body))
    assert status == 400
    assert answer == {
        "error": {"status": 400, "error_code": 140100, "title": "Bad Request", "detail": detail}
    }
    assert fake.batches == {}


@pytest.mark.parametrize("missing", ["name", "workspace_id", "task_details"])
async def test_create_rejects_a_missing_required_field_with_400(
    http: aiohttp.ClientSession, missing: str
) -> None:
    """Leaving out name, workspace_id or task_details answers 400 naming the field."""
    body = create_body()
    del body[missing]
    status, answer, _ = await call(http, "POST", BATCHES, json=body)
    assert (status, answer["error"]["detail"]) == (400, {missing: REQUIRED})


@pytest.mark.parametrize("missing", ["task_name", "task_introduction", "task_steps"])
async def test_create_rejects_a_missing_task_detail_with_400(
    http: aiohttp.ClientSession, missing: str
) -> None:
    """Each of task_name, task_introduction and task_steps is required."""
    task = {key: value for key, value in TASK.items() if key != missing}
    status, answer, _ = await call(http, "POST", BATCHES, json=create_body(task_details=task))
    assert (status, answer["error"]["detail"]) == (400, {"task_details": {missing: REQUIRED}})


async def test_create_reports_every_bad_field_at_once(http: aiohttp.ClientSession) -> None:
    """An empty body answers 400 listing all three required fields."""
    status, answer, _ = await call(http, "POST", BATCHES, json={})
    assert status == 400
    assert answer["error"]["detail"] == {
        "name": REQUIRED,
        "workspace_id": REQUIRED,
        "task_details": REQUIRED,
    }


@pytest.mark.parametrize(
    ("data", "detail_start"),
    [(b"{not json", "JSON parse error - "), (b"[1, 2]", "{'non_field_errors'")],
)
async def test_a_body_that_is_not_a_json_object_answers_400(
    http: aiohttp.ClientSession, data: bytes, detail_start: str
) -> None:
    """Unparseable JSON and a JSON array both answer 400."""
    headers = {"Content-Type": "application/json"}
    status, answer, _ = await call(http, "POST", BATCHES, data=data, headers=headers)
    assert status == 400
    assert str(answer["error"]["detail"]).startswith(detail_start)


async def test_an_unknown_dataset_id_answers_400(
    fake: FakeProlific, client: ProlificClient
) -> None:
    """A dataset_id the fake does not know answers 400 on dataset_id (documented choice)."""
    with pytest.raises(BadRequestError, match="dataset_id") as caught:
        await client.batches.create(
            name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS, dataset_id="nope"
        )
    assert caught.value.body["error"]["detail"] == {
        "dataset_id": ['Invalid pk "nope" - object does not exist.']
    }
    assert fake.batches == {}


async def test_update_applies_only_the_given_fields(
    fake: FakeProlific, client: ProlificClient
) -> None:
    """PATCH changes exactly the fields it sends; an empty body changes nothing."""
    first, second = fake.add_dataset(), fake.add_dataset()
    batch = fake.add_batch(name="Old", dataset_ids=[first.id])
    unchanged = await client.batches.update(batch.id)
    assert (unchanged.name, unchanged.datasets[0].id) == ("Old", first.id)
    new_task = TaskDetails(task_name="N", task_introduction="", task_steps="")
    updated = await client.batches.update(batch.id, task_details=new_task, dataset_id=second.id)
    assert (updated.name, updated.task_details, [d.id for d in updated.datasets]) == (
        "Old",
        new_task,
        [second.id],
    )
    assert fake.batches[batch.id].dataset_ids == [second.id]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 1}, "name"),
        ({"task_details": {"task_name": "only"}}, "task_details"),
        ({"dataset_id": False}, "dataset_id"),
        ({"dataset_id": "unknown"}, "dataset_id"),
    ],
)
async def test_update_rejects_bad_fields_with_400_and_changes_nothing(
    fake: FakeProlific, http: aiohttp.ClientSession, body: dict[str, Any], field: str
) -> None:
    """A bad field in a PATCH answers 400 naming it, and the batch is left as it was."""
    batch = fake.add_batch(name="Keep")
    status, answer, _ = await call(
        http, "PATCH", f"{BATCHES}/{batch.id}", json={"name": "X", **body}
    )
    assert status == 400
    assert list(answer["error"]["detail"]) == [field]
    assert fake.batches[batch.id].name == "Keep"


async def test_duplicate_shares_the_dataset_and_names_the_copy(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """Duplicate answers 201 named "<name> (Copy)", sharing the original's dataset."""
    dataset = fake.add_dataset(total_datapoint_count=9)
    original = fake.add_batch(name="Orig", dataset_ids=[dataset.id])
    original.total_instruction_count = 4
    status, body, _ = await call(http, "POST", f"{BATCHES}/{original.id}/duplicate")
    assert status == 201
    assert list(body) == fixture_keys("duplicate_batch_201.json")
    assert (body["name"], body["datasets"], body["total_instruction_count"]) == (
        "Orig (Copy)",
        [{"id": dataset.id, "total_datapoint_count": 9}],
        4,
    )
    assert body["id"] != original.id
    assert fake.batches[body["id"]].dataset_ids == [dataset.id]


async def test_duplicate_with_upload_new_dataset_leaves_the_dataset_behind(
    fake: FakeProlific, client: ProlificClient
) -> None:
    """upload_new_dataset=True gives a copy with no dataset; name= overrides the default."""
    dataset = fake.add_dataset()
    original = fake.add_batch(name="Orig", dataset_ids=[dataset.id])
    copy = await client.batches.duplicate(original.id, name="Fresh", upload_new_dataset=True)
    assert (copy.name, copy.datasets) == ("Fresh", [])
    assert fake.batches[original.id].dataset_ids == [dataset.id]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"upload_new_dataset": "yes"}, "upload_new_dataset"), ({"name": 3}, "name")],
)
async def test_duplicate_rejects_bad_types_with_400(
    fake: FakeProlific, http: aiohttp.ClientSession, body: dict[str, Any], field: str
) -> None:
    """A wrongly typed name or upload_new_dataset answers 400 and copies nothing."""
    original = fake.add_batch()
    status, answer, _ = await call(http, "POST", f"{BATCHES}/{original.id}/duplicate", json=body)
    assert (status, list(answer["error"]["detail"])) == (400, [field])
    assert list(fake.batches) == [original.id]


# -- list ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [BATCHES, BATCHES + "/"])
async def test_list_returns_the_workspace_batches_in_full(
    fake: FakeProlific, http: aiohttp.ClientSession, path: str
) -> None:
    """List (with or without the trailing slash) returns results and meta.count."""
    mine = [fake.add_batch(name="1"), fake.add_batch(name="2")]
    fake.add_batch(workspace_id="other")
    status, body, _ = await call(http, "GET", path, params={"workspace_id": WORKSPACE})
    assert status == 200
    assert body["meta"] == {"count": 2}
    assert [item["id"] for item in body["results"]] == [batch.id for batch in mine]
    assert list(body["results"][0]) == [*fixture_keys("get_batch_200.json"), *LAYOUT_KEYS]


@pytest.mark.parametrize(
    ("params", "message"),
    [({}, "This field is required."), ({"workspace_id": ""}, "This field may not be blank.")],
)
async def test_list_without_a_workspace_answers_400(
    http: aiohttp.ClientSession, params: dict[str, str], message: str
) -> None:
    """List requires workspace_id."""
    status, body, _ = await call(http, "GET", BATCHES, params=params)
    assert (status, body["error"]["detail"]) == (400, {"workspace_id": [message]})


# -- status codes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Authentication credentials were not provided."),
        ("Token wrong", "Invalid token."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Bearer {token}", "Authentication credentials were not provided."),
    ],
)
async def test_a_missing_or_wrong_token_answers_401(
    fake: FakeProlific, authorization: str | None, message: str
) -> None:
    """Every API route needs 'Authorization: Token <fake.token>'."""
    headers = {"Authorization": authorization.format(token=fake.token)} if authorization else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.url + BATCHES, json=create_body(), headers=headers) as response,
    ):
        body = await response.json()
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "Token"
    assert body["error"]["detail"] == message
    assert fake.batches == {}


async def test_the_client_sees_a_wrong_token_as_authentication_error(fake: FakeProlific) -> None:
    """A client with the wrong token gets AuthenticationError."""
    async with ProlificClient(token="not-it", base_url=fake.url) as client:
        with pytest.raises(AuthenticationError, match="Invalid token"):
            await client.batches.list(WORKSPACE)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", f"{BATCHES}/some-id", "GET, PATCH"),
        ("PUT", BATCHES, "GET, POST"),
        ("GET", f"{BATCHES}/some-id/duplicate", "POST"),
    ],
)
async def test_a_wrong_method_on_a_known_path_answers_405(
    http: aiohttp.ClientSession, method: str, path: str, allow: str
) -> None:
    """A known path with the wrong method answers 405 with Allow and the nested body."""
    status, body, response = await call(http, method, path)
    assert (status, response.headers["Allow"]) == (405, allow)
    assert body["error"]["title"] == "Method Not Allowed"
    assert body["error"]["detail"] == f'Method "{method}" not allowed.'


async def test_unknown_paths_and_batch_ids_answer_404(
    fake: FakeProlific, client: ProlificClient, http: aiohttp.ClientSession
) -> None:
    """An unknown path or batch id answers 404 with the nested body."""
    status, body, _ = await call(http, "GET", "/api/v1/studies/")
    assert (status, body["error"]["status"], body["error"]["error_code"]) == (404, 404, 140104)
    with pytest.raises(NotFoundError):
        await client.batches.get("00000000-0000-4000-8000-000000000000")
    with pytest.raises(NotFoundError):
        await client.batches.update("missing", name="x")
    with pytest.raises(NotFoundError):
        await client.batches.duplicate("missing")
    assert fake.stats.requests["GET", "unknown"] == 1


# -- observation ---------------------------------------------------------------------


async def test_the_request_log_records_requests_without_the_token(
    fake: FakeProlific, client: ProlificClient
) -> None:
    """fake.requests holds method, path, query, redacted headers and JSON; never the token."""
    await client.batches.create(name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS)
    await client.batches.list(WORKSPACE)
    create, listing = fake.requests
    assert (create.method, create.path, create.json["name"]) == ("POST", BATCHES, "A")
    assert create.headers["Authorization"] == "Token ***"
    assert (listing.method, listing.query, listing.json) == (
        "GET",
        {"workspace_id": WORKSPACE},
        None,
    )
    for text in (repr(fake.requests), repr(fake), repr(fake.stats), repr(fake.batches)):
        assert fake.token not in text


async def test_stats_count_requests_by_endpoint_and_reset(
    fake: FakeProlific, client: ProlificClient
) -> None:
    """stats.requests counts by (method, route); reset() zeroes it."""
    batch = await client.batches.create(name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS)
    await client.batches.get(batch.id)
    await client.batches.get(batch.id)
    assert fake.stats.requests == {("POST", "create_batch"): 1, ("GET", "get_batch"): 2}
    assert (fake.stats.total, fake.stats.in_flight, fake.stats.in_flight_peak) == (3, 0, 1)
    fake.stats.reset()
    assert (fake.stats.total, fake.stats.in_flight_peak) == (0, 0)


# -- lifecycle -----------------------------------------------------------------------


async def test_lifecycle_errors_say_what_to_do() -> None:
    """The URL and client() need a started fake; a stopped fake cannot restart."""
    fake = FakeProlific()
    with pytest.raises(RuntimeError, match="before start"):
        _ = fake.url
    with pytest.raises(RuntimeError, match="is unstarted: create clients while it runs"):
        fake.client()
    async with fake:
        running_inside = fake.is_running
        with pytest.raises(RuntimeError, match="running"):
            await fake.start()
    assert (running_inside, fake.is_running) == (True, False)
    await fake.stop()  # idempotent
    with pytest.raises(RuntimeError, match="stopped"):
        await fake.start()


async def test_stop_closes_the_clients_it_made_and_the_socket() -> None:
    """Clients from fake.client() are closed on stop, and the port stops accepting."""
    async with FakeProlific(token="fixed-token") as fake:
        client = fake.client()
        await client.batches.list(WORKSPACE)
        url = fake.url
    assert client.is_closed
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(url + BATCHES)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token": " "}, "token"),
        ({"latency": -1.0}, "latency"),
        ({"max_concurrency": 0}, "max_concurrency"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    """An empty token, negative latency or max_concurrency < 1 is a ValueError."""
    with pytest.raises(ValueError, match=message):
        FakeProlific(**kwargs)


def test_add_batch_stores_a_batch_and_rejects_unknown_ids() -> None:
    """add_batch stores under a given or drawn id; unknown datasets and taken ids are errors."""
    fake = FakeProlific()
    staged = fake.add_batch(batch_id="template-1", name="Template")
    assert fake.batches == {"template-1": staged}
    assert isinstance(staged, StoredBatch)
    with pytest.raises(ValueError, match="add_dataset"):
        fake.add_batch(dataset_ids=["nope"])
    with pytest.raises(ValueError, match="already"):
        fake.add_batch(batch_id="template-1")
    assert list(fake.batches) == ["template-1"]


def test_rate_limit_validates_its_fields() -> None:
    """RateLimit needs a positive rate and a burst of at least 1."""
    with pytest.raises(ValueError, match="rate"):
        RateLimit(rate=0)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(rate=1, burst=0)


# -- standalone ----------------------------------------------------------------------


async def test_python_m_runs_standalone_and_stops_on_ctrl_c() -> None:
    """`python -m prolific_async.testing` prints URL and token, serves, exits 0 on SIGINT."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prolific_async.testing",
        "--port",
        "0",
        "--token",
        "cli-token",
        "--seed",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines = [(await asyncio.wait_for(process.stdout.readline(), 20)).decode() for _ in range(3)]
    assert "(seed 5)" in lines[0]
    url = lines[1].strip().removeprefix("PROLIFIC_URL=")
    assert lines[2].strip() == "PROLIFIC_TOKEN=cli-token"
    async with ProlificClient(token="cli-token", base_url=url) as client:
        assert await client.batches.list(WORKSPACE) == []
    process.send_signal(2)  # SIGINT, as Ctrl-C sends
    stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().strip().endswith("Stopped.")
