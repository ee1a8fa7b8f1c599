"""One listing of a workspace's batches, as the API answered it, and whether it is whole.

``batches.list`` returns the batches; reconciliation needs more: whether the answer
says it holds every batch. The list endpoint takes only ``workspace_id`` and documents
no paging, so an answer that says it is partial (``meta.count`` above its results, or
a ``next`` link) has no page to follow: reconciliation must not read it as "not made".
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from attrs import frozen

from ._paths import BATCHES_PATH
from .models.batches import Batch

if TYPE_CHECKING:
    from ._base_client import BaseClient

__all__ = ["BatchListing", "fetch_listing"]


@frozen(kw_only=True)
class BatchListing:
    """The List Batches envelope. ``results`` must be an array, even an empty one.

    Stricter than the spec (which marks it optional) on purpose: reconciliation lists
    the workspace, and an answer of another shape read as "no batches" would make a
    batch again. A missing or ``null`` ``results``, a bare array or another envelope is
    a :class:`ResponseValidationError`.
    """

    results: builtins.list[Batch]
    meta: dict[str, Any] | None = None
    next: str | None = None
    """A link to more results, if the server sent one (the endpoint documents none)."""

    @property
    def incomplete(self) -> str | None:
        """Why this answer does not hold the whole workspace, or ``None`` if it does."""
        meta = self.meta or {}
        count = meta.get("count")
        if isinstance(count, int) and not isinstance(count, bool) and count > len(self.results):
            return f"meta.count is {count} but it holds {len(self.results)} batches"
        link = self.next or meta.get("next")
        if link:
            return f"it links to more results ({link!r})"
        return None


async def fetch_listing(client: BaseClient, workspace_id: str) -> BatchListing:
    """``GET /batches?workspace_id=``: the listing with its ``meta``, as answered.

    Raises:
        ResponseValidationError: the answer has no ``results`` array.
    """
    params = {"workspace_id": workspace_id}
    return await client.get(
        BATCHES_PATH, cast_to=BatchListing, params=params, template=BATCHES_PATH
    )
