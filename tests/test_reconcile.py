"""The reconciler's decision table and the match key, without a server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from prolific_async import (
    Batch,
    BatchStatus,
    CreateBatchRequest,
    DuplicateBatchRequest,
    ProlificError,
    ReconciliationError,
    TaskDetails,
)
from prolific_async._reconcile import Adopt, MatchKey, Reconciler, Resend
from prolific_async.models import Column, FreeTextItem, Page, Row
from prolific_async.models.batches import BatchDataset

WS = "ws-1"
DETAILS = TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MARGIN = timedelta(seconds=10)
KEY = MatchKey.of_request(CreateBatchRequest("same", WS, DETAILS))


@attrs.define(eq=False)
class Member:
    index: int
    started_at: datetime | None = T0
    last_sent_at: datetime | None = T0


def batch(
    batch_id: str,
    *,
    created_at: datetime = T0,
    name: str = "same",
    workspace_id: str = WS,
    dataset_ids: tuple[str, ...] = (),
) -> Batch:
    return Batch(
        id=batch_id,
        created_at=created_at,
        created_by="user",
        datasets=[BatchDataset(id=d, total_datapoint_count=1) for d in dataset_ids],
        name=name,
        status=BatchStatus.UNINITIALISED,
        total_task_count=0,
        total_instruction_count=0,
        workspace_id=workspace_id,
        task_details=DETAILS,
    )


async def no_listing(workspace_id: str) -> list[Batch]:
    raise AssertionError("decide() must not list")


def reconciler() -> Reconciler:
    return Reconciler(no_listing, margin=MARGIN, delay=timedelta(0))


def adopted(decisions: dict[int, object]) -> dict[int, str]:
    return {i: d.batch.id for i, d in decisions.items() if isinstance(d, Adopt)}


def resent(decisions: dict[int, object]) -> list[int]:
    return sorted(i for i, d in decisions.items() if isinstance(d, Resend))


# -- the decision table: k ambiguous members, m candidates -------------------------------


def test_no_candidate_resends_every_member() -> None:
    """M = 0: nothing was made, every member is sent again."""
    decisions = reconciler().decide(KEY, [Member(0), Member(1)], [])
    assert resent(decisions) == [0, 1]


def test_fewer_candidates_than_members_adopt_then_resend() -> None:
    """M < k: the lowest indexes adopt (oldest batch first), the rest are sent again."""
    listing = [batch("late", created_at=T0 + timedelta(seconds=2)), batch("early")]
    run = reconciler()
    decisions = run.decide(KEY, [Member(7), Member(2), Member(5)], listing)
    assert adopted(decisions) == {2: "early", 5: "late"}
    assert resent(decisions) == [7]
    assert run.claimed == {"early", "late"}


def test_as_many_candidates_as_members_all_adopt() -> None:
    """M = k: each member adopts one batch, and each batch is claimed once."""
    run = reconciler()
    decisions = run.decide(KEY, [Member(0), Member(1)], [batch("a"), batch("b")])
    assert sorted(adopted(decisions).values()) == ["a", "b"]
    assert run.claimed == {"a", "b"}


def test_a_member_not_yet_due_adopts_but_is_never_resent() -> None:
    """Only members whose delay has passed may be sent again; a due one adopts first."""
    decisions = reconciler().decide(KEY, [Member(0), Member(1)], [batch("a")], due={1})
    assert adopted(decisions) == {1: "a"}
    assert 0 not in decisions  # undecided: it waits for a later listing
    assert reconciler().decide(KEY, [Member(0)], [], due=set()) == {}


def test_more_candidates_than_members_fail_for_a_human() -> None:
    """M > k: every member fails naming the candidates; nothing is adopted or claimed."""
    run = reconciler()
    decisions = run.decide(KEY, [Member(0)], [batch("a"), batch("b")])
    error = decisions[0]
    assert isinstance(error, ReconciliationError)
    assert error.candidates == ["a", "b"]
    assert "by hand" in str(error)
    assert run.claimed == set()


def test_claimed_batches_are_never_candidates() -> None:
    """A batch this run already saw (a 201, an adoption, the journal, a source) is skipped."""
    run = reconciler()
    run.claimed.add("mine")
    decisions = run.decide(KEY, [Member(0)], [batch("mine"), batch("other")])
    assert adopted(decisions) == {0: "other"}
    again = run.decide(KEY, [Member(1)], [batch("mine"), batch("other")])
    assert resent(again) == [1]


@pytest.mark.parametrize(
    ("created_at", "candidate"),
    [
        (T0 - MARGIN - timedelta(microseconds=1), False),
        (T0 - MARGIN, True),
        (T0 + timedelta(hours=1), True),
    ],
    ids=["before-the-window", "at-its-start", "after"],
)
def test_the_window_opens_at_the_earliest_first_send_minus_the_margin(
    created_at: datetime, candidate: bool
) -> None:
    """A look-alike made before any member was first sent (beyond the margin) is not theirs."""
    members = [Member(0, started_at=T0 + timedelta(seconds=5)), Member(1, started_at=T0)]
    listing = [batch("old", created_at=created_at)]
    decisions = reconciler().decide(KEY, members, listing)
    assert ("old" in adopted(decisions).values()) is candidate


def test_batches_that_do_not_match_the_key_are_ignored() -> None:
    """Another name, workspace or dataset makes another batch, not a candidate."""
    listing = [
        batch("other-name", name="different"),
        batch("other-ws", workspace_id="ws-2"),
        batch("with-data", dataset_ids=("ds-1",)),
    ]
    decisions = reconciler().decide(KEY, [Member(0)], listing)
    assert resent(decisions) == [0]


async def test_a_failed_listing_fails_the_members_it_was_for() -> None:
    """A listing that fails gives its error to every member waiting for it."""

    async def failing(workspace_id: str) -> list[Batch]:
        raise ProlificError("listing failed")

    run = Reconciler(failing, margin=MARGIN, delay=timedelta(0))
    async with run.group(KEY) as group:
        decision = await run.reconcile(Member(0), group)
    assert isinstance(decision, ProlificError)
    assert "listing failed" in str(decision)


async def test_members_of_a_workspace_share_one_listing() -> None:
    """Ambiguous members of two groups in one workspace cost one listing, not one each."""
    calls: list[str] = []

    async def listing(workspace_id: str) -> list[Batch]:
        calls.append(workspace_id)
        await asyncio.sleep(0)
        return [batch("a"), batch("b", name="other")]

    run = Reconciler(listing, margin=MARGIN, delay=timedelta(0))
    other = MatchKey.of_request(CreateBatchRequest("other", WS, DETAILS))

    async def one(key: MatchKey, index: int) -> object:
        async with run.group(key) as group:
            return await run.reconcile(Member(index), group)

    first, second = await asyncio.gather(one(KEY, 0), one(other, 1))
    assert isinstance(first, Adopt)
    assert first.batch.id == "a"
    assert isinstance(second, Adopt)
    assert second.batch.id == "b"
    assert calls == [WS]


# -- the match key: what a batch shows in a listing --------------------------------------


def test_a_create_matches_the_batch_it_makes() -> None:
    """A create's key matches the batch made for it, dataset included."""
    key = MatchKey.of_request(CreateBatchRequest("n", WS, DETAILS, "ds-1"))
    assert key.matches(batch("x", name="n", dataset_ids=("ds-1",))) is True
    assert key.matches(batch("x", name="n")) is False


