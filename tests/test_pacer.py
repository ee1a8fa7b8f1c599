"""The send pacer's rules, on a fake clock: cuts, the ramp back, slow probing, bursts, deadlines."""

from __future__ import annotations

import asyncio
import logging

import pytest

from prolific_async import CreateBatchRequest, TaskDetails
from prolific_async._call import GateClosedError
from prolific_async._pacer import (
    _KEPT,
    CUT,
    DOUBLING,
    MAX_PLATEAU,
    PLATEAU,
    RAMP,
    TARGET,
    Pacer,
)
from prolific_async._rate_gate import RateGate
from prolific_async.testing import FakeProlific
from prolific_async.testing._traffic import RETRY_AFTER_GRACE, RetryAfterWatch


def send_at_rate(pacer: Pacer, rate: float, start: float, seconds: float) -> float:
    """Send (all accepted) at ``rate`` from ``start`` for ``seconds``; return the end."""
    now = start
    while now < start + seconds:
        pacer.took(now)
        pacer.answered(now, now, throttled=False)
        now += 1.0 / rate
    return now


def test_nothing_is_paced_before_a_429() -> None:
    """Without a 429 every send may go at once."""
    pacer = Pacer()
    send_at_rate(pacer, 1000.0, 0.0, 1.0)
    assert pacer.rate(1.0) is None
    assert pacer.ready_at(1.0) == 1.0


def test_a_quiet_client_learns_no_rate_from_a_429() -> None:
    """A 429 after a handful of sends holds (the gate's job) but sets no pace."""
    pacer = Pacer()
    for at in (0.0, 0.5, 1.0):
        pacer.took(at)
    pacer.answered(1.0, 1.01, throttled=True)
    assert pacer.rate(2.0) is None
    assert pacer.cuts == 0


def test_a_429_under_load_cuts_the_pace_by_less_than_half() -> None:
    """Sending 200/s into a 429: the pace drops to CUT of it, never to half."""
    pacer = Pacer()
    end = send_at_rate(pacer, 200.0, 0.0, 3.0)
    pacer.took(end)
    pacer.answered(end, end + 0.02, throttled=True)
    pacer.held(end + 1.0)
    rate = pacer.rate(end + 1.0)
    assert rate is not None
    assert 200.0 * 0.5 < rate == pytest.approx(200.0 * CUT, rel=0.02)


def test_answers_to_sends_of_the_same_round_cut_once() -> None:
    """Several 429s for sends that went before the cut count as one round."""
    pacer = Pacer()
    end = send_at_rate(pacer, 200.0, 0.0, 3.0)
    for offset in (0.0, 0.001, 0.002):
        pacer.took(end + offset)
    for offset in (0.0, 0.001, 0.002):
        pacer.answered(end + offset, end + 0.05, throttled=True)
    assert pacer.cuts == 1


def test_the_pace_ramps_back_then_probes_upwards_slowly() -> None:
    """After a cut: back to TARGET within RAMP, flat for PLATEAU, then +1 % after 3 s."""
    pacer = Pacer()
    end = send_at_rate(pacer, 200.0, 0.0, 3.0)
    pacer.answered(end, end, throttled=True)
    pacer.held(end + 1.0)
    start = end + 1.0
    assert pacer.rate(start + RAMP) == pytest.approx(200.0 * TARGET, rel=0.02)
    flat = pacer.rate(start + RAMP + PLATEAU)
    assert flat == pytest.approx(200.0 * TARGET, rel=0.02)
    probed = pacer.rate(start + RAMP + PLATEAU + 3.0)
    assert probed is not None
    assert probed / flat == pytest.approx(1.01, abs=0.002)


def test_a_limit_found_where_it_was_lengthens_the_plateau() -> None:
    """Two cuts at about the same rate double the time before probing again."""
    pacer = Pacer()
    now = 0.0
    for _ in range(6):
        now = send_at_rate(pacer, 200.0, now, 3.0)
        pacer.answered(now, now, throttled=True)
        pacer.held(now + 1.0)
        now += 1.0
        pacer.answered(now, now, throttled=False)
    start = now
    # a plateau of MAX_PLATEAU: still flat well after PLATEAU
    assert pacer.rate(start + RAMP + MAX_PLATEAU - 1.0) == pacer.rate(start + RAMP + 1.0)


def test_a_burst_429_starts_slowly_from_what_the_server_took() -> None:
    """64 sends at once, 10 taken: the pace starts at 10/s and doubles every DOUBLING s."""
    pacer = Pacer()
    for _ in range(64):
        pacer.took(0.0)
    for index in range(64):
        pacer.answered(0.0, 0.02, throttled=index >= 10)
    pacer.held(1.02)
    assert pacer.rate(1.02) == pytest.approx(10.0)
    assert pacer.rate(1.02 + 2 * DOUBLING) == pytest.approx(40.0)


def test_a_burst_429_teaches_the_burst_and_a_hold_ends_in_no_more_than_it() -> None:
    """32 sends at once, 5 taken: after the hold at most 5 go at once, then spaced."""
    pacer = Pacer()
    for _ in range(32):
        pacer.took(0.0)
    for index in range(32):  # the 429 for the sixth send counts all 32 sends
        pacer.answered(0.0, 0.02, throttled=index >= 5)
    pacer.held(1.02)
    assert pacer.burst == 5
    later = 1.02 + 2 * DOUBLING  # idle through the hold and after it
    at_once = 0
    while pacer.ready_at(later) <= later:
        pacer.took(later)
        at_once += 1
    assert 1 <= at_once <= 5
    rate = pacer.rate(later)
    assert rate is not None
    assert pacer.ready_at(later) == pytest.approx(later + 1.0 / rate)


