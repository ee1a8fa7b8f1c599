"""Every request kind under every fault: the outcome, the attempts, the batches made.

One table (:data:`MATRIX`), one parametrised test: each cell runs on real loopback
sockets against a fresh :class:`FakeProlific` (or a port that refuses connections), with
a fast retry policy (2 attempts), small caps and short deadlines, and checks what the
public call raised (or that it returned), how many attempts reached the server (or, for a
refused port, were started), and for a create or duplicate how many batches it made. A
fault hits every matching request (``times=None``), so the attempts show the retry rule.
``tests/README.md`` shows the table; regenerate it with ``python -m tests.test_fault_matrix``.
"""

from __future__ import annotations

import gc
import socket
import sys
import warnings
from collections.abc import Awaitable, Callable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from attrs import field, frozen

from prolific_async import ProlificClient, RetryPolicy, TaskDetails, set_testing
from prolific_async.errors import ProlificError
from prolific_async.testing import FakeProlific

from .test_outcome import README

BATCHES = "/api/v1/data-collection/batches"
WS = "ws-matrix"
DETAILS = TaskDetails(task_name="n", task_introduction="i", task_steps="s")
#: The caps of the clients in the matrix (a batch answers ~1 KB; 2 MiB is far over it).
CAP = 256 * 1024
HUGE = 2 * 1024 * 1024
#: What a captive portal (a hotel's or a train's Wi-Fi) answers any request with.
PORTAL = "<html><head><title>Sign in to the Wi-Fi</title></head><body>Accept</body></html>"
#: Read timeout for stalls, and the call's and transfer's deadline for trickles (seconds).
READ_TIMEOUT, DEADLINE = 0.1, 0.3
KINDS = ("GET", "PATCH", "create", "duplicate", "list", "upload", "download")
#: Each kind's target: the method and path pattern its faults match.
TARGETS = {
    "GET": ("GET", BATCHES + "/*"),
    "PATCH": ("PATCH", BATCHES + "/*"),
    "create": ("POST", BATCHES),
    "duplicate": ("POST", BATCHES + "/*/duplicate"),
    "list": ("GET", BATCHES),
    "upload": ("PUT", "/_storage/uploads/*"),
    "download": ("GET", "/_storage/exports/*"),
}
POSTS = frozenset({"create", "duplicate"})


@frozen
class Fault:
    """One column: how to produce the fault (an emulator fault, or a refused port)."""

    label: str
    kind: str | None
    """The emulator's fault kind; ``None`` for a port that refuses connections."""
    options: dict[str, Any]
    stall: bool = False
    """Give the client a short read timeout."""
    slow: bool = False
    """Give the call and the transfer a short overall deadline."""
    instead: dict[str, tuple[str, dict[str, Any]]] = field(factory=dict)
    """A request kind this fault cannot reach as such, with the fault standing in for it."""


FAULTS = (
    Fault("5xx", "status", {"status": 503}),
    Fault("429 + Retry-After", "status", {"status": 429, "headers": {"Retry-After": "0"}}),
    Fault("429, no Retry-After", "status", {"status": 429}),
    Fault("refused", None, {}),
    Fault("reset before apply", "drop_before", {}),
    Fault("reset after apply", "drop_after", {}),
    Fault("stall", "stall_after", {}, stall=True),
    # The storage host's answer to a PUT is empty: an upload trickles its body instead,
    # to a host that stops reading it.
    Fault(
        "trickle", "trickle", {"delay": 0.05}, slow=True, instead={"upload": ("stall_upload", {})}
    ),
    Fault("oversized body", "oversized", {"size": HUGE}),
    Fault("compressed body", "compressed", {"size": HUGE}),
    Fault("deep JSON", "deep_json", {}),
    Fault(
        "captive portal (200 HTML)",
        "status",
        {"status": 200, "body": PORTAL, "headers": {"Content-Type": "text/html"}},
    ),
    Fault("empty", "status", {"status": 200, "body": ""}),
    Fault("truncated", "truncated", {}),
    Fault("wrong shape", "status", {"status": 200, "body": [1, 2]}),
    Fault("applied, answer unusable", "status_after", {"status": 201, "body": [1, 2]}),
    Fault("cross-host redirect", "redirect", {}),
)


@frozen
class Cell:
    """What one request kind does under one fault."""

    raises: str | None
    """The error class the call raises (``None``: it returns)."""
    attempts: int
    batches: int | None = None
    """For a create or duplicate: the batches it made (``None`` for other kinds)."""


