"""Configuration from arguments and environment, the session's lifecycle, and closing."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import aiohttp
import pytest

from prolific_async import ClientClosedError, MissingTokenError, ProlificClient, ProlificError

from .conftest import BATCHES_PATH, fixture_json, mocked_call, wait_until

BATCH = fixture_json("get_batch_200.json")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROLIFIC_TOKEN", raising=False)
    monkeypatch.delenv("PROLIFIC_URL", raising=False)


def test_missing_token_is_refused_by_the_constructor() -> None:
    """No token argument and no PROLIFIC_TOKEN: the constructor raises, naming the variable."""
    with pytest.raises(MissingTokenError, match="PROLIFIC_TOKEN") as caught:
        ProlificClient()
    assert isinstance(caught.value, ProlificError)


@pytest.mark.parametrize("token", ["", "   "])
def test_blank_token_is_refused(token: str) -> None:
    """An empty or blank token is as good as none."""
    with pytest.raises(MissingTokenError):
        ProlificClient(token)


async def sent_authorization(client: ProlificClient, mocked: Any) -> str:
    """The Authorization header the client sends (to aioresponses) on a GET."""
    url = f"{client.base_url}{BATCHES_PATH}/b1"
    mocked.get(url, payload=BATCH)
    async with client:
        await client.batches.get("b1")
    authorization: str = mocked_call(mocked, "GET", url)["headers"]["Authorization"]
    return authorization


async def test_token_and_url_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, mocked: Any
) -> None:
    """PROLIFIC_TOKEN and PROLIFIC_URL are used when no arguments are given."""
    monkeypatch.setenv("PROLIFIC_TOKEN", "env-token\n")
    monkeypatch.setenv("PROLIFIC_URL", "http://127.0.0.1:9/")
    client = ProlificClient()
    assert client.base_url == "http://127.0.0.1:9"
    assert await sent_authorization(client, mocked) == "Token env-token"


async def test_arguments_override_the_environment(
    monkeypatch: pytest.MonkeyPatch, mocked: Any
) -> None:
    """Explicit arguments win over the environment variables."""
    monkeypatch.setenv("PROLIFIC_TOKEN", "env-token")
    monkeypatch.setenv("PROLIFIC_URL", "http://127.0.0.1:9")
    client = ProlificClient("arg-token", base_url="https://example.test/")
    assert client.base_url == "https://example.test"
    assert await sent_authorization(client, mocked) == "Token arg-token"


def test_default_base_url_is_the_real_api() -> None:
    """Without PROLIFIC_URL the client talks to https://api.prolific.com."""
    assert ProlificClient("t").base_url == "https://api.prolific.com"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "ftp://x"}, "base_url"),
        ({"base_url": "not a url"}, "base_url"),
        ({"timeout": 0}, "timeout"),
        ({"max_connections": 0}, "max_connections"),
    ],
)
def test_invalid_configuration_is_refused(kwargs: dict[str, Any], match: str) -> None:
    """Bad configuration raises ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        ProlificClient("t", **kwargs)


def test_repr_does_not_contain_the_token() -> None:
    """The client's repr shows where it talks to, never the token."""
    client = ProlificClient("super-secret-token")
    assert "super-secret-token" not in repr(client)
    assert "api.prolific.com" in repr(client)


def test_constructing_outside_a_loop_creates_no_session() -> None:
    """The aiohttp session is created lazily, inside a running loop, not in __init__."""
    # aiohttp refuses to create a ClientSession outside a running loop (RuntimeError).
    client = ProlificClient("t")
    assert not client.is_closed


async def test_aclose_is_idempotent_and_closes_our_session() -> None:
    """aclose() closes the session the client made and may be called again."""
    client = ProlificClient("t")
    async with client, client.storage_session() as storage:  # on the client's own connections
        api = client._lifecycle.session  # the one aiohttp session the client made
        assert api is not None
        open_while_in_use = not api.closed and not storage.closed
    assert open_while_in_use
    assert api.closed
    assert storage.closed
    assert client.is_closed
    await client.aclose()
    await client.aclose()


async def test_a_transfer_session_is_closed_when_the_transfer_ends() -> None:
    """The plain session of a presigned transfer closes with it; the client's stays open."""
    client = ProlificClient("t")
    async with client:
        api = client._lifecycle.session
        assert api is not None
        async with client.storage_session() as storage:
            shared = storage.connector
        assert shared is api.connector  # on the client's own connections
        assert storage.closed
        assert not api.closed
        assert shared is not None
        assert not shared.closed


async def test_a_closed_client_leaves_no_deadline_timer_behind(mocked: Any) -> None:
    """After aclose() with no call running, the calls' shared deadline timer is gone."""
    client = ProlificClient("t", base_url="http://127.0.0.1:9")
    mocked.get(f"{client.base_url}{BATCHES_PATH}/b1", payload=BATCH)
    async with client:
        await client.batches.get("b1")
        timer_keeps = weakref.ref(client._deadlines)  # the one a pending timer would pin
    del client
    gc.collect()
    assert timer_keeps() is None


