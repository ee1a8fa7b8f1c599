"""The ``prolific_async`` logger: a line per attempt, the operator's events, never the token.

DEBUG for each attempt, INFO for retries and 429 holds, switched on by ``PROLIFIC_LOG`` or
``PROLIFIC_DEBUG``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from aiohttp import web

from prolific_async import (
    APIConnectionError,
    APITimeoutError,
    ProlificClient,
    ResponseTooLargeError,
    RetryPolicy,
)
from prolific_async.testing import FakeProlific
from tests.conftest import BATCHES_PATH, SCRIPTED_BATCH, TOKEN, ScriptedAPI, StartServer, server_url

FAST = RetryPolicy(attempts=3, wait_initial=0.0, wait_jitter=0.0, timeout=10.0)
LOGGER = "prolific_async"


def attempt_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == LOGGER and record.levelno == logging.DEBUG
        if record.getMessage().startswith("attempt ")
    ]


def test_the_library_installs_no_handler() -> None:
    """Without PROLIFIC_LOG the library leaves its logger without handlers."""
    ProlificClient(TOKEN)
    assert logging.getLogger(LOGGER).handlers == []


async def test_a_503_then_200_call_logs_two_attempts_and_one_retry(
    scripted_api: ScriptedAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """Each attempt has its DEBUG line (status, attempt, wait, request id); the retry an INFO."""
    scripted_api.then(("status", 503, {"X-Request-Id": "req-1"}))
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with ProlificClient(TOKEN, base_url=scripted_api.url, retry=FAST) as client:
        await client.batches.get("b1")
    lines = attempt_lines(caplog)
    assert len(lines) == 2
    assert lines[0].startswith(f"attempt 1: GET {BATCHES_PATH}/b1 -> 503 in ")
    assert "request id req-1" in lines[0]
    assert lines[0].endswith("retry in 0.00s")
    assert lines[1].startswith(f"attempt 2: GET {BATCHES_PATH}/b1 -> 200 in ")
    assert lines[1].endswith("final")
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert infos == [f"retrying GET {BATCHES_PATH}/b1 in 0.00s (attempt 2 of 3: 503)"]


async def test_a_connection_error_is_an_attempt_line(
    scripted_api: ScriptedAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """An attempt that ends without an answer is logged with the error's type."""
    scripted_api.then(("drop_before",), ("drop_before",), ("drop_before",))
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with ProlificClient(TOKEN, base_url=scripted_api.url, retry=FAST) as client:
        with pytest.raises(APIConnectionError):
            await client.batches.get("b1")
    lines = attempt_lines(caplog)
    assert len(lines) == 3
    assert "ServerDisconnectedError" in lines[-1]
    assert lines[-1].endswith("final")


async def test_a_429_hold_is_logged(
    scripted_api: ScriptedAPI, caplog: pytest.LogCaptureFixture, retry_waits: list[float]
) -> None:
    """A 429 with Retry-After logs the hold of the client's gate at INFO."""
    scripted_api.then(("status", 429, {"Retry-After": "2"}))
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with ProlificClient(TOKEN, base_url=scripted_api.url, retry=FAST) as client:
        await client.batches.get("b1")
    holds = [r.getMessage() for r in caplog.records if r.getMessage().startswith("429: holding")]
    assert holds
    assert "for 2.00s" in holds[0]


async def test_the_token_is_in_no_log_line_at_any_level(
    start_server: StartServer, caplog: pytest.LogCaptureFixture, retry_waits: list[float]
) -> None:
    """A server echoing the Authorization header everywhere: no record carries the token."""
    answers = iter([503, 429, 200])

    async def echo(request: web.Request) -> web.Response:
        sent = request.headers["Authorization"]
        status = next(answers)
        headers = {"X-Request-Id": sent, "Retry-After": "0"}
        if status == 200:
            return web.json_response(SCRIPTED_BATCH, headers=headers)
        return web.Response(status=status, headers=headers, text=f"echo {sent}")

    app = web.Application()
    app.router.add_get(BATCHES_PATH + "/{batch_id}", echo)
    base = server_url(await start_server(app))
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with ProlificClient(TOKEN, base_url=base, retry=FAST) as client:
        await client.batches.get("b1")
    records = [r for r in caplog.records if r.name == LOGGER]
    assert len(attempt_lines(caplog)) == 3
    formatter = logging.Formatter("%(message)s %(exc_text)s")
    for record in records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in formatter.format(record)
        assert TOKEN not in repr(record.args)
    assert any("request id Token ***" in record.getMessage() for record in records)


