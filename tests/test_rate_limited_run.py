"""A bulk run against real 429s: the emulator's token bucket is tight enough that they fire.

What is asserted is structural (no timing): every item made exactly once, none failed,
429s were met, and nothing was sent before a ``Retry-After`` it was given had passed.
The run waits for real (test mode would skip the holds this checks): the emulator's
``Retry-After`` is a whole second, so each case takes about 3-4 s. With a shallow bucket
(burst 5) only the opening burst meets 429s: the pacer learns the burst from it, so the
hold ends in no more sends at once than the server took, then sends spaced at the pace
(before it learnt the burst, every hold ended in a burst of 32 and the run took 35 s).
"""

from __future__ import annotations

from collections import Counter

import pytest

from prolific_async import CreateBatchRequest, TaskDetails
from prolific_async.testing import FakeProlific, RateLimit

WORKSPACE = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Paced", task_introduction="<p>i</p>", task_steps="<ol></ol>")


CONCURRENCY = 32


@pytest.mark.timeout(30)
@pytest.mark.parametrize("burst", [5, 20])
async def test_create_many_under_a_tight_bucket_meets_429s_and_keeps_every_guarantee(
    burst: int,
) -> None:
    """200 creates at concurrency 32 into 400/s: 429s fire, none is lost or doubled."""
    items = [CreateBatchRequest(f"paced-{i}", WORKSPACE, DETAILS) for i in range(200)]
    async with FakeProlific(seed=14) as fake, fake.client() as client:
        fake.rate_limit = RateLimit(rate=400.0, burst=burst)
        results = [
            result async for result in client.batches.create_many(items, concurrency=CONCURRENCY)
        ]
        stats = fake.stats
        made = Counter(batch.name for batch in fake.batches.values())
    assert [result.index for result in results if not result.ok] == []
    assert sorted(result.index for result in results) == list(range(200))
    assert all(made[item.name] == 1 for item in items)
    assert len(made) == 200
    assert stats.rate_limited > 0
    assert stats.retry_after_violations == 0
    # The opening burst's 429s (at most one per sender beyond the burst) and few more:
    # no hold ends in a burst the server does not take.
    assert stats.rate_limited < CONCURRENCY - burst + 0.05 * len(items)
