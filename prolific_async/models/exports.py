"""Batch exports (a ZIP of every response and uploaded file) and the batch report link."""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import field, frozen

from ._base import Model
from ._text import usable_id_field

__all__ = [
    "BatchExport",
    "BatchReport",
    "ExportStatus",
]


class ExportStatus(enum.StrEnum):
    """Where an export job is: ``generating`` → ``complete`` (with a URL) or ``failed``.

    A status this library does not know yet is kept as a plain ``str``.
    """

    GENERATING = "generating"
    COMPLETE = "complete"
    FAILED = "failed"


@frozen(kw_only=True)
class BatchExport(Model):
    """An export job of a batch's responses, or its finished ZIP.

    The export endpoint answers ``202 {"status": "generating", "export_id"}`` for a new
    job; its older behaviour, ``200 {"status": "complete", "url", "expires_at"}`` with no
    ``export_id``, parses into this model too.
    """

    status: ExportStatus | str
    """An :class:`ExportStatus`, or the raw string for one this library does not know."""
    export_id: str | None = field(default=None, validator=usable_id_field)
    """The job's id; ``None`` in the older, immediately complete answer."""
    url: str | None = None
    """The presigned ZIP URL (when complete); it needs no Prolific token and expires."""
    expires_at: datetime | None = None
    """When ``url`` stops working."""
    created_at: datetime | None = None
    """When the job was requested (in listings)."""
    study_id: str | None = None
    """The study filter the job was requested with."""
    from_: str | None = None
    """The ``from`` filter the job was requested with (``from`` on the wire)."""
    to: str | None = None
    """The ``to`` filter the job was requested with."""

    @property
    def is_complete(self) -> bool:
        """Whether the ZIP is ready to download."""
        return self.status == ExportStatus.COMPLETE and self.url is not None


@frozen(kw_only=True)
class BatchReport(Model):
    """A presigned link to a batch's CSV report."""

    url: str
    """The report's URL; it needs no Prolific token and expires."""
    expires_at: datetime | None = None
    """When ``url`` stops working."""
    http_method: str = "GET"
    """The method to fetch ``url`` with."""