def test_a_duplicate_matches_a_copy_of_its_source() -> None:
    """A copy: the source's workspace, details and datasets, named as asked or "(Copy)"."""
    source = batch("src", name="Source", dataset_ids=("ds-1",))
    default = MatchKey.of_request(DuplicateBatchRequest("src"), source)
    assert default.matches(batch("c", name="Source (Copy)", dataset_ids=("ds-1",))) is True
    named = MatchKey.of_request(DuplicateBatchRequest("src", "Mine"), source)
    assert named.name == "Mine"
    fresh = MatchKey.of_request(DuplicateBatchRequest("src", upload_new_dataset=True), source)
    assert fresh.dataset_ids == frozenset()


LAYOUT_A = [Page(rows=[Row(columns=[Column(items=[FreeTextItem(description="A?")])])])]
LAYOUT_B = [Page(rows=[Row(columns=[Column(items=[FreeTextItem(description="B?")])])])]


def with_layout(batch_id: str, pages: list[Page], *, ids: bool = True) -> Batch:
    """A listed batch showing ``pages``, with ids the server would have assigned."""
    if ids:
        pages = [attrs.evolve(page, id=f"{batch_id}-page") for page in pages]
    return attrs.evolve(batch(batch_id), batch_items=pages)


def test_the_layout_is_part_of_the_key_without_its_server_ids() -> None:
    """A batch matches a create's layout whatever ids the server gave it, and no other."""
    key = MatchKey.of_request(CreateBatchRequest("same", WS, DETAILS, batch_items=LAYOUT_A))
    assert key.matches(with_layout("a", LAYOUT_A)) is True
    assert key.matches(with_layout("b", LAYOUT_B)) is None  # alike, but another layout
    assert (
        MatchKey.of_request(CreateBatchRequest("same", WS, DETAILS)).matches(
            with_layout("a", LAYOUT_A)
        )
        is None
    )