#: A cell that cannot be produced, and why.
NotApplicable = str

RETURNS = None
RATE, SERVER, TIMEOUT = "RateLimitError", "InternalServerError", "APITimeoutError"
CONN, UNKNOWN, INVALID = "APIConnectionError", "OutcomeUnknownError", "ResponseValidationError"
LARGE, UNREADABLE = "ResponseTooLargeError", "CreatedButUnreadableError"
STATUS, WAIT = "APIStatusError", "WaitTimeoutError"
NO_REFUSED_PUT = "the upload URL comes from the API, so a refused API stops before the PUT"


def _row(*cells: Cell | NotApplicable) -> dict[str, Cell | NotApplicable]:
    return dict(zip(KINDS, cells, strict=True))


def _same(raises: str | None, api: int, post: int, made: int, storage: int) -> dict[str, Any]:
    """A row where GET, PATCH and list agree, and so do create and duplicate."""
    get, posted = Cell(raises, api), Cell(raises, post, made)
    return _row(get, get, posted, posted, get, Cell(raises, storage), Cell(raises, storage))


def _hostile(api: str) -> dict[str, Cell | NotApplicable]:
    """A 2xx body the client cannot use (not applied): ``api`` for GET, PATCH and list."""
    get, posted = Cell(api, 1), Cell(UNREADABLE, 1, 0)
    return _row(get, get, posted, posted, get, Cell(WAIT, 1), Cell(RETURNS, 1))


# fmt: off
MATRIX: dict[str, dict[str, Cell | NotApplicable]] = {
    "5xx": _same(SERVER, 2, 1, 0, 2),
    "429 + Retry-After": _same(RATE, 2, 2, 0, 2),
    "429, no Retry-After": _same(RATE, 2, 2, 0, 2),
    "refused": {**_same(CONN, 2, 2, 0, 2), "upload": NO_REFUSED_PUT},
    "reset before apply": {**_same(CONN, 2, 1, 0, 4), "create": Cell(UNKNOWN, 1, 0),
                           "duplicate": Cell(UNKNOWN, 1, 0)},
    "reset after apply": {**_same(CONN, 2, 1, 1, 4), "create": Cell(UNKNOWN, 1, 1),
                          "duplicate": Cell(UNKNOWN, 1, 1)},
    "stall": {**_same(TIMEOUT, 2, 1, 1, 2), "create": Cell(UNKNOWN, 1, 1),
              "duplicate": Cell(UNKNOWN, 1, 1)},
    "trickle": {**_same(TIMEOUT, 1, 1, 1, 1), "create": Cell(UNKNOWN, 1, 1),
                "duplicate": Cell(UNKNOWN, 1, 1)},
    "oversized body": _hostile(LARGE),
    "compressed body": _hostile(LARGE),
    "deep JSON": _hostile(INVALID),
    "captive portal (200 HTML)": _hostile(INVALID),
    "empty": _hostile(INVALID),
    "truncated": {**_same(CONN, 2, 1, 1, 2), "create": Cell(UNKNOWN, 1, 1),
                  "duplicate": Cell(UNKNOWN, 1, 1)},
    "wrong shape": _hostile(INVALID),
    "applied, answer unusable": {**_hostile(INVALID), "create": Cell(UNREADABLE, 1, 1),
                                 "duplicate": Cell(UNREADABLE, 1, 1), "upload": Cell(RETURNS, 1)},
    "cross-host redirect": {**_same(STATUS, 1, 1, 0, 1), "download": Cell(RETURNS, 1)},
}
# fmt: on

#: What a reader needs to know about some rows.
NOTES = (
    "*reset before/after apply*: a storage transfer's attempts are doubled by aiohttp's own "
    "resend of a request whose pooled connection dropped (the policy allows 2)",
    "*trickle*: the call's deadline (`RetryPolicy.timeout`) or `transfer_deadline` ends "
    "it; the storage host's answer to a PUT is empty, so for an upload the body trickles "
    "instead, to a host that stops reading it (`stall_upload`)",
    "*captive portal*: a 200 HTML page (a Wi-Fi sign-in) read as an answer; a proxy's "
    "HTML error page (`html`, a 502) is a 5xx, as in the first row",
    "*oversized, compressed, deep JSON, captive portal, empty, wrong shape*: not applied; "
    "a create or duplicate reads a 2xx it cannot use as made (the bulk layer reconciles it); a "
    "download streams any body to disk (bounded by `transfer_deadline`, not by a memory "
    "cap); an upload answered 2xx but never stored then waits for processing (`timeout`)",
    "*applied, answer unusable*: the request took effect, then a 201 it cannot use came "
    "back (`status_after`): a create or duplicate made its batch (the bulk layer adopts it "
    "by reconciling when the answer names no id), an upload stored its file (the storage "
    "host's answer is not read)",
    "*cross-host redirect*: API calls and uploads follow no redirect (the token never "
    "leaves the host); a download follows it, without the token (storage requests never "
    "carry it): S3 redirects between regions",
)


