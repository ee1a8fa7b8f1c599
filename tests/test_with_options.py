"""client.with_options(...): other options on the parent's session, pool and 429 gate."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from prolific_async import ProlificClient, RetryPolicy, errors
from prolific_async.testing import FAST_RETRY_POLICY, FakeProlific

from .conftest import BATCHES_PATH, TOKEN, ScriptedAPI


def counting_trace() -> tuple[aiohttp.TraceConfig, dict[str, int]]:
    counts = {"created": 0, "reused": 0}

    async def created(*_: Any) -> None:
        counts["created"] += 1

    async def reused(*_: Any) -> None:
        counts["reused"] += 1

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(created)
    trace.on_connection_reuseconn.append(reused)
    return trace, counts


async def test_derived_client_shares_the_connection_pool(prolific_fake: FakeProlific) -> None:
    """Calls of the parent and of a derived client go over one pooled connection."""
    staged = prolific_fake.add_batch()
    trace, counts = counting_trace()
    async with prolific_fake.client(trace_configs=[trace]) as client:
        await client.batches.get(staged.id)
        derived = client.with_options(timeout=5.0, headers={"X-Team": "lab"})
        await derived.batches.get(staged.id)
        await derived.with_options(retry=FAST_RETRY_POLICY).batches.get(staged.id)
        assert derived.rate_gate is client.rate_gate
    assert counts == {"created": 1, "reused": 2}


async def test_a_derived_retry_policy_applies(prolific_fake: FakeProlific) -> None:
    """attempts=1 on the derived client: one 503 fails it; the parent still retries it."""
    staged = prolific_fake.add_batch()
    path = f"{BATCHES_PATH}/{staged.id}"
    async with prolific_fake.client(retry=FAST_RETRY_POLICY) as client:
        once = client.with_options(retry=RetryPolicy(attempts=1))
        assert once.retry_policy.attempts == 1
        fault = prolific_fake.add_fault("GET", path, "status")
        with pytest.raises(errors.InternalServerError):
            await once.batches.get(staged.id)
        assert fault.fired == 1
        prolific_fake.add_fault("GET", path, "status")
        assert (await client.batches.get(staged.id)).id == staged.id


async def test_derived_timeout_is_its_own(prolific_fake: FakeProlific) -> None:
    """timeout= changes the derived client's per-attempt timeout, not the parent's."""
    async with prolific_fake.client(timeout=30.0) as client:
        assert client.with_options(timeout=2.5).attempt_timeout == 2.5
        assert client.attempt_timeout == 30.0
        with pytest.raises(ValueError, match="timeout"):
            client.with_options(timeout=-1)


async def test_derived_headers_merge_with_default_headers(scripted_api: ScriptedAPI) -> None:
    """headers= adds to default_headers and replaces a same-named one (any case); ours stay."""
    async with ProlificClient(
        TOKEN, base_url=scripted_api.url, default_headers={"X-Team": "a", "X-Keep": "k"}
    ) as client:
        derived = client.with_options(headers={"x-team": "b", "X-Run": "7", "Accept": "no"})
        await derived.batches.get("b1")
        await client.batches.get("b1")
    derived_seen, parent_seen = map(CIMultiDict, scripted_api.headers_seen)
    assert derived_seen["X-Team"] == "b"
    assert derived_seen["X-Run"] == "7"
    assert derived_seen["X-Keep"] == "k"
    assert derived_seen["Accept"] == "application/json"
    assert derived_seen["Authorization"] == f"Token {TOKEN}"
    assert parent_seen["X-Team"] == "a"
    assert "X-Run" not in parent_seen


def test_derived_headers_cannot_set_the_token() -> None:
    """Authorization in with_options(headers=) is refused, as in default_headers."""
    client = ProlificClient(TOKEN)
    with pytest.raises(ValueError, match="headers cannot set Authorization"):
        client.with_options(headers={"authorization": "Token other"})


async def test_closing_a_derived_client_is_a_no_op(prolific_fake: FakeProlific) -> None:
    """aclose() and async with on a derived client leave the parent (and it) working."""
    staged = prolific_fake.add_batch()
    async with prolific_fake.client() as client:
        derived = client.with_options(timeout=5.0)
        async with derived:
            await derived.batches.get(staged.id)
        await derived.aclose()
        assert not derived.is_closed
        assert not client.is_closed
        assert (await derived.batches.get(staged.id)).id == staged.id
        assert (await client.batches.get(staged.id)).id == staged.id


async def test_closing_the_parent_ends_every_derived_client(prolific_fake: FakeProlific) -> None:
    """After the parent's aclose(), derived (and twice derived) calls raise ClientClosedError."""
    staged = prolific_fake.add_batch()
    client = prolific_fake.client()
    derived = client.with_options(retry=FAST_RETRY_POLICY)
    twice = derived.with_options(timeout=5.0)
    await derived.batches.get(staged.id)
    await client.aclose()
    assert derived.is_closed
    assert twice.is_closed
    for closed in (derived, twice):
        with pytest.raises(errors.ClientClosedError):
            await closed.batches.get(staged.id)
    with pytest.raises(errors.ClientClosedError):
        client.with_options(timeout=1.0)._ensure_session()


