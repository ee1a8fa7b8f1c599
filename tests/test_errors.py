"""The error tree, the status table, and how server error bodies become messages.

Statuses and bodies go through the real client on aioresponses (``mocked``): error
mapping is what it is for, and no retry runs (one attempt per call).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from prolific_async import ProlificClient, RetryPolicy, TaskDetails, errors
from prolific_async.models import LayoutIssue

from .conftest import BATCHES_PATH, MOCKED_BASE

BATCH_URL = f"{MOCKED_BASE}{BATCHES_PATH}/abc"
DETAILS = TaskDetails(task_name="t", task_introduction="i", task_steps="s")


@pytest.fixture
async def real_api_client() -> AsyncIterator[ProlificClient]:
    """A client with the default base URL (api.prolific.com), one attempt per call."""
    async with ProlificClient("t", retry=RetryPolicy(attempts=1)) as client:
        yield client


def mock_answer(mocked: Any, body: object, *, status: int = 400, method: str = "GET") -> None:
    """Answer the next request to BATCH_URL with ``status`` and ``body`` (JSON unless str)."""
    if isinstance(body, str):
        mocked.add(BATCH_URL, method, status=status, body=body, content_type="text/html")
    else:
        mocked.add(BATCH_URL, method, status=status, body=json.dumps(body))


async def status_error(client: ProlificClient) -> errors.APIStatusError:
    with pytest.raises(errors.APIStatusError) as caught:
        await client.batches.get("abc")
    return caught.value


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
        (502, errors.InternalServerError),
        (503, errors.InternalServerError),
        (599, errors.InternalServerError),
        (405, errors.APIStatusError),
        (418, errors.APIStatusError),
    ],
)
async def test_status_maps_to_its_class(
    mocked_client: ProlificClient, mocked: Any, status: int, cls: type[errors.APIStatusError]
) -> None:
    """Each documented status has its own subclass; others fall back to APIStatusError."""
    mock_answer(mocked, {"error": {"title": "Problem"}}, status=status)
    error = await status_error(mocked_client)
    assert type(error) is cls
    assert error.status_code == status


def test_hierarchy_matches_the_docstring_tree() -> None:
    """The branches of the tree, and the builtins some errors also are."""
    assert issubclass(errors.APITimeoutError, errors.APIConnectionError)
    assert issubclass(errors.APITimeoutError, TimeoutError)
    assert issubclass(errors.OutcomeUnknownError, errors.APIConnectionError)
    assert not issubclass(errors.OutcomeUnknownError, errors.APITimeoutError)
    assert issubclass(errors.ClientClosedError, RuntimeError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ProlificError)
    for cls in (errors.BadRequestError, errors.RateLimitError, errors.InternalServerError):
        assert issubclass(cls, errors.APIStatusError)


def test_docstring_tree_names_every_error_under_its_parent() -> None:
    """The ASCII tree in the module docstring lists every error, indented under its base."""
    doc = errors.__doc__ or ""
    depth: dict[str, int] = {}
    for line in doc.splitlines():
        match = re.match(r"^ {4}((?:[| ] {3})*)(?:\+-- )?([A-Za-z]+Error)\b", line)
        if match:
            depth[match.group(2)] = len(match.group(1)) // 4 + (1 if "+--" in line else 0)
    assert set(depth) == set(errors.__all__)
    for name, level in depth.items():
        cls = getattr(errors, name)
        parents = [base.__name__ for base in cls.__mro__[1:] if base.__name__ in depth]
        expected = 0 if not parents else depth[parents[0]] + 1
        assert level == expected, name


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda client: client.batches.get(".."), ValueError),
        (lambda client: client.batches.get(["b1"]), ValueError),
        (lambda client: client.batches.list(""), ValueError),
        (lambda client: client.batches.update("b1", auto_sync_enabled=1), TypeError),
    ],
)
async def test_an_invalid_argument_is_a_plain_builtin_error_and_nothing_is_sent(
    mocked_client: ProlificClient, mocked: Any, call: Any, error: type[Exception]
) -> None:
    """As the README says: a bad argument is a ValueError/TypeError, not a ProlificError."""
    with pytest.raises(error) as caught:
        await call(mocked_client)
    assert not isinstance(caught.value, errors.ProlificError)
    assert mocked.requests == {}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "error": {
                    "status": 400,
                    "error_code": 140100,
                    "title": "Bad Request",
                    "detail": {"name": ["This field is required."]},
                }
            },
            "Bad Request: name: This field is required.",
        ),
        ({"error": {"title": "Not Found", "detail": "No batch."}}, "Not Found: No batch."),
        ({"error": {"detail": ["a", "b"]}}, "a; b"),
        ({"message": "Flat message", "detail": "more"}, "Flat message: more"),
        ({"unexpected": 1}, '{"unexpected": 1}'),
        ("", "empty body"),
        (
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "HTML page: 502 Bad Gateway",
        ),
        ("<html><body><h1>Oops</h1></body></html>", "HTML page: Oops"),
        ("plain text failure", "plain text failure"),
    ],
)
async def test_error_body_is_described(
    mocked_client: ProlificClient, mocked: Any, body: object, expected: str
) -> None:
    """Nested, flat, HTML, plain and empty bodies each get a readable summary."""
    mock_answer(mocked, body)
    error = await status_error(mocked_client)
    assert str(error).endswith(f"400 Bad Request: {expected}")


async def test_long_detail_is_shortened(mocked_client: ProlificClient, mocked: Any) -> None:
    """A huge error body does not produce a huge message."""
    mock_answer(mocked, "x" * 10_000)
    error = await status_error(mocked_client)
    prefix = f"GET {BATCH_URL} failed with 400 Bad Request: "
    assert str(error).startswith(prefix)
    assert len(str(error)) <= len(prefix) + 500


async def test_status_error_carries_status_body_request_id_method_url(
    real_api_client: ProlificClient, mocked: Any
) -> None:
    """An APIStatusError keeps what a caller needs to act and to report the failure."""
    mocked.get(
        f"https://api.prolific.com{BATCHES_PATH}/abc",
        status=404,
        reason="Not Found",
        body=b'{"error": {"title": "Not Found", "detail": "No such batch"}}',
        headers={"X-Request-Id": "req-123"},
    )
    error = await status_error(real_api_client)
    assert isinstance(error, errors.NotFoundError)
    assert error.status_code == 404
    assert error.body == {"error": {"title": "Not Found", "detail": "No such batch"}}
    assert error.request_id == "req-123"
    assert error.method == "GET"
    assert error.url.endswith("/batches/abc")
    assert str(error) == (
        "GET https://api.prolific.com/api/v1/data-collection/batches/abc failed with "
        "404 Not Found: Not Found: No such batch (request id req-123)"
    )


@pytest.mark.parametrize(
    ("location", "said"),
    [
        ("https://other.example/batches", "the redirect to https://other.example was not"),
        ("http://[::1", "the redirect was not followed"),
        ("http://h:99999/", "the redirect was not followed"),
        ("//other.example/x", "the redirect was not followed"),
    ],
)
async def test_a_redirect_names_its_origin_or_nothing_when_it_is_no_url(
    mocked_client: ProlificClient, mocked: Any, location: str, said: str
) -> None:
    """A 3xx is an APIStatusError naming where it pointed; an unparsable Location is left out."""
    mocked.get(f"{MOCKED_BASE}{BATCHES_PATH}/abc", status=302, headers={"Location": location})
    with pytest.raises(errors.APIStatusError, match=re.escape(said)):
        await mocked_client.batches.get("abc")


async def test_non_json_error_body_is_kept_as_text(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A body that is not JSON stays available as text on the error."""
    mocked.post(f"{MOCKED_BASE}{BATCHES_PATH}", status=503, body="<h1>down</h1>")
    with pytest.raises(errors.InternalServerError) as caught:
        await mocked_client.batches.create(name="n", workspace_id="w", task_details=DETAILS)
    error = caught.value
    assert error.body == "<h1>down</h1>"
    assert error.request_id is None
    assert "503" in str(error)


