"""Request shape and error mapping, checked with aioresponses (no middleware runs here)."""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from prolific_async import (
    NOT_GIVEN,
    Batch,
    ProlificClient,
    RetryPolicy,
    TaskDetails,
    __version__,
    errors,
)

BASE = "https://api.test.invalid"
BATCHES = f"{BASE}/api/v1/data-collection/batches"
TOKEN = "secret-token-value-123"
FIXTURES = Path(__file__).parent / "fixtures"
DETAILS = TaskDetails(task_name="Rate it", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


@pytest.fixture
async def client() -> AsyncIterator[ProlificClient]:
    async with ProlificClient(TOKEN, base_url=BASE, retry=RetryPolicy(attempts=1)) as c:
        yield c


@pytest.fixture
def mocked() -> Any:
    with aioresponses() as m:
        yield m


def sent(mocked: Any, method: str, url: str) -> Any:
    calls = mocked.requests[(method, URL(url))]
    assert len(calls) == 1
    return calls[0].kwargs


async def test_create_sends_documented_body_and_headers(
    client: ProlificClient, mocked: Any
) -> None:
    """Create POSTs name, workspace_id, task_details, dataset_id with auth and UA headers."""
    mocked.post(BATCHES, status=201, payload=fixture("duplicate_batch_201.json"))
    batch = await client.batches.create(
        name="B1", workspace_id="ws1", task_details=DETAILS, dataset_id="ds1"
    )
    assert isinstance(batch, Batch)
    kwargs = sent(mocked, "POST", BATCHES)
    assert kwargs["json"] == {
        "name": "B1",
        "workspace_id": "ws1",
        "task_details": {
            "task_name": "Rate it",
            "task_introduction": "<p>Hi</p>",
            "task_steps": "<ol></ol>",
        },
        "dataset_id": "ds1",
    }
    headers = kwargs["headers"]
    assert headers["Authorization"] == f"Token {TOKEN}"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == f"prolific_async/{__version__}"


async def test_create_omits_dataset_id_when_none(client: ProlificClient, mocked: Any) -> None:
    """Create leaves dataset_id out of the body when it is None."""
    mocked.post(BATCHES, status=201, payload=fixture("duplicate_batch_201.json"))
    await client.batches.create(name="B1", workspace_id="ws1", task_details=DETAILS)
    assert "dataset_id" not in sent(mocked, "POST", BATCHES)["json"]


async def test_get_uses_the_batch_path(client: ProlificClient, mocked: Any) -> None:
    """Get sends GET /batches/{id} and returns the parsed Batch."""
    mocked.get(f"{BATCHES}/abc", payload=fixture("get_batch_200.json"))
    batch = await client.batches.get("abc")
    assert batch.total_task_groups == 3
    assert sent(mocked, "GET", f"{BATCHES}/abc")["json"] is None


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({}, {}),
        ({"name": "New"}, {"name": "New"}),
        ({"dataset_id": "ds9"}, {"dataset_id": "ds9"}),
        (
            {"name": "N", "task_details": DETAILS},
            {
                "name": "N",
                "task_details": {
                    "task_name": "Rate it",
                    "task_introduction": "<p>Hi</p>",
                    "task_steps": "<ol></ol>",
                },
            },
        ),
        ({"name": NOT_GIVEN, "dataset_id": "d"}, {"dataset_id": "d"}),
    ],
)
async def test_update_sends_only_given_fields(
    client: ProlificClient, mocked: Any, kwargs: dict[str, Any], body: dict[str, Any]
) -> None:
    """Update PATCHes exactly the fields that were given."""
    mocked.patch(f"{BATCHES}/abc", payload=fixture("update_batch_200.json"))
    await client.batches.update("abc", **kwargs)
    assert sent(mocked, "PATCH", f"{BATCHES}/abc")["json"] == body


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({}, {"upload_new_dataset": False}),
        ({"name": "Copy 1"}, {"upload_new_dataset": False, "name": "Copy 1"}),
        ({"upload_new_dataset": True}, {"upload_new_dataset": True}),
    ],
)
async def test_duplicate_sends_name_only_when_given(
    client: ProlificClient, mocked: Any, kwargs: dict[str, Any], body: dict[str, Any]
) -> None:
    """Duplicate always sends upload_new_dataset and sends name only when given."""
    url = f"{BATCHES}/abc/duplicate"
    mocked.post(url, status=201, payload=fixture("duplicate_batch_201.json"))
    batch = await client.batches.duplicate("abc", **kwargs)
    assert batch.schema_version is None
    assert sent(mocked, "POST", url)["json"] == body


async def test_list_sends_workspace_and_reads_results(client: ProlificClient, mocked: Any) -> None:
    """List GETs /batches?workspace_id= and returns the results as Batches."""
    mocked.get(
        f"{BATCHES}?workspace_id=ws1",
        payload={"results": [fixture("get_batch_200.json")], "meta": {"count": 1}},
    )
    batches = await client.batches.list("ws1")
    assert [b.id for b in batches] == ["a3f47c2e-9d4b-4f1a-8b2e-3c9d7f5a1b2c"]


async def test_list_null_results_is_empty(client: ProlificClient, mocked: Any) -> None:
    """A null results list (an empty workspace) reads as an empty list."""
    mocked.get(f"{BATCHES}?workspace_id=ws1", payload={"results": None, "meta": None})
    assert await client.batches.list("ws1") == []


async def test_list_bad_item_names_its_path(client: ProlificClient, mocked: Any) -> None:
    """A bad batch inside a list is reported with its index in the path."""
    bad = fixture("get_batch_200.json")
    bad["name"] = None
    mocked.get(
        f"{BATCHES}?workspace_id=ws1", payload={"results": [fixture("get_batch_200.json"), bad]}
    )
    with pytest.raises(errors.ResponseValidationError, match=r"\$\.results\[1\]\.name"):
        await client.batches.list("ws1")


