"""client.batches (create, get, update, duplicate, list): request shape and error mapping.

Checked with aioresponses (``mocked``): no retry middleware runs here, so every client
makes one attempt; retries and timeouts are tested on real sockets in test_retry.py and
test_client_socket.py.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from yarl import URL

from prolific_async import NOT_GIVEN, Batch, ProlificClient, TaskDetails, __version__, errors
from prolific_async._converter import converter
from prolific_async.models import LayoutIssue, Page

from ..conftest import BATCHES_PATH, MOCKED_BASE, TOKEN, fixture_json, mocked_call

BATCHES = f"{MOCKED_BASE}{BATCHES_PATH}"
DETAILS = TaskDetails(task_name="Rate it", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")
#: A layout using every item type (see tests/models/test_layout.py).
LAYOUT: list[dict[str, Any]] = fixture_json("layout_every_item_type.json")


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = fixture_json(name)
    return data


def sent(mocked: Any, method: str, url: str) -> Any:
    return mocked_call(mocked, method, url)


def parse_layout(data: Any) -> list[Page]:
    pages: list[Page] = converter.structure(data, list[Page])
    return pages


def batch_body(**changes: Any) -> dict[str, Any]:
    data = fixture("get_batch_200.json")
    data.update(changes)
    return data


def sent_json(mocked: Any, method: str, url: str) -> Any:
    return mocked_call(mocked, method, url)["json"]


async def test_create_sends_documented_body_and_headers(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Create POSTs name, workspace_id, task_details, dataset_id with auth and UA headers."""
    mocked.post(BATCHES, status=201, payload=fixture("duplicate_batch_201.json"))
    batch = await mocked_client.batches.create(
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


async def test_create_omits_dataset_id_when_none(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Create leaves dataset_id out of the body when it is None."""
    mocked.post(BATCHES, status=201, payload=fixture("duplicate_batch_201.json"))
    await mocked_client.batches.create(name="B1", workspace_id="ws1", task_details=DETAILS)
    assert "dataset_id" not in sent(mocked, "POST", BATCHES)["json"]


async def test_get_uses_the_batch_path(mocked_client: ProlificClient, mocked: Any) -> None:
    """Get sends GET /batches/{id} and returns the parsed Batch."""
    mocked.get(f"{BATCHES}/abc", payload=fixture("get_batch_200.json"))
    batch = await mocked_client.batches.get("abc")
    assert batch.total_task_groups == 3
    assert sent(mocked, "GET", f"{BATCHES}/abc").get("json") is None


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
    mocked_client: ProlificClient, mocked: Any, kwargs: dict[str, Any], body: dict[str, Any]
) -> None:
    """Update PATCHes exactly the fields that were given."""
    mocked.patch(f"{BATCHES}/abc", payload=fixture("update_batch_200.json"))
    await mocked_client.batches.update("abc", **kwargs)
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
    mocked_client: ProlificClient, mocked: Any, kwargs: dict[str, Any], body: dict[str, Any]
) -> None:
    """Duplicate always sends upload_new_dataset and sends name only when given."""
    url = f"{BATCHES}/abc/duplicate"
    mocked.post(url, status=201, payload=fixture("duplicate_batch_201.json"))
    batch = await mocked_client.batches.duplicate("abc", **kwargs)
    assert batch.schema_version is None
    assert sent(mocked, "POST", url)["json"] == body


async def test_list_sends_workspace_and_reads_results(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """List GETs /batches?workspace_id= and returns the results as Batches."""
    mocked.get(
        f"{BATCHES}?workspace_id=ws1",
        payload={"results": [fixture("get_batch_200.json")], "meta": {"count": 1}},
    )
    batches = await mocked_client.batches.list("ws1")
    assert [b.id for b in batches] == ["a3f47c2e-9d4b-4f1a-8b2e-3c9d7f5a1b2c"]


@pytest.mark.parametrize(
    "payload",
    [
        {"results": None, "meta": None},
        {"meta": {"count": 0}},
        {"data": []},
        {"responses": []},
        [],
        {},
    ],
    ids=["null", "missing", "data-envelope", "old-responses-envelope", "bare-array", "empty"],
)
async def test_a_listing_without_a_results_array_is_an_error(
    mocked_client: ProlificClient, mocked: Any, payload: Any
) -> None:
    """An answer without a results array is never read as an empty workspace."""
    mocked.get(f"{BATCHES}?workspace_id=ws1", payload=payload)
    with pytest.raises(errors.ResponseValidationError, match=r"results|JSON object"):
        await mocked_client.batches.list("ws1")


async def test_an_empty_results_array_is_an_empty_workspace(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """``{"results": []}`` is the one way to say the workspace has no batches."""
    mocked.get(f"{BATCHES}?workspace_id=ws1", payload={"results": [], "meta": None})
    assert await mocked_client.batches.list("ws1") == []


async def test_list_bad_item_names_its_path(mocked_client: ProlificClient, mocked: Any) -> None:
    """A bad batch inside a list is reported with its index in the path."""
    bad = fixture("get_batch_200.json")
    bad["name"] = None
    mocked.get(
        f"{BATCHES}?workspace_id=ws1", payload={"results": [fixture("get_batch_200.json"), bad]}
    )
    with pytest.raises(errors.ResponseValidationError, match=r"\$\.results\[1\]\.name"):
        await mocked_client.batches.list("ws1")


async def test_large_listing_is_read_whole(mocked_client: ProlificClient, mocked: Any) -> None:
    """A listing body over 64 KiB (hundreds of batches) is read and parsed whole."""
    listed = [fixture("get_batch_200.json") | {"id": f"batch-{i:04d}"} for i in range(600)]
    mocked.get(f"{BATCHES}?workspace_id=ws1", payload={"results": listed})
    batches = await mocked_client.batches.list("ws1")
    assert [batch.id for batch in batches] == [item["id"] for item in listed]


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
    mocked_client: ProlificClient, mocked: Any, batch_id: str, quoted: str
) -> None:
    """An id with /, ?, # or % stays inside its own path segment."""
    mocked.get(URL(f"{BATCHES}/{quoted}", encoded=True), payload=fixture("get_batch_200.json"))
    await mocked_client.batches.get(batch_id)
    ((method, url),) = mocked.requests.keys()
    assert method == "GET"
    assert url.raw_path == f"/api/v1/data-collection/batches/{quoted}"


@pytest.mark.parametrize("batch_id", ["", ".", "..", None, 123])
async def test_bad_ids_are_refused_before_any_request(
    mocked_client: ProlificClient, mocked: Any, batch_id: Any
) -> None:
    """Empty, '.', '..' and non-string ids raise ValueError and send nothing."""
    for call in (
        mocked_client.batches.get(batch_id),
        mocked_client.batches.update(batch_id, name="x"),
        mocked_client.batches.duplicate(batch_id),
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
    mocked_client: ProlificClient, mocked: Any, kwargs: dict[str, Any]
) -> None:
    """Create refuses empty required strings before sending anything."""
    with pytest.raises(ValueError, match="must be a non-empty string"):
        await mocked_client.batches.create(**kwargs)
    assert mocked.requests == {}


async def test_create_refuses_a_dict_for_task_details(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """task_details must be a TaskDetails; a dict is a TypeError, nothing is sent."""
    with pytest.raises(TypeError, match="TaskDetails"):
        await mocked_client.batches.create(
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
    mocked_client: ProlificClient, mocked: Any, status: int, cls: type[errors.APIStatusError]
) -> None:
    """Each error status raises its APIStatusError subclass with the server's detail."""
    mocked.get(
        f"{BATCHES}/abc",
        status=status,
        payload={"error": {"status": status, "title": "Problem", "detail": "Exact detail"}},
        headers={"X-Request-Id": "rid-9"},
    )
    with pytest.raises(cls) as caught:
        await mocked_client.batches.get("abc")
    assert caught.value.status_code == status
    assert caught.value.request_id == "rid-9"
    assert caught.value.method == "GET"
    assert "Exact detail" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)


async def test_html_error_page_is_summarised(mocked_client: ProlificClient, mocked: Any) -> None:
    """An HTML 502 from a proxy becomes an InternalServerError naming the page title."""
    mocked.get(
        f"{BATCHES}/abc",
        status=502,
        body="<html><head><title>502 Bad Gateway</title></head></html>",
        content_type="text/html",
    )
    with pytest.raises(errors.InternalServerError, match="HTML page: 502 Bad Gateway"):
        await mocked_client.batches.get("abc")


async def test_non_json_success_body_is_a_validation_error(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A 200 whose body is not JSON raises ResponseValidationError with the status."""
    mocked.get(f"{BATCHES}/abc", status=200, body="<html>maintenance</html>")
    with pytest.raises(errors.ResponseValidationError, match=r"200.*not JSON") as caught:
        await mocked_client.batches.get("abc")
    assert caught.value.status_code == 200


async def test_wrong_shape_success_body_names_the_field(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A 201 with a missing field raises ResponseValidationError naming the field path."""
    body = fixture("duplicate_batch_201.json")
    del body["workspace_id"]
    mocked.post(BATCHES, status=201, payload=body)
    with pytest.raises(errors.ResponseValidationError, match=r"\$\.workspace_id") as caught:
        await mocked_client.batches.create(name="n", workspace_id="w", task_details=DETAILS)
    assert caught.value.status_code == 201


async def test_deprecated_endpoint_warns_once(mocked_client: ProlificClient, mocked: Any) -> None:
    """A Deprecation header warns once per endpoint, naming the sunset date."""
    headers = {"Deprecation": "true", "Sunset": "Tue, 01 Sep 2026 23:59:59 GMT"}
    for batch_id in ("a", "b"):
        mocked.get(f"{BATCHES}/{batch_id}", payload=fixture("get_batch_200.json"), headers=headers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await mocked_client.batches.get("a")
        await mocked_client.batches.get("b")
    assert len(caught) == 1
    assert issubclass(caught[0].category, DeprecationWarning)
    assert "01 Sep 2026" in str(caught[0].message)
    assert "/batches/{batch_id}" in str(caught[0].message)


# -- the layout (batch_items) in create and update bodies ---------------------------


async def test_create_sends_layout_and_auto_sync(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Create sends batch_items as the wire JSON and auto_sync_enabled when given."""
    mocked.post(BATCHES, status=201, payload=batch_body(batch_items=LAYOUT))
    batch = await mocked_client.batches.create(
        name="B",
        workspace_id="w",
        task_details=DETAILS,
        batch_items=parse_layout(LAYOUT),
        auto_sync_enabled=False,
    )
    body = sent_json(mocked, "POST", BATCHES)
    assert body["batch_items"] == LAYOUT
    assert body["auto_sync_enabled"] is False
    assert batch.batch_items == parse_layout(LAYOUT)


async def test_create_leaves_out_layout_and_auto_sync_when_none(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Create sends neither batch_items nor auto_sync_enabled when they are None."""
    mocked.post(BATCHES, status=201, payload=batch_body())
    await mocked_client.batches.create(name="B", workspace_id="w", task_details=DETAILS)
    body = sent_json(mocked, "POST", BATCHES)
    assert "batch_items" not in body
    assert "auto_sync_enabled" not in body


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {}),
        ({"batch_items": NOT_GIVEN, "name": "n"}, {"name": "n"}),
        ({"batch_items": None}, {"batch_items": None}),
        ({"batch_items": "layout"}, {"batch_items": LAYOUT}),
        ({"auto_sync_enabled": True}, {"auto_sync_enabled": True}),
        ({"auto_sync_enabled": False}, {"auto_sync_enabled": False}),
    ],
)
async def test_update_sends_layout_only_when_given(
    mocked_client: ProlificClient, mocked: Any, kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Update leaves the layout alone by default, clears it with None, replaces it with pages."""
    if kwargs.get("batch_items") == "layout":
        kwargs["batch_items"] = parse_layout(LAYOUT)
    mocked.patch(f"{BATCHES}/b1", payload=batch_body())
    await mocked_client.batches.update("b1", **kwargs)
    assert sent_json(mocked, "PATCH", f"{BATCHES}/b1") == expected


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"batch_items": LAYOUT}, TypeError),
        ({"batch_items": []}, ValueError),
        ({"batch_items": Page(rows=[])}, TypeError),
        ({"auto_sync_enabled": 1}, TypeError),
        ({"auto_sync_enabled": "yes"}, TypeError),
    ],
)
async def test_bad_layout_arguments_are_refused_before_sending(
    mocked_client: ProlificClient, mocked: Any, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    """Raw dicts, an empty layout or a non-bool auto_sync are refused; nothing is sent."""
    with pytest.raises(error):
        await mocked_client.batches.create(
            name="B", workspace_id="w", task_details=DETAILS, **kwargs
        )
    with pytest.raises(error):
        await mocked_client.batches.update("b1", **kwargs)
    assert mocked.requests == {}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "error": {
                    "status": 422,
                    "error_code": 140200,
                    "title": "Unprocessable Entity",
                    "detail": [
                        {
                            "loc": [
                                "body",
                                "batch_items",
                                1,
                                "rows",
                                1,
                                "columns",
                                0,
                                "items",
                                0,
                                "answer_limit",
                            ],
                            "msg": "answer_limit (3) exceeds the number of options (2)",
                            "type": "value_error",
                        },
                        {
                            "loc": ["batch_items", 0],
                            "msg": "intro pages may only hold rich_text and image items",
                        },
                    ],
                }
            },
            [
                "batch_items[1].rows[1].columns[0].items[0].answer_limit: answer_limit (3) "
                "exceeds the number of options (2)",
                "batch_items[0]: intro pages may only hold rich_text and image items",
            ],
        ),
        (
            {"detail": [{"loc": ["body", "batch_items", 2, "rows"], "msg": "at least 1 row"}]},
            ["batch_items[2].rows: at least 1 row"],
        ),
        (
            {
                "type": "INVALID_BATCH_ITEMS",
                "issues": [
                    {
                        "page": 0,
                        "row": 1,
                        "column": 0,
                        "item": 2,
                        "type": "dataset_field",
                        "field": "field",
                        "message": "no schema field 'option_c'",
                    }
                ],
            },
            [
                "INVALID_BATCH_ITEMS",
                'batch_items[0].rows[1].columns[0].items[2] (dataset_field "field"): '
                "no schema field 'option_c'",
            ],
        ),
    ],
)
async def test_layout_422_names_every_location(
    mocked_client: ProlificClient, mocked: Any, body: dict[str, Any], expected: list[str]
) -> None:
    """A 422 layout validation error raises with each problem's location in the message."""
    mocked.post(BATCHES, status=422, payload=body)
    with pytest.raises(errors.UnprocessableEntityError) as caught:
        await mocked_client.batches.create(
            name="B", workspace_id="w", task_details=DETAILS, batch_items=parse_layout(LAYOUT)
        )
    for fragment in expected:
        assert fragment in str(caught.value)
    assert caught.value.body == body
    # Only the flat INVALID_BATCH_ITEMS body has typed issues; FastAPI's detail stays text.
    assert [issue.field for issue in caught.value.issues] == (["field"] if "issues" in body else [])


async def test_update_with_a_bad_layout_raises_with_typed_issues(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """An update refused for its layout carries the same typed issues as a create."""
    issue = {"page": 0, "row": 0, "column": 0, "item": 0, "type": "free_text", "message": "m"}
    body = {"type": "INVALID_BATCH_ITEMS", "issues": [issue]}
    mocked.patch(f"{BATCHES}/b1", status=422, payload=body)
    with pytest.raises(errors.UnprocessableEntityError) as caught:
        await mocked_client.batches.update("b1", batch_items=parse_layout(LAYOUT))
    assert caught.value.issues == (LayoutIssue(**issue),)
