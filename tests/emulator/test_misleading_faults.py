"""The faults that answer a misleading 2xx: repeated and partial listings, another's id."""

from __future__ import annotations

import aiohttp
import pytest

from prolific_async.testing import FakeProlific, FaultKind

from .conftest import BATCHES, WORKSPACE
from .test_faults import RAW_CREATE


async def _list(http: aiohttp.ClientSession) -> dict[str, object]:
    async with http.get(BATCHES, params={"workspace_id": WORKSPACE}) as answer:
        assert answer.status == 200
        body: dict[str, object] = await answer.json()
        return body


async def test_repeat_listing_repeats_the_newest_entry(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A repeat_listing fault lists the last batch twice, and counts both."""
    first = prolific_fake.add_batch(name="a", workspace_id=WORKSPACE)
    last = prolific_fake.add_batch(name="b", workspace_id=WORKSPACE)
    fault = prolific_fake.add_fault("GET", BATCHES, FaultKind.REPEAT_LISTING)
    body = await _list(fake_http)
    results = body["results"]
    assert isinstance(results, list)
    assert [entry["id"] for entry in results] == [first.id, last.id, last.id]
    assert body["meta"] == {"count": 3}
    assert fault.fired == 1
    again = (await _list(fake_http))["results"]
    assert isinstance(again, list)
    assert len(again) == 2


@pytest.mark.parametrize("stored", [0, 2])
async def test_incomplete_listing_says_it_is_partial(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession, stored: int
) -> None:
    """An incomplete_listing fault leaves the last batch out, counts it and links a next page."""
    made = [prolific_fake.add_batch(name=f"b{i}", workspace_id=WORKSPACE) for i in range(stored)]
    prolific_fake.add_fault("GET", BATCHES, "incomplete_listing")
    body = await _list(fake_http)
    results = body["results"]
    assert isinstance(results, list)
    assert [entry["id"] for entry in results] == [batch.id for batch in made[:-1]]
    assert body["meta"] == {"count": len(results) + 1}
    assert isinstance(body["next"], str)
    assert "page=2" in body["next"]


async def test_claimed_id_answers_with_the_previous_creates_id(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A claimed_id fault makes the batch but answers 201 with the previous create's id."""
    async with fake_http.post(BATCHES, json=RAW_CREATE) as answer:
        previous = (await answer.json())["id"]
    prolific_fake.add_fault("POST", BATCHES, "claimed_id")
    async with fake_http.post(BATCHES, json=RAW_CREATE) as answer:
        assert answer.status == 201
        assert (await answer.json())["id"] == previous
    assert len(prolific_fake.batches) == 2  # applied: the real batch is orphaned


def test_the_misleading_faults_take_no_canned_answer(prolific_fake: FakeProlific) -> None:
    """repeat_listing, incomplete_listing and claimed_id refuse status, headers and body."""
    for kind in ("repeat_listing", "incomplete_listing", "claimed_id"):
        with pytest.raises(ValueError, match="no canned answer"):
            prolific_fake.add_fault("*", BATCHES, kind, status=200)
