"""What a batch shows in a listing, and so what reconciliation matches it by.

The match key of a request and the test of a listed batch against it; the layout is
compared by a digest with the server's own ids left out, and a name as a server may
have stored it (:attr:`MatchKey.name_forms`) makes a batch a look-alike, never a stranger.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from attrs import frozen

from ._converter import converter
from ._names import as_stored, stored_forms
from .models.batches import Batch, TaskDetails
from .models.bulk import BulkRequest, CreateBatchRequest
from .models.layout import Page

__all__ = ["MatchKey", "layout_digest"]


def layout_digest(pages: Sequence[Page] | None) -> str | None:
    """A digest of a layout with every ``id`` left out (``None`` for no layout).

    The server gives pages, rows, columns and items ids of its own, so a listed
    batch's layout equals the request's only once the ids are dropped.
    """
    if not pages:
        return None
    wire = converter.unstructure(list(pages), list[Page])
    canonical = json.dumps(_without_ids(wire), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_ids(item) for key, item in value.items() if key != "id"}
    if isinstance(value, list):
        return [_without_ids(item) for item in value]
    return value


@frozen(cache_hash=True)  # a run's groups are looked up by it: hashed once
class MatchKey:
    """What a batch shows in a listing, and so what reconciliation can match it by.

    A batch made for a request shows the request's key (:meth:`of_request`); a listed
    batch is compared with :meth:`matches`. Requests with equal keys are
    interchangeable: any batch matching the key satisfies any of them. The layout
    (``batch_items``, ids left out) is part of the key, so two creates that differ only
    in their layout are never given each other's batch; ``auto_sync_enabled`` is
    compared only when the request sets it (left out, the server's default shows).
    """

    workspace_id: str
    name: str
    task_details: TaskDetails
    dataset_ids: frozenset[str]
    layout: str | None = None
    """:func:`layout_digest` of the batch's layout."""
    auto_sync_enabled: bool | None = None
    """The flag the request set; ``None``: any."""

    @functools.cached_property
    def stored_name(self) -> str:
        """The name folded by :func:`~._names.as_stored` (what a rewritten name is compared with).

        Made when first asked: only a created answer that names another batch asks
        (folding costs every item of a run otherwise).
        """
        return as_stored(self.name)

    @functools.cached_property
    def name_forms(self) -> frozenset[str]:
        """The folded names a batch of this key may be listed under (:func:`~._names.stored_forms`).

        Made when first asked (a key whose request never needs reconciling never pays
        for it) and kept with the key, so a long name's many cuts live only as long as
        the run's groups do.
        """
        return stored_forms(self.name)

    @classmethod
    def of_request(cls, request: BulkRequest, source: Batch | None = None) -> MatchKey:
        """The key a batch made for ``request`` shows; a duplicate needs its ``source``.

        A copy is in its source's workspace with its task details and layout, named as
        asked or ``"<source name> (Copy)"``, and shares the source's datasets unless it
        was made with ``upload_new_dataset``.

        Raises:
            ValueError: a duplicate without its source.
        """
        if isinstance(request, CreateBatchRequest):
            dataset_ids = () if request.dataset_id is None else (request.dataset_id,)
            return cls(
                request.workspace_id,
                request.name,
                request.task_details,
                frozenset(dataset_ids),
                layout_digest(request.batch_items),
                request.auto_sync_enabled,
            )
        if source is None:
            raise ValueError("the match key of a duplicate needs its source batch")
        return cls(
            source.workspace_id,
            request.name if request.name is not None else f"{source.name} (Copy)",
            source.task_details,
            frozenset() if request.upload_new_dataset else _dataset_ids(source),
            layout_digest(source.batch_items),
        )

    def matches(self, batch: Batch) -> bool | None:
        """Whether a listed batch is one a request of this key made.

        ``True``: it shows this key. ``False``: it is another batch. ``None``: it looks
        alike (workspace, task details, datasets, and a name the same or as a server may
        have stored it: see :attr:`name_forms`) but its name, layout or sync flag
        differ: made by a request that differs only there, or changed by the server;
        reconciliation never resends while such a batch is unexplained.
        """
        if (
            batch.workspace_id != self.workspace_id
            or batch.task_details != self.task_details
            or _dataset_ids(batch) != self.dataset_ids
        ):
            return False
        if batch.name != self.name:
            return None if as_stored(batch.name) in self.name_forms else False
        if layout_digest(batch.batch_items) != self.layout:
            return None
        if self.auto_sync_enabled is not None and batch.auto_sync_enabled is not None:
            return None if batch.auto_sync_enabled != self.auto_sync_enabled else True
        return True


def _dataset_ids(batch: Batch) -> frozenset[str]:
    return frozenset(dataset.id for dataset in batch.datasets)
