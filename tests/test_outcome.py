"""One rule for "did this request take effect?": one table, checked row by row.

Each :class:`Case` is one thing that can happen to an attempt. Its columns say the
attempt's outcome, whether trying again may help, and, for a POST (create, duplicate) and
for a GET (PATCH and DELETE behave the same), whether the retry middleware sends it again
and which error the client raises; for a POST also the bulk layer's next step. Where a
case can be produced on a loopback socket (the emulator's faults, a refused or unanswered
port, an untrusted certificate) the middleware and client columns are checked through the
real middleware; every column is also checked against the classifier functions.
``tests/README.md`` shows the table; regenerate it with ``python -m tests.test_outcome``.
"""

from __future__ import annotations

import re
import socket
import ssl
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import client_exceptions
from aiohttp.client_reqrep import ConnectionKey, RequestInfo
from attrs import frozen
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from prolific_async import ProlificClient, RetryPolicy, TaskDetails, set_testing
from prolific_async._call import CallState
from prolific_async._outcome import (
    BulkStep,
    Outcome,
    bulk_step,
    exception_outcome,
    is_transient,
    is_transient_status,
    retry_exception,
    retry_status,
    retry_transfer,
    status_outcome,
)
from prolific_async._status_errors import connection_error, deadline_error, make_status_error
from prolific_async.errors import ProlificError
from prolific_async.testing import FakeProlific

KEY = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
INFO = RequestInfo(URL("http://127.0.0.1/"), "POST", CIMultiDictProxy(CIMultiDict()))
NOT, MAYBE = Outcome.NOT_SENT, Outcome.MAYBE_APPLIED
RESEND, RECONCILE, FAIL = BulkStep.RESEND, BulkStep.RECONCILE, BulkStep.FAIL


@frozen
class Case:
    """One row: what happened to an attempt, and what each layer does about it."""

    what: str
    """What happened: an aiohttp exception's name, a status, or the call's deadline."""
    outcome: Outcome
    transient: bool
    post_resent: bool
    """Whether the middleware sends a POST again (inside the same call)."""
    post_raises: str | None
    """The error class a POST call raises (``None``: it returns)."""
    bulk: BulkStep | None
    """The bulk layer's next step after that error (``None``: nothing failed)."""
    get_resent: bool
    get_raises: str | None
    failure: BaseException | int | None = None
    """What the classifiers are asked: an exception, or a status."""
    deadline: str | None = None
    """``"before"``/``"after"`` connecting: the call's own deadline ran out."""
    socket: tuple[Any, ...] | None = None
    """How to produce the case on a loopback socket, if it can be."""


def _exc(
    exc: BaseException,
    outcome: Outcome,
    transient: bool,
    socket: tuple[Any, ...] | None = None,
) -> Case:
    """A row for an exception, its columns derived from the documented rule."""
    post_resent = transient and outcome is NOT
    get_resent = transient
    timeout = isinstance(exc, aiohttp.ServerTimeoutError)
    if outcome is NOT:
        raises = "APITimeoutError" if isinstance(exc, aiohttp.ConnectionTimeoutError) else None
        raises = raises or "APIConnectionError"
        post_raises = get_raises = raises
        # A proxy's refusal carries no cause (its request info holds our headers).
        resendable = transient or isinstance(exc, aiohttp.ClientHttpProxyError)
        bulk = RESEND if resendable else FAIL
    else:
        post_raises, bulk = "OutcomeUnknownError", RECONCILE
        get_raises = "APITimeoutError" if timeout else "APIConnectionError"
    return Case(
        type(exc).__name__,
        outcome,
        transient,
        post_resent,
        post_raises,
        bulk,
        get_resent,
        get_raises,
        failure=exc,
        socket=socket,
    )


EMU = "emulator"


def _status(
    code: int,
    outcome: Outcome,
    transient: bool,
    post_resent: bool,
    raises: str,
    bulk: BulkStep,
    get_resent: bool,
) -> Case:
    """A row for an answer with ``code``, produced by the emulator's ``status`` fault."""
    options: dict[str, Any] = {"status": code}
    if code == 429:
        options["headers"] = {"Retry-After": "0"}
    return Case(
        str(code),
        *(outcome, transient, post_resent, raises, bulk, get_resent, raises),
        code,
        socket=(EMU, "status", options),
    )