def test_a_burst_of_two_taken_in_one_leaves_a_credit_of_one() -> None:
    """A server that took one send of a burst: sends after a hold go one at a time."""
    pacer = Pacer()
    pacer.took(0.0)
    pacer.took(0.0)
    pacer.answered(0.0, 0.01, throttled=False)
    pacer.answered(0.0, 0.01, throttled=True)
    pacer.held(1.01)
    assert pacer.burst == 1
    pacer.took(5.0)
    assert pacer.ready_at(5.0) > 5.0


def test_a_burst_429_after_a_hold_keeps_the_rate_learnt() -> None:
    """A rate learnt, then a burst 429 as a hold ends: the burst is learnt, the pace stays."""
    pacer = Pacer()
    end = send_at_rate(pacer, 200.0, 0.0, 3.0)
    pacer.answered(end, end, throttled=True)
    pacer.held(end + 1.0)
    after = end + 1.0 + RAMP
    rate = pacer.rate(after)
    for _ in range(12):
        pacer.took(after)
    for index in range(12):
        pacer.answered(after, after + 0.02, throttled=index >= 3)
    pacer.held(after + 1.02)
    assert pacer.burst == 3
    assert pacer.rate(after + 1.02 + RAMP) == pytest.approx(rate, rel=0.02)


def test_the_pace_spaces_sends_with_a_short_credit() -> None:
    """At a pace of r, a send may go 1/r after the one before, once the credit is spent."""
    pacer = Pacer()
    end = send_at_rate(pacer, 100.0, 0.0, 3.0)
    pacer.answered(end, end, throttled=True)
    pacer.held(end + 1.0)
    now = end + 1.0 + RAMP + 0.5
    rate = pacer.rate(now)
    assert rate is not None
    for _ in range(10):
        pacer.took(pacer.ready_at(now))
    gap = pacer.ready_at(now) - now
    assert gap > 0
    assert gap <= 10 / rate


async def test_a_send_waits_out_the_hold_before_its_turn(retry_waits: list[float]) -> None:
    """After a 429's hold nothing goes before the hold ends: the wait is the hold."""
    gate = RateGate()
    loop = asyncio.get_running_loop()
    gate.hold_back(loop, 1.0)
    await gate.wait_within(loop, loop.time() + 30.0)
    assert retry_waits == [pytest.approx(1.0, abs=0.05)]


async def test_a_pace_past_the_deadline_fails_at_once() -> None:
    """A send whose turn in the pace comes after its call's deadline is refused now."""
    gate = RateGate()
    loop = asyncio.get_running_loop()
    now = loop.time()
    send_at_rate(gate.pacer, 10.0, now - 3.0, 3.0)
    gate.pacer.answered(now, now, throttled=True)  # a pace of about 8.5/s
    gate.pacer.took(now)
    gate.pacer.took(now)
    with pytest.raises(GateClosedError, match="the client's pace"):
        await gate.wait_within(loop, loop.time() + 0.01)


async def test_a_hold_past_the_deadline_fails_at_once_naming_the_429() -> None:
    """A hold longer than the call has left: GateClosedError naming the 429."""
    gate = RateGate()
    loop = asyncio.get_running_loop()
    gate.hold_back(loop, 10.0)
    with pytest.raises(GateClosedError, match="held back by a 429"):
        await gate.wait_within(loop, loop.time() + 1.0)


def test_the_emulator_counts_requests_sent_inside_a_retry_after() -> None:
    """Arrivals after the grace and before the Retry-After ends count; others do not."""
    watch = RetryAfterWatch()
    watch.answered(10.0, 1.0)
    assert not watch.violates(10.0 + RETRY_AFTER_GRACE / 2)  # already on its way
    assert watch.violates(10.5)
    assert not watch.violates(11.0)
    watch.answered(10.6, 1.0)  # overlapping: the window grows
    assert watch.violates(11.5)


async def test_a_concurrency_above_max_connections_warns_at_once(
    prolific_fake: FakeProlific, caplog: pytest.LogCaptureFixture
) -> None:
    """create_many(concurrency=N) above max_connections logs a WARNING before any send."""
    details = TaskDetails(task_name="t", task_introduction="<p>i</p>", task_steps="<ol></ol>")
    request = CreateBatchRequest("b", "ws-pacer", details)
    async with prolific_fake.client(max_connections=4) as client:
        with caplog.at_level(logging.WARNING, logger="prolific_async"):
            results = client.batches.create_many([request], concurrency=16)
            assert "concurrency=16 is above the client's max_connections=4" in caplog.text
            assert [result.ok async for result in results] == [True]


@pytest.mark.parametrize("send", ["took", "take_now"])
def test_the_pacer_keeps_only_the_times_of_its_window(send: str) -> None:
    """However long a client runs unpaced, its pacer holds the times of about one window."""
    pacer = Pacer()
    rate, now = 100.0, 0.0
    while now < 10 * _KEPT:
        if send == "took":
            pacer.took(now)
        else:
            assert pacer.take_now(now)
        pacer.answered(now, now, throttled=False)
        now += 1.0 / rate
    assert pacer.kept() <= 2 * (_KEPT * rate + 2)