async def test_a_dropped_derived_client_does_not_warn(prolific_fake: FakeProlific) -> None:
    """Only the parent owns the session: a derived client garbage-collected open is silent."""
    async with prolific_fake.client() as client:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            client.with_options(timeout=1.0)
            gc.collect()


async def test_a_429_on_the_parent_holds_the_derived_client(scripted_api: ScriptedAPI) -> None:
    """A parent's 429 with a long Retry-After shuts the shared gate: the derived call never goes."""
    scripted_api.then(("status", 429, {"Retry-After": "60"}))
    policy = RetryPolicy(attempts=3, timeout=10.0, wait_initial=0.0, wait_jitter=0.0)
    async with ProlificClient(TOKEN, base_url=scripted_api.url, retry=policy) as client:
        with pytest.raises(errors.RateLimitError):
            await client.batches.get("b1")
        derived = client.with_options(timeout=5.0)
        with pytest.raises(errors.RateLimitError, match="held back by a 429"):
            await derived.batches.get("b1")
        assert scripted_api.received == 1  # held back before sending
    async with ProlificClient(TOKEN, base_url=scripted_api.url, retry=policy) as other:
        await other.batches.get("b1")  # another client's gate is its own
    assert scripted_api.received == 2


async def test_parent_and_derived_calls_share_one_connection_limit(
    scripted_api: ScriptedAPI,
) -> None:
    """max_connections=1: calls of the parent and of derived clients go one at a time."""
    trace, counts = counting_trace()
    async with ProlificClient(
        TOKEN, base_url=scripted_api.url, max_connections=1, trace_configs=[trace]
    ) as client:
        derived = client.with_options(timeout=5.0)
        calls = [(client, derived)[n % 2].batches.get(f"b{n}") for n in range(6)]
        await asyncio.gather(*calls)
    assert scripted_api.received == 6
    assert scripted_api.peak == 1
    assert counts["created"] == 1


async def test_a_derived_client_keeps_its_unnamed_parents_token_masked() -> None:
    """ProlificClient(t).with_options(): after gc and 20 more clients, t is still masked."""
    from prolific_async import _logging

    token = "derived-only-token-0000"
    client = ProlificClient(token).with_options(timeout=5.0)
    gc.collect()
    for number in range(20):
        async with ProlificClient(f"passing-token-{number:04}"):
            pass
    gc.collect()
    assert _logging._filter.masks(token)
    assert client.with_options(retry=FAST_RETRY_POLICY).attempt_timeout == 5.0
    del client
    gc.collect()


async def test_an_unclosed_parent_warns_when_its_last_derived_client_goes(
    prolific_fake: FakeProlific,
) -> None:
    """The unnamed parent's session, opened by a derived call, warns once both are gone."""
    staged = prolific_fake.add_batch()
    client = ProlificClient(prolific_fake.token, base_url=prolific_fake.url).with_options(
        timeout=5.0
    )
    gc.collect()
    assert (await client.batches.get(staged.id)).id == staged.id
    session = client._lifecycle.session
    assert session is not None
    del client  # its resources refer back to it: only the collector frees it
    with pytest.warns(ResourceWarning, match="Unclosed <ProlificClient"):
        gc.collect()
    await session.close()
