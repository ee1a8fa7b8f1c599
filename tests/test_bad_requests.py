"""Arguments that cannot be sent are refused with a typed error naming them, before any request."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from prolific_async import CreateBatchRequest, DuplicateBatchRequest, TaskDetails
from prolific_async.models import Column, Page, RichTextItem, Row
from prolific_async.testing import FakeProlific

WS = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")


def layout(text: str) -> list[Page]:
    return [Page(rows=[Row(columns=[Column(items=[RichTextItem(content=text)])])])]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: CreateBatchRequest("n", WS, DETAILS, key="k\udc00"), "key"),
        (lambda: CreateBatchRequest("bad \ud800", WS, DETAILS), "name"),
        (lambda: CreateBatchRequest("n", "w\udfff", DETAILS), "workspace_id"),
        (lambda: CreateBatchRequest("n", WS, DETAILS, "d\ud800"), "dataset_id"),
        (lambda: CreateBatchRequest("n", WS, DETAILS, batch_items=layout("\ud800")), "content"),
        (lambda: DuplicateBatchRequest("b1", name="\ud800"), "name"),
        (lambda: DuplicateBatchRequest("b1", key="\udc00"), "key"),
        (
            lambda: TaskDetails(task_name="\ud800", task_introduction="i", task_steps="s"),
            "task_name",
        ),
        (lambda: TaskDetails(task_name="t", task_introduction="i", task_steps="s \udfff"), "steps"),
    ],
    ids=[
        "create-key",
        "create-name",
        "create-workspace",
        "create-dataset",
        "create-layout",
        "duplicate-name",
        "duplicate-key",
        "task-name",
        "task-steps",
    ],
)
def test_a_request_with_a_lone_surrogate_is_refused_when_built(build: object, field: str) -> None:
    """A bulk request or task details holding a lone surrogate raise ValueError naming it."""
    with pytest.raises(ValueError, match=f"{field}.* must be valid text"):
        build()  # type: ignore[operator]


def test_a_bulk_run_is_never_started_with_an_unusable_key() -> None:
    """The bad item is refused while the requests are built, before the run sends anything."""
    good = [CreateBatchRequest(f"b{i}", WS, DETAILS, key=f"k{i}") for i in range(2)]
    with pytest.raises(ValueError, match="key must be valid text"):
        good.append(CreateBatchRequest("b2", WS, DETAILS, key="k\udc00"))
    assert len(good) == 2


async def test_an_update_with_a_lone_surrogate_in_its_layout_is_refused_unsent(
    prolific_fake: FakeProlific,
) -> None:
    """``batches.update(batch_items=...)`` names the layout's field, and sends nothing."""
    async with prolific_fake.client() as client:
        with pytest.raises(ValueError, match=r"batch_items\[0\]\.rows\[0\].*content"):
            await client.batches.update("b1", batch_items=layout("x \ud800"))
    assert not prolific_fake.requests


@pytest.mark.parametrize(
    "when",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2))),
    ],
    ids=["before-year-1", "after-year-9999"],
)
@pytest.mark.parametrize("argument", ["from_", "to"])
async def test_an_export_filter_with_no_utc_form_is_refused_unsent(
    prolific_fake: FakeProlific, when: datetime, argument: str
) -> None:
    """A datetime that overflows in UTC is a ValueError naming the filter, not OverflowError."""
    async with prolific_fake.client() as client:
        with pytest.raises(ValueError, match=f"{argument} must be a date within years 1 to 9999"):
            await client.batches.request_export("b1", **{argument: when})
    assert not prolific_fake.requests


@pytest.mark.parametrize("argument", ["reconcile_delay", "reconcile_margin"])
@pytest.mark.parametrize("seconds", [1e12, float("inf"), float("nan"), -1.0])
async def test_a_reconcile_setting_out_of_range_is_refused_before_any_request(
    prolific_fake: FakeProlific, argument: str, seconds: float
) -> None:
    """A reconcile delay or margin that no datetime holds is a ValueError up front."""
    requests = [CreateBatchRequest("n", WS, DETAILS)]
    async with prolific_fake.client() as client:
        with pytest.raises(ValueError, match=f"{argument} must be from 0 to"):
            async for _ in client.batches.create_many(requests, **{argument: seconds}):
                pass
    assert not prolific_fake.requests