CASES: list[Case] = [
    # -- answers: (status, outcome, transient, POST resent, raises, bulk, GET resent) ------
    Case("2xx", Outcome.APPLIED, False, False, None, None, False, None, 200, socket=(EMU,)),
    _status(400, Outcome.REJECTED, False, False, "BadRequestError", FAIL, False),
    _status(404, Outcome.REJECTED, False, False, "NotFoundError", FAIL, False),
    _status(408, MAYBE, True, False, "APIStatusError", RECONCILE, True),
    _status(409, Outcome.REJECTED, False, False, "ConflictError", FAIL, False),
    _status(422, Outcome.REJECTED, False, False, "UnprocessableEntityError", FAIL, False),
    _status(429, Outcome.REFUSED, True, True, "RateLimitError", RESEND, True),
    _status(500, MAYBE, True, False, "InternalServerError", RECONCILE, True),
    _status(501, MAYBE, False, False, "InternalServerError", RECONCILE, False),
    _status(502, MAYBE, True, False, "InternalServerError", RECONCILE, True),
    _status(503, MAYBE, True, False, "InternalServerError", RECONCILE, True),
    _status(504, MAYBE, True, False, "InternalServerError", RECONCILE, True),
    # -- the call's own deadline (RetryPolicy.timeout) ------------------------------------
    Case(
        "deadline before connecting",
        *(NOT, True, False, "APITimeoutError", RESEND, False, "APITimeoutError"),
        TimeoutError(),
        deadline="before",
        socket=("deadline_before",),
    ),
    Case(
        "deadline after connecting",
        *(MAYBE, True, False, "OutcomeUnknownError", RECONCILE, False, "APITimeoutError"),
        TimeoutError(),
        deadline="after",
        socket=("deadline_after",),
    ),
    # -- every exception of aiohttp.client_exceptions (3.14) --------------------------------
    _exc(aiohttp.InvalidURL("http://["), NOT, False),
    _exc(client_exceptions.InvalidUrlClientError("http://["), NOT, False),
    _exc(client_exceptions.NonHttpUrlClientError("ftp://x"), NOT, False),
    _exc(aiohttp.ClientConnectorError(KEY, OSError(111, "refused")), NOT, True, ("refused",)),
    _exc(aiohttp.ClientConnectorDNSError(KEY, OSError(-2, "unknown host")), NOT, True),
    _exc(aiohttp.ClientProxyConnectionError(KEY, OSError(111, "refused")), NOT, True),
    _exc(aiohttp.ClientHttpProxyError(INFO, (), status=407), NOT, False),
    _exc(aiohttp.ClientSSLError(KEY, OSError("handshake")), NOT, False),
    _exc(aiohttp.ClientConnectorSSLError(KEY, OSError("handshake")), NOT, False),
    _exc(
        aiohttp.ClientConnectorCertificateError(KEY, ValueError("untrusted")), NOT, False, ("tls",)
    ),
    _exc(aiohttp.ServerFingerprintMismatch(b"a", b"b", "127.0.0.1", 1), NOT, False),
    _exc(aiohttp.ConnectionTimeoutError("connect"), NOT, True, ("connect_timeout",)),
    _exc(aiohttp.ClientError(), MAYBE, False),
    _exc(aiohttp.ClientConnectionError(), MAYBE, True),
    _exc(aiohttp.ClientConnectionResetError("closing"), MAYBE, True),
    _exc(aiohttp.ClientOSError(104, "reset"), MAYBE, True),
    _exc(aiohttp.ServerConnectionError(), MAYBE, True),
    _exc(aiohttp.ServerDisconnectedError(), MAYBE, True, (EMU, "drop_after", {})),
    _exc(aiohttp.ServerTimeoutError("timeout"), MAYBE, True),
    _exc(aiohttp.SocketTimeoutError("read"), MAYBE, True, ("read_timeout",)),
    _exc(aiohttp.ClientPayloadError("truncated"), MAYBE, True, (EMU, "truncated", {})),
    *(
        [_exc(client_exceptions.UploadAbortedError("not fully sent"), MAYBE, True)]
        if hasattr(client_exceptions, "UploadAbortedError")  # aiohttp 3.14.4 and later
        else []
    ),
    _exc(aiohttp.ClientResponseError(INFO, (), status=400), MAYBE, False),
    _exc(aiohttp.ContentTypeError(INFO, ()), MAYBE, False),
    _exc(aiohttp.TooManyRedirects(INFO, ()), MAYBE, False),
    _exc(client_exceptions.RedirectClientError("http://x"), MAYBE, False),
    _exc(client_exceptions.InvalidUrlRedirectClientError("http://["), MAYBE, False),
    _exc(client_exceptions.NonHttpUrlRedirectClientError("ftp://x"), MAYBE, False),
    _exc(aiohttp.WSServerHandshakeError(INFO, ()), MAYBE, False),
    _exc(client_exceptions.WSMessageTypeError("not text"), MAYBE, False),
]