def test_auto_sync_is_compared_only_when_the_request_sets_it() -> None:
    """A create that leaves auto_sync_enabled out accepts the server's default."""
    listed = attrs.evolve(batch("a"), auto_sync_enabled=True)
    assert MatchKey.of_request(CreateBatchRequest("same", WS, DETAILS)).matches(listed) is True
    on = MatchKey.of_request(CreateBatchRequest("same", WS, DETAILS, auto_sync_enabled=True))
    off = MatchKey.of_request(CreateBatchRequest("same", WS, DETAILS, auto_sync_enabled=False))
    assert on.matches(listed) is True
    assert off.matches(listed) is None


def test_a_lookalike_with_another_layout_is_never_adopted_nor_resent_over() -> None:
    """A request whose batch is not listed, beside a look-alike of another layout, asks a human."""
    key = MatchKey.of_request(CreateBatchRequest("same", WS, DETAILS, batch_items=LAYOUT_A))
    decisions = reconciler().decide(key, [Member(0)], [with_layout("b", LAYOUT_B)])
    assert adopted(decisions) == {}
    assert isinstance(decisions[0], ReconciliationError)
    assert decisions[0].candidates == ["b"]


@pytest.mark.parametrize(
    ("listed", "verdict"),
    [
        ("same", True),
        ("  same ", None),  # trimmed by the server
        ("Same", False),  # another case: another name
        ("s\uff41me", None),  # NFKC: a fullwidth letter
        ("same &amp; more", False),  # escaped, but of another name
        ("sam", False),  # a short name that begins it is a name of its own
        ("different", False),
    ],
)
def test_a_name_as_a_server_may_store_it_is_a_lookalike(listed: str, verdict: bool | None) -> None:
    """A listed name that folds to the key's is a look-alike; a short prefix is another name."""
    assert KEY.matches(batch("b", name=listed)) is verdict


def test_an_escaped_or_cut_short_name_is_a_lookalike_of_a_long_one() -> None:
    """Escaped, cut to a column's length before or after: look-alikes; a mere prefix is not."""
    long_name = "Rate & review " + "x" * 120
    key = MatchKey.of_request(CreateBatchRequest(long_name, WS, DETAILS))
    assert key.matches(batch("b", name=long_name.replace("&", "&amp;"))) is None
    assert key.matches(batch("b", name=long_name[:64])) is None
    assert key.matches(batch("b", name=long_name[:100])) is None
    assert key.matches(batch("b", name=long_name[:63])) is False  # a name of its own
    assert key.matches(batch("b", name=long_name[:72])) is False
    assert key.matches(batch("b", name=long_name[:64], workspace_id="ws-2")) is False
    cut_then_escaped = long_name[:64].replace("&", "&amp;")  # cut, then escaped on output
    assert key.matches(batch("b", name=cut_then_escaped)) is None
    assert key.matches(batch("b", name=long_name.replace("&", "&amp;")[:64])) is None
    assert key.matches(batch("b", name=long_name[:64] + " ")) is None  # cut, then padded
    assert key.matches(batch("b", name="R" + " " * 63)) is False


def test_a_lookalike_by_name_is_never_adopted_nor_resent_over() -> None:
    """A request whose batch is not listed, beside one of its name as stored, asks a human."""
    decisions = reconciler().decide(KEY, [Member(0)], [batch("b", name="same ")])
    assert adopted(decisions) == {}
    assert isinstance(decisions[0], ReconciliationError)
    assert decisions[0].candidates == ["b"]
    assert "as the server stored it" in str(decisions[0])


def test_a_duplicate_key_needs_its_source() -> None:
    """Without the source batch a copy's key cannot be known."""
    with pytest.raises(ValueError, match="source"):
        MatchKey.of_request(DuplicateBatchRequest("src"))


