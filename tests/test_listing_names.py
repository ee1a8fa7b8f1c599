"""A raw listing picks, for a key, the items that can match it: its name as sent or as stored."""

from __future__ import annotations

from typing import Any

import pytest

from prolific_async import CreateBatchRequest, ResponseValidationError, _listing
from prolific_async._listing import RawListing
from prolific_async._match_key import MatchKey
from prolific_async._names import as_stored

from .test_bulk import DETAILS, WS, served_batch

LONG = "Survey of reading habits " + "y" * 100


def key(name: str, workspace: str = WS) -> MatchKey:
    return MatchKey.of_request(CreateBatchRequest(name, workspace, DETAILS))


def item(name: Any, workspace: Any = WS) -> dict[str, Any]:
    return {
        **served_batch("x"),
        "id": f"id-{len(str(name))}-{name!s:.8}",
        "name": name,
        "workspace_id": workspace,
    }


def names(listing: RawListing, match_key: MatchKey) -> list[str]:
    return [batch.name for batch in listing.matching(match_key)]


def test_items_named_as_sent_or_as_stored_are_picked_in_their_order() -> None:
    """Its name, folded alike, or cut to a column's length: picked, in the listing's order."""
    listing = RawListing(
        results=[
            item("other"),
            item(" same"),
            item("Same"),
            item("same"),
            item(LONG[:100]),
            item(LONG[:99]),
        ]
    )
    assert names(listing, key("same")) == [" same", "same"]
    assert names(listing, key(LONG)) == [LONG[:100]]


def test_items_of_another_workspace_or_without_a_text_name_are_left_out() -> None:
    """A name or workspace that is not a string, or another workspace: never picked."""
    listing = RawListing(
        results=[item("same", "ws-2"), item(None), item(5), item(["same"]), item("same", ["w"])]
    )
    assert names(listing, key("same")) == []


def test_an_item_that_is_not_an_object_is_refused_for_every_key() -> None:
    """A listed item that is not a JSON object fails the structuring, whatever the key."""
    listing = RawListing(results=[item("same"), "not an object"])
    for match_key in (key("same"), key("other")):
        with pytest.raises(ResponseValidationError):
            listing.matching(match_key)


def test_one_listing_serves_several_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The names are folded once, not once a key; each key then gets its own items."""
    folds: list[str] = []

    def counted(name: str) -> str:
        folds.append(name)
        return as_stored(name)

    monkeypatch.setattr(_listing, "as_stored", counted)
    listing = RawListing(results=[item("a"), item("b"), item("a "), item("A")])
    assert names(listing, key("a")) == ["a", "a "]
    assert names(listing, key("b")) == ["b"]
    assert names(listing, key("c")) == []
    assert sorted(folds) == ["A", "a", "a ", "b"]


def test_a_cut_of_nothing_but_spaces_names_no_listed_batch() -> None:
    """A name whose first 64 characters are spaces: a batch listed blank is not its cut."""
    listing = RawListing(results=[item(""), item(" " * 64), item("x" * 60)])
    assert names(listing, key(" " * 64 + "x" * 60)) == ["x" * 60]


def test_a_name_that_folds_to_nothing_still_picks_itself() -> None:
    """A name that is an entity for a space ("&nbsp;") is picked when listed as sent."""
    listing = RawListing(results=[item("&nbsp;"), item("other")])
    assert names(listing, key("&nbsp;")) == ["&nbsp;"]


@pytest.mark.parametrize(
    ("sent", "listed"),
    [
        ("Rate & review " + "x" * 120, "R" + " " * 63),
        ("Rate & review " + "x" * 120, ("Rate & review " + "x" * 120)[:63]),
        ("Batch 10", "Batch 1"),
    ],
    ids=["first-letter-padded", "cut-one-short", "a-prefix"],
)
def test_a_name_that_only_begins_the_sent_one_is_not_picked(sent: str, listed: str) -> None:
    """A listed name that is the sent one cut at no column's length is another batch's."""
    assert names(RawListing(results=[item(listed)]), key(sent)) == []