def _cells() -> list[tuple[Fault, str]]:
    return [(fault, kind) for fault in FAULTS for kind in KINDS]


# -- producing a cell ---------------------------------------------------------------------


async def _trap(start: Callable[..., Awaitable[Any]]) -> tuple[str, list[dict[str, str]]]:
    """A second loopback host, where a redirect points: it records what reaches it."""
    seen: list[dict[str, str]] = []

    async def handle(request: web.BaseRequest) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(body=b"not the export")

    server = await start(handle)
    return str(server.make_url("")).rstrip("/"), seen


def _policy(fault: Fault) -> RetryPolicy:
    timeout = DEADLINE if fault.slow else 10.0
    return RetryPolicy(attempts=2, timeout=timeout, wait_initial=0.0, wait_jitter=0.0)


def _client_options(fault: Fault, counter: aiohttp.TraceConfig) -> dict[str, Any]:
    return {
        "retry": _policy(fault),
        "timeout": READ_TIMEOUT if fault.stall else 5.0,
        "max_response_bytes": CAP,
        "max_listing_bytes": CAP,
        "transfer_deadline": DEADLINE if fault.slow else 10.0,
        "trace_configs": [counter],
    }


def _connection_counter() -> tuple[aiohttp.TraceConfig, list[int]]:
    """Trace hooks counting the connections a client starts to make (refused ones too)."""
    started = [0]
    trace = aiohttp.TraceConfig()

    async def count(*_: object) -> None:
        started[0] += 1

    trace.on_connection_create_start.append(count)
    return trace, started


async def _call(client: ProlificClient, kind: str, ids: dict[str, Any], tmp: Path) -> None:
    batches = client.batches
    if kind == "GET":
        await batches.get(ids["batch"])
    elif kind == "PATCH":
        await batches.update(ids["batch"], name="renamed")
    elif kind == "create":
        await batches.create(name="made", workspace_id=WS, task_details=DETAILS)
    elif kind == "duplicate":
        await batches.duplicate(ids["batch"], name="copy")
    elif kind == "list":
        await batches.list(workspace_id=WS)
    elif kind == "upload":
        # A PUT answered 2xx but never stored is then waited for: DEADLINE bounds that.
        data = b"text\nhello\n"
        await client.datasets.upload(ids["dataset"], data, filename="rows.csv", timeout=DEADLINE)
    else:
        await batches.download_export(ids["export"], tmp / "export.zip")


async def _prepare(fake: FakeProlific, kind: str, tmp: Path) -> dict[str, Any]:
    """What the call needs before the fault is added: a batch, a dataset, an export."""
    ids: dict[str, Any] = {"batch": fake.add_batch(name="b", workspace_id=WS).id}
    async with fake.client() as client:
        if kind == "upload":
            ids["dataset"] = (await client.datasets.create(name="d", workspace_id=WS)).id
        elif kind == "download":
            batch = fake.add_batch(status="READY", workspace_id=WS)
            fake.add_response(batch.id)
            export = await client.batches.request_export(batch.id)
            ids["export"] = await client.batches.wait_for_export(batch.id, export)
    return ids


def _failure(error: BaseException | None) -> str | None:
    return None if error is None else type(error).__name__


