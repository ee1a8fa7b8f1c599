"""Bulk reconciliation checks what it is told; the send cap follows the retry policy."""

from __future__ import annotations

import asyncio
import contextlib
import html
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from attrs import evolve

from prolific_async import (
    APIConnectionError,
    Journal,
    OutcomeUnknownError,
    ProlificClient,
    ReconciliationError,
    RetryPolicy,
)
from prolific_async._converter import converter
from prolific_async._listing import BatchListing
from prolific_async.testing import FakeProlific

from .conftest import SCRIPTED_BATCH, TOKEN, StartServer, cut, server_url
from .test_bulk import (
    CREATE,
    DETAILS,
    FAST,
    WS,
    _no_retry_waits,
    assert_exactly_once,
    client,
    collect,
    creates,
    fake,
    posts,
    served_batch,
)

__all__ = ["_no_retry_waits", "client", "fake"]  # the fixtures, shared with the bulk tests

LISTINGS = "/api/v1/data-collection/batches"


def listings(fake: FakeProlific) -> int:
    return sum(1 for r in fake.requests if r.method == "GET" and r.path == LISTINGS)


# -- listings --------------------------------------------------------------------------


async def test_a_repeated_entry_is_one_candidate_not_two(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A listing that repeats the batch a dropped create made adopts it, once."""
    fake.add_fault("POST", CREATE, "drop_after")
    fake.add_fault("GET", LISTINGS, "repeat_listing", times=None)
    results = await collect(client.batches.create_many(creates(1)))
    assert_exactly_once(results, fake)
    assert results[0].reconciled
    assert posts(fake) == 1


async def test_a_repeated_entry_is_not_given_to_two_requests(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """Two alike requests, one made and one not, end with two batches despite a repeat."""
    fake.add_fault("POST", CREATE, "drop_after")
    fake.add_fault("POST", CREATE, "drop_before")
    fake.add_fault("GET", LISTINGS, "repeat_listing", times=None)
    results = await collect(client.batches.create_many(creates(2, name="same"), concurrency=2))
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 2


async def test_a_partial_listing_is_never_resent_on(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A listing that says it is partial is taken again, then the item asks for a human."""
    fake.add_fault("POST", CREATE, "drop_after")
    fake.add_fault("GET", LISTINGS, "incomplete_listing", times=None)
    results = await collect(client.batches.create_many(creates(1)))
    assert isinstance(results[0].error, ReconciliationError)
    assert "incomplete" in str(results[0].error)
    assert posts(fake) == 1
    assert len(fake.batches) == 1
    assert listings(fake) == 3


async def test_a_listing_whole_the_second_time_is_used(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """One partial listing is waited out: the next, whole one finds the batch."""
    fake.add_fault("POST", CREATE, "drop_after")
    fake.add_fault("GET", LISTINGS, "incomplete_listing")
    results = await collect(client.batches.create_many(creates(1)))
    assert_exactly_once(results, fake)
    assert results[0].reconciled
    assert posts(fake) == 1
    assert listings(fake) == 2


@pytest.mark.parametrize(
    ("meta", "link", "partial"),
    [
        ({"count": 0}, None, False),
        ({"count": 1}, None, True),
        (None, "https://api.example/batches?page=2", True),
        ({"count": 0, "next": "https://api.example/batches?page=2"}, None, True),
        ({"count": True}, None, True),
        ({"count": 1.0}, None, True),
        ({"count": "0"}, None, True),
        ({"count": None}, None, False),
        ({"next": None}, None, False),
        (None, None, False),
    ],
)
def test_a_listing_says_when_it_is_partial(
    meta: dict[str, object] | None, link: str | None, partial: bool
) -> None:
    """meta.count above the results, or not an integer, or a next link (top level or in meta)."""
    listing = BatchListing(results=[], meta=meta, next=link)
    assert (listing.incomplete is not None) is partial


@pytest.mark.parametrize("count", [1.0, "1", [1]])
async def test_a_listing_whose_count_is_no_integer_is_never_resent_on(
    start_server: StartServer, count: object
) -> None:
    """A create cut after the server made it, then listings with a meta.count of another type."""
    sent: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        if request.method == "POST":
            sent.append(request.path)
            return cut(request)  # made, its answer lost
        return web.json_response({"results": [], "meta": {"count": count}})

    server = await start_server(handler)
    async with ProlificClient(TOKEN, base_url=server_url(server), retry=FAST) as client:
        results = await collect(client.batches.create_many(creates(1), reconcile_delay=0))
    assert isinstance(results[0].error, ReconciliationError)
    assert "not a whole number of batches" in str(results[0].error)
    assert sent == [CREATE]


async def test_a_created_answer_with_a_claimed_id_is_reconciled(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """A 201 naming a batch the journal already holds is ambiguous: the real one is adopted."""
    path = tmp_path / "run.db"
    async with fake.client(retry=FAST) as client:
        first = await collect(client.batches.create_many(creates(1), journal=Journal(path)))
        fake.add_fault("POST", CREATE, "claimed_id")
        results = await collect(client.batches.create_many(creates(2), journal=Journal(path)))
    assert results[0].resumed
    assert results[0].batch == first[0].batch
    assert results[1].reconciled
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 2


@pytest.mark.parametrize("differs", ["name", "workspace"])
async def test_a_created_answer_naming_an_unrelated_batch_is_reconciled(
    client: ProlificClient, fake: FakeProlific, differs: str
) -> None:
    """A 201 naming an existing batch of another name or workspace is not adopted as made."""
    from prolific_async.models.batches import Batch

    other = {"name": "Unrelated", "workspace_id": WS} if differs == "name" else {}
    if differs == "workspace":
        other = {"name": creates(1)[0].name, "workspace_id": "a" * 24}
    unrelated = fake.add_batch(task_details=DETAILS, **other)
    unrelated.created_at -= timedelta(hours=1)  # made well before this run
    body = converter.unstructure(await client.batches.get(unrelated.id), Batch)
    fake.add_fault("POST", CREATE, "status_after", status=201, body=body)
    results = await collect(client.batches.create_many(creates(1)))
    made = results[0].batch
    assert made is not None, results[0].error
    assert made.id != unrelated.id
    assert results[0].reconciled
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 2


async def test_an_unreadable_created_answer_naming_a_claimed_id_is_reconciled(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """An unreadable 201 naming a batch the run holds is listed for, not read as the item's."""
    path = tmp_path / "run.db"
    async with fake.client(retry=FAST) as client:
        first = await collect(client.batches.create_many(creates(1), journal=Journal(path)))
        held = first[0].batch
        assert held is not None
        # Applied, then answered 201 with only another batch's id: unreadable, names it.
        fake.add_fault("POST", CREATE, "status_after", status=201, body={"id": held.id})
        results = await collect(client.batches.create_many(creates(2), journal=Journal(path)))
    assert results[1].reconciled
    assert results[1].batch is not None
    assert results[1].batch.id != held.id
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 2


@pytest.mark.parametrize("differs", ["name", "workspace"])
async def test_an_unreadable_created_answer_naming_an_unrelated_batch_is_reconciled(
    client: ProlificClient, fake: FakeProlific, differs: str
) -> None:
    """An unreadable 201 naming a batch of another name or workspace is not adopted once read."""
    other = {"name": "Unrelated", "workspace_id": WS}
    if differs == "workspace":
        other = {"name": creates(1)[0].name, "workspace_id": "a" * 24}
    unrelated = fake.add_batch(task_details=DETAILS, **other)
    unrelated.created_at -= timedelta(hours=1)  # made well before this run
    # Applied, then answered 201 with only the unrelated batch's id: read, then refused.
    fake.add_fault("POST", CREATE, "status_after", status=201, body={"id": unrelated.id})
    results = await collect(client.batches.create_many(creates(1)))
    made = results[0].batch
    assert made is not None, results[0].error
    assert made.id != unrelated.id
    assert made.name == creates(1)[0].name
    assert results[0].reconciled
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 2


@pytest.mark.parametrize("readable", [True, False], ids=["readable", "unreadable"])
async def test_a_new_batch_whose_name_the_server_rewrote_is_adopted_not_resent(
    client: ProlificClient, fake: FakeProlific, readable: bool
) -> None:
    """A 201 naming a batch just made under a trimmed name is this request's: one batch."""
    from prolific_async.models.batches import Batch

    # The server stores the name trimmed: the batch it made answers as "Trimmed".
    made = fake.add_batch(name="Trimmed", workspace_id=WS, task_details=DETAILS)
    body: dict[str, object] = {"id": made.id}
    if readable:
        body = converter.unstructure(await client.batches.get(made.id), Batch)
    fake.add_fault("POST", CREATE, "status", status=201, body=body)  # made, as staged
    results = await collect(client.batches.create_many([evolve(creates(1)[0], name="Trimmed ")]))
    assert results[0].batch is not None, results[0].error
    assert results[0].batch.id == made.id
    assert posts(fake) == 1
    assert len(fake.batches) == 1


async def test_an_unreadable_duplicate_answer_naming_its_source_is_reconciled(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """An unreadable 201 naming the duplicate's source is ambiguous: the real copy is adopted."""
    from prolific_async import DuplicateBatchRequest

    source = fake.add_batch(name="Source", workspace_id=WS, task_details=DETAILS)
    path = f"{CREATE}/{source.id}/duplicate"
    fake.add_fault("POST", path, "status_after", status=201, body={"id": source.id})
    results = await collect(client.batches.duplicate_many([DuplicateBatchRequest(source.id)]))
    copy = results[0].batch
    assert copy is not None
    assert copy.id != source.id
    assert results[0].reconciled
    assert set(fake.batches) == {source.id, copy.id}


# -- the send cap ------------------------------------------------------------------------

GENEROUS = RetryPolicy(attempts=10, timeout=10.0, wait_initial=0.001, wait_max=0.01)


async def test_the_send_cap_follows_the_retry_policy(fake: FakeProlific) -> None:
    """Five cut sends do not fail an item whose retry policy allows ten attempts."""
    fake.add_fault("POST", CREATE, "drop_before", times=5)
    async with fake.client(retry=GENEROUS) as client:
        results = await collect(client.batches.create_many(creates(1)))
    assert_exactly_once(results, fake)
    assert posts(fake) == 6


async def test_the_last_ambiguous_send_is_reconciled_before_giving_up(fake: FakeProlific) -> None:
    """An item cut before apply on every send is listed after the last: "not made", not unknown."""
    fake.add_fault("POST", CREATE, "drop_before", times=None)
    policy = RetryPolicy(attempts=3, timeout=10.0, wait_initial=0.001, wait_max=0.01)
    async with fake.client(retry=policy) as client:
        results = await collect(client.batches.create_many(creates(1)))
    error = results[0].error
    assert isinstance(error, APIConnectionError)
    assert not isinstance(error, OutcomeUnknownError)
    assert "nothing was made, unless the server stored its name changed" in str(error)
    assert posts(fake) == 3
    # Each send is listed twice: at once (to adopt), and after reconcile_delay (to resend).
    assert listings(fake) == 6
    assert not fake.batches


#: Long names, one beginning the other: 71 characters (no column's length), and 64.
LONG = "Image captioning study, English speakers, spring wave, annotation part"
CUT = LONG[:62]


@pytest.mark.parametrize(
    ("a", "b"),
    [("a", "b"), (LONG + " 10", LONG + " 1"), (CUT + " 10", CUT + " 1")],
    ids=["short", "long", "column-long"],
)
async def test_an_answer_naming_another_requests_new_batch_is_not_adopted(
    start_server: StartServer, a: str, b: str
) -> None:
    """A 201 naming the batch just made for another request in progress is that one's."""
    made: dict[str, dict[str, object]] = {}  # by name: the batches the server holds
    b_received, a_listed = asyncio.Event(), asyncio.Event()

    def store(name: str) -> dict[str, object]:
        made[name] = served_batch(name)
        return made[name]

    async def handler(request: web.Request) -> web.Response:
        if request.method == "GET":
            a_listed.set()
            return web.json_response({"results": list(made.values()), "meta": None})
        name = (await request.json())["name"]
        store(name)
        if name == a:  # misrouted: answered with the batch made for b
            await asyncio.wait_for(b_received.wait(), 5)
            return web.json_response(made[b], status=201)
        b_received.set()
        with contextlib.suppress(TimeoutError):  # answered once a has looked for its own
            await asyncio.wait_for(a_listed.wait(), 5)
        return web.json_response(made[b], status=201)

    server = await start_server(handler)
    requests = [evolve(creates(1)[0], name=name) for name in (a, b)]
    async with ProlificClient(TOKEN, base_url=server_url(server), retry=FAST) as client:
        run = client.batches.create_many(requests, concurrency=2, reconcile_delay=0.001)
        results = await asyncio.wait_for(collect(run), 20)
    assert [r.batch.id if r.batch else r.error for r in results] == [f"id-{a}", f"id-{b}"]
    assert results[0].reconciled
    assert len(made) == 2  # nothing sent again


async def test_answers_named_as_cut_to_a_column_are_each_requests_own(
    start_server: StartServer,
) -> None:
    """A server cutting names to 64: two requests sharing those 64 characters each keep theirs."""
    made: list[dict[str, object]] = []
    both = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if request.method == "GET":
            return web.json_response({"results": made, "meta": None})
        name = (await request.json())["name"]
        made.append({**served_batch(name[:64]), "id": f"id-{name}"})  # stored cut to 64
        mine = made[-1]
        if len(made) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 10)  # both in progress when either is answered
        return web.json_response(mine, status=201)

    server = await start_server(handler)
    names = [CUT + "ab part one", CUT + "ab part two"]
    requests = [evolve(creates(1)[0], name=name) for name in names]
    async with ProlificClient(TOKEN, base_url=server_url(server), retry=FAST) as client:
        run = client.batches.create_many(requests, concurrency=2, reconcile_delay=0.001)
        results = await asyncio.wait_for(collect(run), 20)
    assert [r.batch.id if r.batch else r.error for r in results] == [f"id-{n}" for n in names]
    assert len(made) == 2


async def test_an_unreadable_answer_naming_another_requests_new_batch_is_not_adopted(
    start_server: StartServer,
) -> None:
    """An unreadable 201 naming the id of another request's new batch is read, not adopted."""
    made: dict[str, dict[str, object]] = {}  # by id: the batches the server holds
    b_received, a_listed = asyncio.Event(), asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if request.method == "GET" and request.path == LISTINGS:
            a_listed.set()
            return web.json_response({"results": list(made.values()), "meta": None})
        if request.method == "GET":  # read by id
            return web.json_response(made[request.path.rsplit("/", 1)[-1]])
        name = (await request.json())["name"]
        made[f"id-{name}"] = served_batch(name)  # just made: not foreign by its age
        if name == "a":  # misrouted: answered with only the id of the batch made for "b"
            await asyncio.wait_for(b_received.wait(), 5)
            return web.json_response({"id": "id-b"}, status=201)
        b_received.set()
        with contextlib.suppress(TimeoutError):  # in progress until "a" has listed
            await asyncio.wait_for(a_listed.wait(), 5)
        return web.json_response(made["id-b"], status=201)

    server = await start_server(handler)
    requests = [evolve(creates(1)[0], name=name) for name in ("a", "b")]
    async with ProlificClient(TOKEN, base_url=server_url(server), retry=FAST) as client:
        run = client.batches.create_many(requests, concurrency=2, reconcile_delay=0.001)
        results = await asyncio.wait_for(collect(run), 20)
    assert [r.batch.id if r.batch else r.error for r in results] == ["id-a", "id-b"]
    assert results[0].reconciled
    assert len(made) == 2  # nothing sent again


@pytest.mark.parametrize(
    ("held", "rewritten"),
    [("x", "x "), ("Caf\u00e9", "Cafe\u0301"), ("Tom &amp; Jerry", "Tom & Jerry")],
    ids=["trimmed", "nfkc", "escaped"],
)
async def test_an_answer_naming_a_rewritten_name_of_its_own_is_adopted_beside_that_name(
    start_server: StartServer, held: str, rewritten: str
) -> None:
    """'x ' answered as 'x' while a request named 'x' is in progress: its own, adopted."""
    made: list[dict[str, object]] = []
    released = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if request.method == "GET":
            return web.json_response({"results": made, "meta": None})
        name = (await request.json())["name"]
        made.append(
            {
                **SCRIPTED_BATCH,
                "id": f"id-{len(made)}",
                # As the server stores it: NFKC, trimmed, a bare "&" escaped.
                "name": unicodedata.normalize("NFKC", name).strip().replace("& ", "&amp; "),
                "datasets": [],
                "workspace_id": WS,
                "task_details": converter.unstructure(DETAILS),
                "created_at": datetime.now(UTC).isoformat(),
            }
        )
        batch = made[-1]
        if name == held:  # in progress until the test has the other request's result
            await asyncio.wait_for(released.wait(), 10)
        return web.json_response(batch, status=201)

    server = await start_server(handler)
    requests = [evolve(creates(1)[0], name=name) for name in (held, rewritten)]
    async with ProlificClient(TOKEN, base_url=server_url(server), retry=FAST) as client:
        results = []
        async with asyncio.timeout(20):
            async for result in client.batches.create_many(requests, concurrency=2):
                results.append(result)
                released.set()
    assert sorted((r.index, r.batch.id if r.batch else r.error) for r in results) == [
        (0, "id-0"),
        (1, "id-1"),
    ]
    assert len(made) == 2  # nothing sent again


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("x ", "x"),
        ("Caf\u00e9", "Cafe\u0301"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("Long " + "n" * 120, "Long " + "n" * 95),
        (" Long " + "n" * 120, ("Long " + "n" * 120)[:64]),
        ("Long  " + "n" * 120, ("Long " + "n" * 120)[:64]),
        ('Rate "this" ' + "n" * 120, html.escape('Rate "this" ' + "n" * 120)[:64]),
        ("Children's " + "n" * 120, html.escape("Children's " + "n" * 120)[:64]),
        ("Rate \uff06 " + "n" * 120, html.escape("Rate & " + "n" * 120, quote=False)[:64]),
        (
            "\u00c9tude " + "\u00e9" * 60,
            ("\u00c9tude " + "\u00e9" * 60).encode()[:64].decode(errors="ignore"),
        ),
        ("\ufb01" * 70, "fi" * 32),
        ("  Long  " + "n" * 120, ("Long  " + "n" * 120)[:64]),
        ('Tom & "Jerry" ' + "n" * 120, html.escape('Tom & "Jerry" ' + "n" * 120, quote=False)[:64]),
    ],
    ids=[
        "trimmed",
        "nfkc",
        "escaped",
        "truncated",
        "trimmed-then-cut",
        "collapsed-then-cut",
        "quotes-escaped-then-cut",
        "apostrophe-escaped-then-cut",
        "nfkc-escaped-then-cut",
        "cut-in-utf8-bytes",
        "nfkc-widened-then-cut",
        "trimmed-not-collapsed-then-cut",
        "escaped-but-its-quotes-then-cut",
    ],
)
async def test_a_lost_create_whose_name_the_server_rewrote_is_never_sent_again(
    start_server: StartServer, sent: str, stored: str
) -> None:
    """A create cut after the server made it under a rewritten name: no resend, one batch."""
    made: list[dict[str, object]] = []

    async def handler(request: web.Request) -> web.Response:
        if request.method == "GET":
            return web.json_response({"results": made, "meta": {"count": len(made)}})
        made.append(
            {
                **SCRIPTED_BATCH,
                "id": f"id-{len(made)}",
                "name": stored,  # as the server stores what it was sent
                "datasets": [],
                "workspace_id": WS,
                "task_details": converter.unstructure(DETAILS),
                "created_at": datetime.now(UTC).isoformat(),
            }
        )
        return cut(request)  # made, its answer lost

    server = await start_server(handler)
    request = evolve(creates(1)[0], name=sent)
    async with ProlificClient(TOKEN, base_url=server_url(server), retry=FAST) as client:
        run = client.batches.create_many([request], reconcile_delay=0)
        results = await asyncio.wait_for(collect(run), 20)
    assert isinstance(results[0].error, ReconciliationError), results[0]
    assert results[0].error.candidates == ["id-0"]
    assert len(made) == 1  # never sent again


@pytest.mark.parametrize("name", ["&nbsp;", "&#32;"])
async def test_a_lost_create_named_what_folds_to_nothing_is_found_not_sent_again(
    client: ProlificClient, fake: FakeProlific, name: str
) -> None:
    """A name that folds to "" (an entity for a space), made and its answer lost: adopted once."""
    fake.add_fault("POST", CREATE, "drop_after")
    results = await collect(client.batches.create_many(creates(1, name=name)))
    assert results[0].reconciled, results[0]
    assert posts(fake) == 1
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 1