# -- the classifiers ---------------------------------------------------------------------


def classified_error(case: Case, method: str) -> ProlificError | None:
    """The error the client's mapping builds for ``case`` (``None``: the call returns)."""
    url = "http://127.0.0.1/x"
    failure = case.failure
    if isinstance(failure, int):
        if 200 <= failure < 300:
            return None
        return make_status_error(
            status_code=failure, reason=None, raw_body=b"", headers={}, method=method, url=url
        )
    assert failure is not None
    connected = case.deadline != "before"
    state = CallState(deadline=0.0, sent=1, in_flight=True, tracks_connection=True)
    state.connected = connected
    if case.deadline is not None:
        assert isinstance(failure, TimeoutError)
        return deadline_error(failure, method, url, state, 0.1)
    assert isinstance(failure, aiohttp.ClientError | client_exceptions.WSMessageTypeError)
    return connection_error(failure, method, url, state, closed=False)  # type: ignore[arg-type]


def classified_resent(case: Case, method: str) -> bool:
    """Whether the middleware's rule sends ``method`` again after ``case``."""
    if case.deadline is not None:
        return False  # the deadline ends the call: the middleware never sees it
    if isinstance(case.failure, int):
        return retry_status(case.failure, method)
    assert case.failure is not None
    return retry_exception(case.failure, method)


def _name(error: BaseException | None) -> str | None:
    return None if error is None else type(error).__name__


# -- the loopback sockets ----------------------------------------------------------------

WS = "ws-1"
DETAILS = TaskDetails(task_name="n", task_introduction="i", task_steps="s")
BATCHES = "/api/v1/data-collection/batches"
POLICY = RetryPolicy(attempts=2, timeout=5.0, wait_initial=0.0, wait_jitter=0.0)
SHORT = RetryPolicy(attempts=2, timeout=0.1, wait_initial=0.0, wait_jitter=0.0)


async def _call(client: ProlificClient, method: str, batch_id: str) -> ProlificError | None:
    try:
        if method == "POST":
            await client.batches.create(name="b", workspace_id=WS, task_details=DETAILS)
        else:
            await client.batches.get(batch_id)
    except ProlificError as error:
        return error
    return None


def _attempts(error: ProlificError | None) -> int:
    """How many attempts a call made that never reached the server (from its message)."""
    found = re.search(r"(\d+) attempt", str(error))
    assert found, error
    return int(found.group(1))


async def on_socket(case: Case, method: str) -> tuple[int, ProlificError | None]:
    """Produce ``case`` for ``method`` through the real middleware: (sends, error)."""
    assert case.socket is not None
    kind, *rest = case.socket
    if kind in (EMU, "read_timeout", "deadline_after"):
        async with FakeProlific() as fake:
            batch = fake.add_batch(name="b", workspace_id=WS)
            path = BATCHES if method == "POST" else f"{BATCHES}/{batch.id}"
            retry, timeout = POLICY, 30.0
            if kind == EMU and rest:
                fault, options = rest
                fake.add_fault(method, path, fault, times=None, **options)
            elif kind != EMU:
                fake.add_fault(method, path, "stall_after", times=None, delay=1.0)
                retry, timeout = (POLICY, 0.1) if kind == "read_timeout" else (SHORT, 30.0)
            async with fake.client(retry=retry, timeout=timeout) as client:
                error = await _call(client, method, batch.id)
            return sum(1 for r in fake.requests if r.method == method), error
    if kind == "tls":
        pytest.importorskip("trustme", reason="the tls extra (trustme) is not installed")
        async with FakeProlific(tls=True) as fake:
            untrusting = ssl.create_default_context()
            async with fake.client(retry=POLICY, ssl_context=untrusting) as client:
                error = await _call(client, method, "b1")
        return _attempts(error), error
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        fillers: list[socket.socket] = []
        if kind != "refused":  # a full accept queue: connections hang
            sock.listen(0)
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(sock.getsockname())
                fillers.append(filler)
        host, port = sock.getsockname()[:2]
        retry, timeout = (SHORT, 30.0) if kind == "deadline_before" else (POLICY, 0.1)
        try:
            async with ProlificClient(
                "t", base_url=f"http://{host}:{port}", retry=retry, timeout=timeout
            ) as client:
                error = await _call(client, method, "b1")
        finally:
            for filler in fillers:
                filler.close()
    return _attempts(error), error


