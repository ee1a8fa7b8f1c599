"""Look-alike creates that differ only in their layout never get each other's batch."""

from __future__ import annotations

from prolific_async import CreateBatchRequest, ReconciliationError, TaskDetails
from prolific_async.models import Column, FreeTextItem, Page, Row
from prolific_async.testing import FakeProlific

from .conftest import BATCHES_PATH

WS = "ws-layouts"
DETAILS = TaskDetails(task_name="n", task_introduction="i", task_steps="s")


def layout(question: str) -> list[Page]:
    return [Page(rows=[Row(columns=[Column(items=[FreeTextItem(description=question)])])])]


async def test_creates_differing_only_in_layout_keep_their_own_batches(
    prolific_fake: FakeProlific, testing_mode: None
) -> None:
    """One create cut before it acts, its twin cut after: the twin's batch is never adopted."""
    a = CreateBatchRequest("same", WS, DETAILS, batch_items=layout("A?"))
    b = CreateBatchRequest("same", WS, DETAILS, batch_items=layout("B?"))
    prolific_fake.add_fault("POST", BATCHES_PATH, "drop_before", times=1)  # the first POST
    prolific_fake.add_fault("POST", BATCHES_PATH, "drop_after", times=1)  # the second
    async with prolific_fake.client() as client:
        results = [result async for result in client.batches.create_many([a, b], concurrency=2)]
    stored = {
        batch_id: stored.batch_items[0]["rows"][0]["columns"][0]["items"][0]["description"]
        for batch_id, stored in prolific_fake.batches.items()
        if stored.batch_items
    }
    for result in results:
        if result.batch is not None:  # whatever it holds has its own request's layout
            wanted = "A?" if result.request is a else "B?"
            assert stored[result.batch.id] == wanted
        else:  # asked for a human rather than guessed
            assert isinstance(result.error, ReconciliationError)
    assert sorted(stored.values()).count("B?") == 1  # never a second B
    assert sorted(stored.values()).count("A?") <= 1