# -- a refused layout's issues --------------------------------------------------------

#: The real payloads (other people's data: read from ../shared/real-payloads, never copied).
REAL_PAYLOADS = Path(__file__).resolve().parents[2] / "shared" / "real-payloads"
LAYOUT_ISSUE = {
    "page": 0,
    "row": 1,
    "column": 0,
    "item": 2,
    "type": "dataset_field",
    "field": "caption",
    "message": "no such field here",
}


async def test_a_layout_422_has_typed_issues(mocked_client: ProlificClient, mocked: Any) -> None:
    """The flat INVALID_BATCH_ITEMS body becomes one frozen LayoutIssue per problem."""
    second = {"page": 1, "row": 2, "column": 1, "item": 3, "type": "multiple_choice"}
    body = {"type": "INVALID_BATCH_ITEMS", "issues": [LAYOUT_ISSUE, {**second, "message": "m"}]}
    mock_answer(mocked, body, status=422)
    error = await status_error(mocked_client)
    assert isinstance(error, errors.UnprocessableEntityError)
    assert error.issues == (
        LayoutIssue(**LAYOUT_ISSUE),
        LayoutIssue(**second, field=None, message="m"),
    )
    assert error.issues[0].location == "batch_items[0].rows[1].columns[0].items[2]"
    assert 'items[2] (dataset_field "caption"): no such field here' in str(error)
    with pytest.raises(AttributeError):
        error.issues[0].page = 3  # type: ignore[misc]