def test_an_exception_logged_with_the_token_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    """A traceback logged on the library's logger has the token masked too."""
    ProlificClient(TOKEN)  # its token is now looked for in every record
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    try:
        raise RuntimeError(f"Token {TOKEN}")
    except RuntimeError:
        logging.getLogger(LOGGER).exception("failed with %s", TOKEN)
    (record,) = caplog.records
    assert TOKEN not in record.getMessage()
    assert record.exc_text
    assert TOKEN not in record.exc_text
    assert TOKEN not in caplog.text


async def test_a_log_line_quoting_a_piece_of_the_token_is_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A record quoting the token cut short (as aiohttp quotes a line) shows none of it."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with ProlificClient(TOKEN):  # its token is looked for in every record meanwhile
        logging.getLogger(LOGGER).debug("refused %r", f"X-Echo: Token {TOKEN[:12]}...")
    (record,) = caplog.records
    assert record.getMessage() == "refused 'X-Echo: Token ***...'"


PROBE = f"""
import logging
from prolific_async import ProlificClient
ProlificClient({TOKEN!r})
log = logging.getLogger("prolific_async")
log.debug("debug probe %s", {TOKEN!r})
log.info("info probe %s", {TOKEN!r})
"""


@pytest.mark.parametrize(
    ("variables", "debug_shown"),
    [({"PROLIFIC_DEBUG": "1"}, True), ({"PROLIFIC_LOG": "info"}, False)],
    ids=["PROLIFIC_DEBUG=1", "PROLIFIC_LOG=info"],
)
def test_an_environment_variable_sends_the_log_to_stderr(
    variables: dict[str, str], *, debug_shown: bool
) -> None:
    """PROLIFIC_DEBUG=1 / PROLIFIC_LOG=info attach a stderr handler at that level, masked."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROLIFIC_")}
    completed = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", PROBE],
        env={**env, **variables},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "info probe ***" in completed.stderr
    assert ("debug probe ***" in completed.stderr) is debug_shown
    assert TOKEN not in completed.stderr


async def test_an_attempt_cut_by_the_calls_deadline_has_its_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An attempt the call's deadline cancels still gets its DEBUG line, saying so."""
    async with FakeProlific() as fake:
        batch = fake.add_batch(name="Slow")
        fake.add_fault("GET", f"{BATCHES_PATH}/{batch.id}", "stall_after")
        caplog.set_level(logging.DEBUG, logger=LOGGER)
        async with fake.client(retry=RetryPolicy(attempts=1, timeout=0.2)) as client:
            with pytest.raises(APITimeoutError):
                await client.batches.get(batch.id)
    lines = attempt_lines(caplog)
    assert len(lines) == 1
    assert "attempt 1: GET" in lines[0]
    assert "the call's deadline" in lines[0]


async def test_an_attempt_over_the_size_cap_has_its_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An attempt whose body passes the size cap gets its DEBUG line, naming the error."""
    async with FakeProlific() as fake:
        batch = fake.add_batch(name="Huge")
        fake.add_fault("GET", f"{BATCHES_PATH}/{batch.id}", "oversized", size=1 << 20)
        caplog.set_level(logging.DEBUG, logger=LOGGER)
        async with fake.client(max_response_bytes=64 * 1024) as client:
            with pytest.raises(ResponseTooLargeError):
                await client.batches.get(batch.id)
    lines = attempt_lines(caplog)
    assert len(lines) == 1
    assert "ResponseTooLargeError" in lines[0]
