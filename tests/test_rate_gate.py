"""The 429 gate: held-back calls fail at once with the 429's reason; long holds stay short."""

from __future__ import annotations

import asyncio

import pytest

from prolific_async import RateLimitError, RetryPolicy
from prolific_async._rate_gate import LONG_RETRY_AFTER_HOLD, RateGate
from prolific_async._testing import set_testing
from prolific_async.testing import FakeProlific

WS = "ws-gate"
BATCHES = "/api/v1/data-collection/batches"


async def test_a_retry_after_above_the_cap_shuts_the_gate_only_briefly(
    prolific_fake: FakeProlific, retry_waits: list[float]
) -> None:
    """A 429 asking for an hour fails its call; the next call waits at most a second."""
    policy = RetryPolicy(attempts=3, timeout=30.0, retry_after_cap=60.0)
    prolific_fake.add_fault("GET", BATCHES, "status", status=429, headers={"Retry-After": "3600"})
    async with prolific_fake.client(retry=policy) as client:
        with pytest.raises(RateLimitError):
            await client.batches.list(WS)
        assert await client.batches.list(WS) == []  # not held for the hour
    assert retry_waits  # the second call waited at the gate...
    assert max(retry_waits) <= LONG_RETRY_AFTER_HOLD  # ...for the short hold only


async def test_a_call_the_gate_holds_past_its_deadline_fails_at_once_saying_why(
    prolific_fake: FakeProlific, retry_waits: list[float]
) -> None:
    """Held back longer than its own deadline: RateLimitError now, not a timeout later."""
    policy = RetryPolicy(attempts=3, timeout=5.0, retry_after_cap=60.0)
    prolific_fake.add_fault("GET", BATCHES, "status", status=429, headers={"Retry-After": "30"})
    async with prolific_fake.client(retry=policy) as client:
        with pytest.raises(RateLimitError):
            await client.batches.list(WS)  # its own 429: the wait passes its deadline
        sent = len(prolific_fake.requests)
        with pytest.raises(RateLimitError, match="held back by a 429 until") as caught:
            await client.batches.list(WS)
    assert "not sent" in str(caught.value)
    assert len(prolific_fake.requests) == sent  # nothing went out
    assert retry_waits == []  # and nothing slept


async def test_holding_says_whether_a_429_hold_is_on() -> None:
    """holding() is true while the gate is shut after a 429 and false once it reopens."""
    gate = RateGate()
    loop = asyncio.get_running_loop()
    with set_testing(False):  # in test mode nothing waits: holding() is then false
        assert not gate.holding()
        gate.hold_back(loop, 3600.0)
        assert gate.holding()
        gate_open = RateGate()
        gate_open.hold_back(loop, 0.0)
        assert not gate_open.holding()
    with set_testing(True):
        assert not gate.holding()
