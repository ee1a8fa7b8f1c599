"""Path templates: ``expand`` puts each id, checked and quoted, into its field."""

from __future__ import annotations

import pytest

from prolific_async._resource import UnusableIdError, expand


@pytest.mark.parametrize(
    ("template", "ids", "path"),
    [
        ("/batches/{batch_id}", {"batch_id": "abc"}, "/batches/abc"),
        ("/batches/{batch_id}/duplicate", {"batch_id": "a/b"}, "/batches/a%2Fb/duplicate"),
        ("/b/{batch_id}/s/{sync_id}", {"batch_id": "1", "sync_id": "x y"}, "/b/1/s/x%20y"),
        ("/batches", {}, "/batches"),
    ],
)
def test_ids_fill_their_fields_quoted(template: str, ids: dict[str, str], path: str) -> None:
    """Each id lands in its own field, quoted, before and after the template is first seen."""
    assert expand(template, ids) == path
    assert expand(template, ids) == path  # the second time from the kept split


def test_an_id_named_unlike_the_field_is_a_key_error() -> None:
    """A one-id template given another id's name fails as format_map does (KeyError)."""
    with pytest.raises(KeyError, match="batch_id"):
        expand("/batches/{batch_id}", {"dataset_id": "abc"})


def test_a_dot_id_is_refused_in_a_one_field_template() -> None:
    """'..' is refused on the one-id path as on any other."""
    with pytest.raises(UnusableIdError, match="batch_id"):
        expand("/batches/{batch_id}/duplicate", {"batch_id": ".."})
