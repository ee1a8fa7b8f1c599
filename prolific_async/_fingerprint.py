"""A bulk request's fingerprint: the digest a journal knows it by.

A journal records each item's fingerprint, so a re-run with another manifest is refused
instead of reporting another request's batch.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ._converter import converter
from .models.bulk import BulkRequest, CreateBatchRequest

__all__ = ["body_fingerprint", "fingerprint"]


def fingerprint(request: BulkRequest) -> str:
    """A stable digest of what a request asks for: its wire form, its ``key`` left out.

    A journal knows each request by it, to refuse a journal of another manifest. The
    digest is of the request's POST body (and a duplicate's source id), with the fields
    of the first journal format always present (a create's ``dataset_id`` and a
    duplicate's ``name``, ``null`` when not given), so every journal written since keeps
    matching its manifest. Fields added since, such as a create's ``batch_items`` and
    ``auto_sync_enabled``, enter only when set. Both also join the match key
    (``_match_key.MatchKey``: the layout without the ids the server gives it, the sync
    flag when the request sets it).
    """
    return body_fingerprint(request, converter.unstructure(request))


def body_fingerprint(request: BulkRequest, body: dict[str, Any]) -> str:
    """:func:`fingerprint` of ``request``, from the ``body`` the converter gives for it."""
    if isinstance(request, CreateBatchRequest):
        data = {"dataset_id": None, **body}
    else:
        data = {"batch_id": request.batch_id, "name": None, **body}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