# -- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.what for case in CASES])
async def test_every_case_is_decided_by_the_one_rule(case: Case) -> None:
    """Each row's outcome, transience, resends, raised error and bulk step are the code's."""
    failure = case.failure
    assert failure is not None
    if isinstance(failure, int):
        assert status_outcome(failure) is case.outcome
        assert is_transient_status(failure) is case.transient
    else:
        maybe_sent = case.deadline != "before"
        assert exception_outcome(failure, maybe_sent=maybe_sent) is case.outcome
        assert is_transient(failure) is case.transient
    assert retry_transfer(failure) is case.transient  # a storage transfer is idempotent
    for methods, resent, raises in (
        (("POST",), case.post_resent, case.post_raises),
        (("GET", "PATCH", "DELETE"), case.get_resent, case.get_raises),
    ):
        for method in methods:
            assert classified_resent(case, method) is resent, method
            assert _name(classified_error(case, method)) == raises, method
    post_error = classified_error(case, "POST")
    assert (None if post_error is None else bulk_step(post_error)) is case.bulk
    if case.socket is None:
        return
    with set_testing():
        for method, resent, raises in (
            ("POST", case.post_resent, case.post_raises),
            ("GET", case.get_resent, case.get_raises),
        ):
            sends, error = await on_socket(case, method)
            assert (sends, _name(error)) == (2 if resent else 1, raises), method
            if isinstance(failure, aiohttp.ClientError):  # the case really happened
                assert isinstance(error, ProlificError)
                assert isinstance(error.__cause__, type(failure)), method
            if method == "POST":
                assert (None if error is None else bulk_step(error)) is case.bulk


def test_every_aiohttp_client_exception_has_a_row() -> None:
    """No exception class of aiohttp.client_exceptions is left out of the table."""
    names = {
        name
        for name in client_exceptions.__all__
        if isinstance(getattr(client_exceptions, name), type)
        and issubclass(getattr(client_exceptions, name), BaseException)
    }
    assert names <= {case.what for case in CASES}


# -- tests/README.md ---------------------------------------------------------------------

README = Path(__file__).with_name("README.md")
BEGIN, END = "<!-- outcome table: begin -->", "<!-- outcome table: end -->"


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Outcome | BulkStep):
        return str(value.value)
    return "returns" if value is None else str(value)


def render_table(cases: list[Case]) -> str:
    """The table as markdown, one row per case."""
    head = (
        "| what happened | outcome | transient | POST resent | POST raises | bulk "
        "| GET/PATCH/DELETE resent | GET/PATCH/DELETE raises |"
    )
    lines = [head, "|" + "---|" * 8]
    for case in cases:
        bulk = "—" if case.bulk is None else _cell(case.bulk)
        cells = (case.what, case.outcome, case.transient, case.post_resent, case.post_raises)
        rest = (case.get_resent, case.get_raises)
        lines.append("| " + " | ".join([*map(_cell, cells), bulk, *map(_cell, rest)]) + " |")
    return "\n".join(lines)


def rendered_readme(text: str) -> str:
    """``text`` with the table between its markers replaced by the current one."""
    before, _, rest = text.partition(BEGIN)
    _, _, after = rest.partition(END)
    return f"{before}{BEGIN}\n{render_table(CASES)}\n{END}{after}"


def test_the_readme_table_is_up_to_date() -> None:
    """tests/README.md shows the table as the code above defines it."""
    if not hasattr(client_exceptions, "UploadAbortedError"):
        pytest.skip("the table is rendered with aiohttp 3.14.4's exceptions; this is older")
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text
    assert END in text
    assert text == rendered_readme(text), "run: python -m tests.test_outcome"


if __name__ == "__main__":
    README.write_text(rendered_readme(README.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write(f"wrote {README}\n")
