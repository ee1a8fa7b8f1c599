"""A raw listing picks, for a key, the items that can match it: its name as sent or as stored."""

from __future__ import annotations

from typing import Any

import pytest

from prolific_async import CreateBatchRequest, ResponseValidationError
from prolific_async._listing import RawListing
from prolific_async._match_key import MatchKey

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


def test_one_listing_serves_several_keys() -> None:
    """The names are folded once; each key then gets its own items."""
    listing = RawListing(results=[item("a"), item("b"), item("a "), item("A")])
    assert names(listing, key("a")) == ["a", "a "]
    assert names(listing, key("b")) == ["b"]
    assert names(listing, key("c")) == []