async def test_members_that_join_during_the_wait_are_counted() -> None:
    """A resumed peer joining while the leader waits shares the listing, not an error."""
    listed = asyncio.Event()

    now = datetime.now(UTC)

    async def listing(workspace_id: str) -> list[Batch]:
        listed.set()
        return [batch("a", created_at=now), batch("b", created_at=now)]

    run = Reconciler(listing, margin=MARGIN, delay=timedelta(seconds=0.05))
    first, second = Member(0, started_at=now, last_sent_at=now), Member(1, now, now)

    async def one(member: Member) -> object:
        async with run.group(KEY) as group:
            return await run.reconcile(member, group)

    leader = asyncio.create_task(one(first))
    await asyncio.sleep(0)  # the leader is now waiting out the delay
    assert not listed.is_set()
    decisions = await asyncio.gather(leader, one(second))
    assert all(isinstance(decision, Adopt) for decision in decisions)
    assert {d.batch.id for d in decisions if isinstance(d, Adopt)} == {"a", "b"}


@attrs.define(eq=False)
class _Member:
    index: int
    started_at: datetime | None = None
    last_sent_at: datetime | None = None


async def test_a_group_whose_sends_all_answer_never_makes_its_doubt() -> None:
    """POSTs that end without doubt leave the group quiet and its Doubt unmade (no cost)."""
    run = reconciler()
    group = run.join(MatchKey("w1", "n", DETAILS, frozenset()))
    for index in range(3):
        assert group.quiet
        await run.send_begins(group)
        run.send_ends(_Member(index), group, ambiguous=False)
    assert group.doubt is None
    assert group.in_flight == 0


async def test_an_ambiguous_send_makes_the_doubt_and_holds_new_sends() -> None:
    """A send of unknown outcome makes the group's Doubt: it wants a listing, not quiet."""
    run = reconciler()
    group = run.join(MatchKey("w1", "n", DETAILS, frozenset()))
    await run.send_begins(group)
    member = _Member(0, started_at=datetime.now(UTC))
    run.send_ends(member, group, ambiguous=True)
    assert group.doubt is not None
    assert group.in_doubt().wanting == [member]
    assert not group.quiet


async def test_a_send_waits_while_its_group_is_listed_and_goes_once_the_listing_ends() -> None:
    """A POST of a group being reconciled waits (not quiet), and is woken when it is decided."""
    listing_began = asyncio.Event()
    release = asyncio.Event()

    async def held_listing(workspace_id: str) -> list[Batch]:
        listing_began.set()
        await release.wait()
        return []

    run = Reconciler(held_listing, margin=MARGIN, delay=timedelta(0))
    group = run.join(MatchKey("w1", "n", DETAILS, frozenset()))
    assert run.begin_now(group)
    now = datetime.now(UTC) - timedelta(seconds=1)
    member = _Member(0, started_at=now, last_sent_at=now)
    run.send_ends(member, group, ambiguous=True)
    deciding = asyncio.create_task(run.reconcile(member, group))
    await asyncio.wait_for(listing_began.wait(), timeout=5)
    assert not run.begin_now(group)  # not quiet: the fast path refuses
    sender = asyncio.create_task(run.send_begins(group))
    for _ in range(3):
        await asyncio.sleep(0)
    assert not sender.done()  # held while the group is listed
    release.set()
    assert isinstance(await asyncio.wait_for(deciding, timeout=5), Resend)
    await asyncio.wait_for(sender, timeout=5)
    assert group.in_flight == 1
    assert group.quiet


async def test_a_listing_waits_for_a_fast_path_send_in_flight_and_is_woken_by_its_end() -> None:
    """A POST begun on the fast path holds the group's listing until it ends, then wakes it."""
    listed = asyncio.Event()

    async def listing(workspace_id: str) -> list[Batch]:
        listed.set()
        return []

    run = Reconciler(listing, margin=MARGIN, delay=timedelta(0))
    group = run.join(MatchKey("w1", "n", DETAILS, frozenset()))
    now = datetime.now(UTC) - timedelta(seconds=1)
    first, second = _Member(0, now, now), _Member(1, now, now)
    assert run.begin_now(group)  # two POSTs out, both on the fast path
    assert run.begin_now(group)
    run.send_ends(first, group, ambiguous=True)
    deciding = asyncio.create_task(run.reconcile(first, group))
    for _ in range(3):
        await asyncio.sleep(0)
    assert not listed.is_set()  # the second POST is still in flight: no listing yet
    run.send_ends(second, group, ambiguous=False)
    assert isinstance(await asyncio.wait_for(deciding, timeout=5), Resend)
    assert listed.is_set()