async def test_closing_a_client_drops_the_deadline_timers_of_its_derived_clients(
    mocked: Any,
) -> None:
    """A with_options client's calls have their own deadline timer; the parent's close drops it."""
    client = ProlificClient("t", base_url="http://127.0.0.1:9")
    mocked.get(f"{client.base_url}{BATCHES_PATH}/b1", payload=BATCH)
    async with client:
        derived = client.with_options(timeout=5)
        await derived.batches.get("b1")
        timer_keeps = weakref.ref(derived._deadlines)
    del client, derived
    gc.collect()
    assert timer_keeps() is None


async def test_a_cancelled_aclose_still_drops_the_deadline_timer(mocked: Any) -> None:
    """aclose() cancelled while the session closes: the session closes, the timer is cancelled."""
    client = ProlificClient("t", base_url="http://127.0.0.1:9")
    mocked.get(f"{client.base_url}{BATCHES_PATH}/b1", payload=BATCH)
    await client.batches.get("b1")
    session = client._lifecycle.session  # the one aiohttp session the client made
    assert session is not None
    timer = client._deadlines._timer  # still armed for the finished call's deadline
    assert timer is not None
    assert not timer.cancelled()
    closing = asyncio.create_task(client.aclose())
    await asyncio.sleep(0)  # it runs up to the session's (shielded) close, and waits there
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert client.is_closed
    assert timer.cancelled()
    await wait_until(lambda: session.closed)  # the shielded close goes on to the end


async def test_closed_client_refuses_requests() -> None:
    """A request on a closed client raises ClientClosedError, also a RuntimeError."""
    client = ProlificClient("t")
    await client.aclose()
    with pytest.raises(ClientClosedError) as caught:
        await client.batches.get("b1")
    assert isinstance(caught.value, RuntimeError)


async def test_closed_client_cannot_be_reopened() -> None:
    """Entering a closed client again raises ClientClosedError."""
    client = ProlificClient("t")
    async with client:
        pass
    with pytest.raises(ClientClosedError, match="closed"):
        async with client:
            pass


async def test_unclosed_client_warns(mocked: Any) -> None:
    """A client whose session is still open when it is collected emits a ResourceWarning."""
    client = ProlificClient("t")
    mocked.get(f"https://api.prolific.com{BATCHES_PATH}/b1", payload=BATCH)
    await client.batches.get("b1")
    with pytest.warns(ResourceWarning, match="Unclosed <ProlificClient"):
        client.__del__()
    await client.aclose()  # its session is still open: closed here, not leaked


async def test_closed_client_does_not_warn() -> None:
    """A properly closed client is collected silently."""
    client = ProlificClient("t")
    async with client:
        pass
    del client
    gc.collect()  # filterwarnings=error turns any ResourceWarning into a failure


async def test_caller_session_is_not_closed() -> None:
    """aclose() leaves a caller-owned session open for its owner."""
    async with aiohttp.ClientSession() as session:
        client = ProlificClient("t", session=session)
        async with client:
            pass
        assert not session.closed
        client.__del__()  # and no ResourceWarning for a session we do not own


async def test_closed_caller_session_is_reported() -> None:
    """Using a caller session its owner has closed raises ClientClosedError."""
    session = aiohttp.ClientSession()
    await session.close()
    client = ProlificClient("t", session=session)
    with pytest.raises(ClientClosedError, match="session="):
        await client.batches.get("b1")


def test_a_client_used_in_a_second_asyncio_run_says_it_belongs_to_its_loop(mocked: Any) -> None:
    """A client opened in one asyncio.run() and used in the next raises a ClientClosedError."""
    mocked.get(f"https://api.prolific.com{BATCHES_PATH}/b1", payload=BATCH, repeat=True)
    client = ProlificClient("t")
    assert asyncio.run(client.batches.get("b1")).id == BATCH["id"]
    with pytest.raises(ClientClosedError, match="another event loop") as caught:
        asyncio.run(client.batches.get("b1"))
    assert "Open one per asyncio.run()" in str(caught.value)
    assert isinstance(caught.value, RuntimeError)
    asyncio.run(client.aclose())  # closing it from another loop still works


def test_a_client_entered_in_one_loop_is_refused_in_another_and_still_works_in_its_own(
    mocked: Any,
) -> None:
    """Entering or calling from another loop is refused; the loop it was opened in goes on."""
    mocked.get(f"https://api.prolific.com{BATCHES_PATH}/b1", payload=BATCH, repeat=True)
    client = ProlificClient("t")
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        first.run_until_complete(client.__aenter__())
        with pytest.raises(ClientClosedError, match="another event loop"):
            second.run_until_complete(client.__aenter__())
        with pytest.raises(ClientClosedError, match="another event loop"):
            second.run_until_complete(client.with_options(timeout=5).batches.get("b1"))
        assert first.run_until_complete(client.batches.get("b1")).id == BATCH["id"]
        assert not client.is_closed
        first.run_until_complete(client.aclose())
    finally:
        first.close()
        second.close()