async def test_a_layout_refused_with_400_has_its_issues_too(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Some endpoints answer INVALID_BATCH_ITEMS with 400: the issues are read all the same."""
    mock_answer(mocked, {"type": "INVALID_BATCH_ITEMS", "issues": [LAYOUT_ISSUE]}, status=400)
    error = await status_error(mocked_client)
    assert isinstance(error, errors.BadRequestError)
    assert error.issues == (LayoutIssue(**LAYOUT_ISSUE),)


async def test_issues_of_another_error_type_are_not_layout_issues(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A body whose type names another error has no layout issues."""
    mock_answer(mocked, {"type": "INVALID_FILTER", "issues": [LAYOUT_ISSUE]}, status=400)
    error = await status_error(mocked_client)
    assert error.issues == ()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "INVALID_BATCH_ITEMS", "issues": []}, ()),
        ({"error": {"title": "Unprocessable Entity", "detail": "no"}}, ()),
        ("<html>422</html>", ()),
        ({"error": {"type": "INVALID_BATCH_ITEMS", "issues": [LAYOUT_ISSUE]}}, (LAYOUT_ISSUE,)),
        (
            {"issues": [3, {"page": "1", "row": True, "message": None, "hint": "x"}]},
            ({"message": "", "hint": "x"},),
        ),
    ],
    ids=["no-issues", "nested-without-issues", "html", "nested-issues", "malformed"],
)
async def test_layout_issues_are_read_as_far_as_they_make_sense(
    mocked_client: ProlificClient, mocked: Any, body: Any, expected: tuple[dict[str, Any], ...]
) -> None:
    """No issues reads as (); wrongly typed values as None, unknown keys in extra."""
    mock_answer(mocked, body, status=422)
    error = await status_error(mocked_client)
    assert isinstance(error, errors.UnprocessableEntityError)
    parsed = []
    for entry in expected:
        known = {key: value for key, value in entry.items() if key != "hint"}
        extra = {"hint": entry["hint"]} if "hint" in entry else {}
        parsed.append(LayoutIssue(**known, extra=extra))
    assert error.issues == tuple(parsed)
    assert error.body == body


async def test_every_real_layout_422_body_parses_with_nothing_lost(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """The official CLI's INVALID_BATCH_ITEMS bodies read back as the same values."""
    source = REAL_PAYLOADS / "fixtures" / "cli_invalid_batch_items_errors.json"
    if not source.is_file():
        pytest.skip(f"the reference payloads are absent: {REAL_PAYLOADS} (../shared/real-payloads)")
    for body in json.loads(source.read_text()):
        mock_answer(mocked, body, status=422)
        error = await status_error(mocked_client)
        assert isinstance(error, errors.UnprocessableEntityError)
        read = [
            {k: v for k, v in attrs.asdict(issue).items() if v is not None and k != "extra"}
            for issue in error.issues
        ]
        assert read == body["issues"]
        assert all(issue.extra == {} for issue in error.issues)


@pytest.mark.parametrize(
    ("kind", "location"),
    [
        ("dataset_field", "batch_items[0].rows[1].columns[0].items[2]"),
        ("row", "batch_items[0].rows[1]"),
        ("page", "batch_items[0]"),
        ("batch_items", "batch_items"),
    ],
)
def test_an_issue_location_stops_at_the_level_its_type_names(kind: str, location: str) -> None:
    """Every index is sent (0 below the fault); the path stops where the type says."""
    issue = LayoutIssue(page=0, row=1, column=0, item=2, type=kind, message="m")
    assert issue.location == location