@pytest.mark.parametrize(
    ("batch_id", "quoted"),
    [
        ("a/b", "a%2Fb"),
        ("../admin", "..%2Fadmin"),
        ("x?y=1", "x%3Fy%3D1"),
        ("id#frag", "id%23frag"),
        ("sp ace", "sp%20ace"),
        ("%2e%2e", "%252e%252e"),
    ],
)
async def test_ids_are_quoted_into_one_segment(
    client: ProlificClient, mocked: Any, batch_id: str, quoted: str
) -> None:
    """An id with /, ?, # or % stays inside its own path segment."""
    mocked.get(URL(f"{BATCHES}/{quoted}", encoded=True), payload=fixture("get_batch_200.json"))
    await client.batches.get(batch_id)
    ((method, url),) = mocked.requests.keys()
    assert method == "GET"
    assert url.raw_path == f"/api/v1/data-collection/batches/{quoted}"


@pytest.mark.parametrize("batch_id", ["", ".", "..", None, 123])
async def test_bad_ids_are_refused_before_any_request(
    client: ProlificClient, mocked: Any, batch_id: Any
) -> None:
    """Empty, '.', '..' and non-string ids raise ValueError and send nothing."""
    for call in (
        client.batches.get(batch_id),
        client.batches.update(batch_id, name="x"),
        client.batches.duplicate(batch_id),
    ):
        with pytest.raises(ValueError, match="batch_id"):
            await call
    assert mocked.requests == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "", "workspace_id": "w", "task_details": DETAILS},
        {"name": "n", "workspace_id": "", "task_details": DETAILS},
        {"name": "n", "workspace_id": "w", "task_details": DETAILS, "dataset_id": ""},
    ],
)
async def test_create_refuses_empty_strings(
    client: ProlificClient, mocked: Any, kwargs: dict[str, Any]
) -> None:
    """Create refuses empty required strings before sending anything."""
    with pytest.raises(ValueError, match="must be a non-empty string"):
        await client.batches.create(**kwargs)
    assert mocked.requests == {}


async def test_create_refuses_a_dict_for_task_details(client: ProlificClient, mocked: Any) -> None:
    """task_details must be a TaskDetails; a dict is a TypeError, nothing is sent."""
    with pytest.raises(TypeError, match="TaskDetails"):
        await client.batches.create(
            name="n",
            workspace_id="w",
            task_details={"task_name": "x"},  # type: ignore[arg-type]
        )
    assert mocked.requests == {}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (422, errors.UnprocessableEntityError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
        (503, errors.InternalServerError),
    ],
)
async def test_error_statuses_raise_their_class(
    client: ProlificClient, mocked: Any, status: int, cls: type[errors.APIStatusError]
) -> None:
    """Each error status raises its APIStatusError subclass with the server's detail."""
    mocked.get(
        f"{BATCHES}/abc",
        status=status,
        payload={"error": {"status": status, "title": "Problem", "detail": "Exact detail"}},
        headers={"X-Request-Id": "rid-9"},
    )
    with pytest.raises(cls) as caught:
        await client.batches.get("abc")
    assert caught.value.status_code == status
    assert caught.value.request_id == "rid-9"
    assert caught.value.method == "GET"
    assert "Exact detail" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)


async def test_html_error_page_is_summarised(client: ProlificClient, mocked: Any) -> None:
    """An HTML 502 from a proxy becomes an InternalServerError naming the page title."""
    mocked.get(
        f"{BATCHES}/abc",
        status=502,
        body="<html><head><title>502 Bad Gateway</title></head></html>",
        content_type="text/html",
    )
    with pytest.raises(errors.InternalServerError, match="HTML page: 502 Bad Gateway"):
        await client.batches.get("abc")


async def test_non_json_success_body_is_a_validation_error(
    client: ProlificClient, mocked: Any
) -> None:
    """A 200 whose body is not JSON raises ResponseValidationError with the status."""
    mocked.get(f"{BATCHES}/abc", status=200, body="<html>maintenance</html>")
    with pytest.raises(errors.ResponseValidationError, match=r"200.*not JSON") as caught:
        await client.batches.get("abc")
    assert caught.value.status_code == 200


async def test_wrong_shape_success_body_names_the_field(
    client: ProlificClient, mocked: Any
) -> None:
    """A 201 with a missing field raises ResponseValidationError naming the field path."""
    body = fixture("duplicate_batch_201.json")
    del body["workspace_id"]
    mocked.post(BATCHES, status=201, payload=body)
    with pytest.raises(errors.ResponseValidationError, match=r"\$\.workspace_id") as caught:
        await client.batches.create(name="n", workspace_id="w", task_details=DETAILS)
    assert caught.value.status_code == 201


async def test_deprecated_endpoint_warns_once(client: ProlificClient, mocked: Any) -> None:
    """A Deprecation header warns once per endpoint, naming the sunset date."""
    headers = {"Deprecation": "true", "Sunset": "Tue, 01 Sep 2026 23:59:59 GMT"}
    for batch_id in ("a", "b"):
        mocked.get(f"{BATCHES}/{batch_id}", payload=fixture("get_batch_200.json"), headers=headers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await client.batches.get("a")
        await client.batches.get("b")
    assert len(caught) == 1
    assert issubclass(caught[0].category, DeprecationWarning)
    assert "01 Sep 2026" in str(caught[0].message)
    assert "/batches/{batch_id}" in str(caught[0].message)