async def produce(
    fault: Fault, kind: str, tmp: Path, start: Callable[..., Awaitable[Any]]
) -> tuple[Cell, list[dict[str, str]]]:
    """Run one cell: the call's outcome, and the requests that reached the redirect's trap."""
    counter, started = _connection_counter()
    error: ProlificError | None = None
    method, pattern = TARGETS[kind]
    if fault.kind is None:  # refused: nothing listens there
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            async with ProlificClient(
                "t", base_url=url, **_client_options(fault, counter)
            ) as client:
                ids = {"batch": "b1", "dataset": "d1", "export": f"{url}/_storage/exports/x.zip"}
                try:
                    await _call(client, kind, ids, tmp)
                except ProlificError as caught:
                    error = caught
        return Cell(_failure(error), started[0], 0 if kind in POSTS else None), []
    redirect = fault.kind == "redirect"
    trap_url, trapped = await _trap(start) if redirect else ("", [])
    async with FakeProlific(processing_delay=0.0, export_delay=0.0) as fake:
        ids = await _prepare(fake, kind, tmp)
        before = len(fake.batches)
        fault_kind, options = fault.instead.get(kind, (fault.kind, fault.options))
        options = dict(options)
        if redirect:
            options["headers"] = {"Location": trap_url + "/elsewhere"}
        fake.add_fault(method, pattern, fault_kind, times=None, **options)
        async with fake.client(**_client_options(fault, counter)) as client:
            try:
                await _call(client, kind, ids, tmp)
            except ProlificError as caught:
                error = caught
        log = fake.storage_requests if kind in ("upload", "download") else fake.requests
        attempts = sum(1 for r in log if r.method == method and fnmatchcase(r.path, pattern))
        made = len(fake.batches) - before if kind in POSTS else None
    return Cell(_failure(error), attempts, made), trapped


@pytest.mark.parametrize(("fault", "kind"), _cells(), ids=[f"{f.label}-{k}" for f, k in _cells()])
async def test_every_request_kind_under_every_fault(
    fault: Fault, kind: str, tmp_path: Path, start_server: Callable[..., Awaitable[Any]]
) -> None:
    """Each cell's error (or return), attempts and batches made are the table's."""
    expected = MATRIX[fault.label][kind]
    if isinstance(expected, str):
        pytest.skip(f"n/a: {expected}")
    with set_testing():
        cell, trapped = await produce(fault, kind, tmp_path, start_server)
    assert not [h for h in trapped if "Authorization" in h]  # the token never left the host
    assert cell == expected, (fault.label, kind, cell)


def test_the_matrix_covers_every_fault_and_kind() -> None:
    """Every fault has a row, every row a cell per request kind."""
    assert list(MATRIX) == [fault.label for fault in FAULTS]
    assert all(list(row) == list(KINDS) for row in MATRIX.values())


async def test_a_deadline_mid_body_releases_the_connection(tmp_path: Path) -> None:
    """A call cancelled by its deadline while its body arrives leaves no unclosed connection."""
    trickle = next(fault for fault in FAULTS if fault.kind == "trickle")
    with warnings.catch_warnings(record=True) as caught, set_testing():
        warnings.simplefilter("always")
        cell, _ = await produce(trickle, "GET", tmp_path, _no_trap)
        gc.collect()
    assert cell == Cell(TIMEOUT, 1)
    assert not [w for w in caught if "Unclosed connection" in str(w.message)]


async def _no_trap(handler: Any) -> Any:
    raise AssertionError("only a redirect starts a trap")


# -- tests/README.md ---------------------------------------------------------------------

BEGIN, END = "<!-- fault matrix: begin -->", "<!-- fault matrix: end -->"


def _render_cell(kind: str, cell: Cell | NotApplicable) -> str:
    if isinstance(cell, str):
        return f"n/a: {cell}"
    text = "returns" if cell.raises is None else cell.raises
    text += f" x{cell.attempts}"
    return text + (f", {cell.batches} made" if cell.batches is not None else "")


def render_matrix() -> str:
    """The matrix as markdown: a row per fault, a column per request kind, and notes."""
    lines = ["| fault | " + " | ".join(KINDS) + " |", "|" + "---|" * (len(KINDS) + 1)]
    for label, row in MATRIX.items():
        cells = [_render_cell(kind, row[kind]) for kind in KINDS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(f"- {note}." for note in NOTES)
    return "\n".join(lines)


def rendered_readme(text: str) -> str:
    """``text`` with the matrix between its markers replaced by the current one."""
    before, _, rest = text.partition(BEGIN)
    _, _, after = rest.partition(END)
    return f"{before}{BEGIN}\n{render_matrix()}\n{END}{after}"


def test_the_readme_matrix_is_up_to_date() -> None:
    """tests/README.md shows the matrix as the table above defines it."""
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text
    assert END in text
    assert text == rendered_readme(text), "run: python -m tests.test_fault_matrix"


if __name__ == "__main__":
    README.write_text(rendered_readme(README.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write(f"wrote {README}\n")
