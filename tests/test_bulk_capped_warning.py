"""A bulk run's concurrency above the client's max_connections is said once per client."""

from __future__ import annotations

import logging

import pytest

from prolific_async.testing import FakeProlific

from .test_bulk import FAST, _no_retry_waits, collect, creates, fake

__all__ = ["_no_retry_waits", "fake"]  # the fixtures, shared with the bulk tests


def capped(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "prolific_async" and "above the client's max_connections" in record.msg
    ]


async def test_a_capped_concurrency_is_warned_once_per_client(
    fake: FakeProlific, caplog: pytest.LogCaptureFixture
) -> None:
    """Three runs over max_connections warn once per client; a run within it never does."""
    caplog.set_level(logging.WARNING, logger="prolific_async")
    async with fake.client(retry=FAST, max_connections=4) as client:
        for run in range(3):
            await collect(client.batches.create_many(creates(2, name=f"{run}-{{i}}")))
        await collect(client.batches.create_many(creates(1, name="small-{i}"), concurrency=4))
    assert capped(caplog) == [
        "concurrency=32 is above the client's max_connections=4: at most 4 requests of "
        "this run are in flight (raise max_connections to go higher)"
    ]
    async with fake.client(retry=FAST, max_connections=4) as other:
        await collect(other.batches.create_many(creates(1, name="other-{i}"), concurrency=8))
    assert len(capped(caplog)) == 2  # another client is told too
