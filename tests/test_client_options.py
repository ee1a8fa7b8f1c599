"""Constructor options: ``default_headers=`` under ours, ``trace_configs=`` beside ours."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from prolific_async import ProlificClient, RetryPolicy
from prolific_async._base_client import APIResponse
from prolific_async._call import CallState
from tests.conftest import BATCHES_PATH, TOKEN, ScriptedAPI

FAST = RetryPolicy(attempts=3, wait_initial=0.0, wait_jitter=0.0, timeout=10.0)


async def test_default_headers_are_sent_under_ours(scripted_api: ScriptedAPI) -> None:
    """A default header reaches the server; one naming ours (any case) does not replace it."""
    headers = {"X-Team": "lab-7", "accept": "text/plain", "User-Agent": "theirs"}
    async with ProlificClient(TOKEN, base_url=scripted_api.url, default_headers=headers) as client:
        await client.batches.get("b1")
    (seen,) = scripted_api.headers_seen
    assert seen["X-Team"] == "lab-7"
    assert seen["Accept"] == "application/json"
    assert seen["User-Agent"].startswith("prolific_async/")
    assert seen["Authorization"] == f"Token {TOKEN}"


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
def test_default_headers_cannot_set_the_token(name: str) -> None:
    """Authorization in default_headers is refused with ValueError, in any case."""
    with pytest.raises(ValueError, match="cannot set Authorization"):
        ProlificClient(TOKEN, default_headers={name: "Token other"})


def test_default_headers_must_be_strings() -> None:
    """A non-string header value is refused up front."""
    with pytest.raises(ValueError, match="strings to strings"):
        ProlificClient(TOKEN, default_headers={"X-Count": 3})  # type: ignore[dict-item]


async def test_trace_configs_fire_once_per_call_and_log_lines_per_attempt(
    scripted_api: ScriptedAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """A 503-then-200 call: on_request_start/end fire once, two attempt lines are logged."""
    events: list[str] = []

    async def record(name: str, *_: Any) -> None:
        events.append(name)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(lambda *a: record("start", *a))
    trace.on_request_end.append(lambda *a: record("end", *a))
    trace.on_connection_create_end.append(lambda *a: record("connected", *a))
    trace.on_request_headers_sent.append(lambda *a: record("sent", *a))
    scripted_api.then(("status", 503))
    caplog.set_level(logging.DEBUG, logger="prolific_async")
    async with ProlificClient(
        TOKEN, base_url=scripted_api.url, retry=FAST, trace_configs=[trace]
    ) as client:
        await client.batches.get("b1")
    attempts = [r for r in caplog.records if r.getMessage().startswith("attempt ")]
    assert len(attempts) == 2
    assert scripted_api.received == 2
    assert events.count("start") == 1
    assert events.count("end") == 1
    assert events.count("sent") == 2  # the per-attempt hook: one per send
    assert "connected" in events  # connection hooks still fire beside ours


async def test_connection_tracking_survives_a_callers_trace_config(
    scripted_api: ScriptedAPI,
) -> None:
    """With a caller's trace config added, a call still records that it got a connection."""
    trace = aiohttp.TraceConfig(trace_config_ctx_factory=lambda **_: SimpleNamespace())
    state = CallState(deadline=0.0)
    async with ProlificClient(
        TOKEN, base_url=scripted_api.url, retry=FAST, trace_configs=[trace]
    ) as client:
        await client.request("GET", BATCHES_PATH + "/b1", cast_to=APIResponse, state=state)
    assert state.tracks_connection
    assert state.connected


async def test_trace_configs_and_proxy_refuse_a_callers_session() -> None:
    """trace_configs= and proxy= configure our session: with session= they are refused."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match="session="):
            ProlificClient(TOKEN, session=session, trace_configs=[aiohttp.TraceConfig()])
        with pytest.raises(ValueError, match="session="):
            ProlificClient(TOKEN, session=session, proxy="http://127.0.0.1:1")
