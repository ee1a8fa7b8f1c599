"""Batch exports: jobs that go ``generating`` → ``complete`` and a ZIP behind a presigned URL.

Each request snapshots the batch's responses (filtered by ``study_id`` and the
``from``/``to`` range of ``created_at``) into a ZIP and starts a job; ``export_delay``
later it is ``complete`` with a presigned URL. A request whose filter matches a job still
``generating`` gets that job back. A batch holds at most 10 jobs (deleted ones excluded):
one more answers 409. A ``generating`` job cannot be deleted (409).

With ``legacy_exports`` the emulator answers the older way: 200 ``complete`` with the URL
at once, no job, no cap.

The ZIP holds what the official CLI's ``batch export`` help lists (prolific-oss/cli @
4596a2fba604, ``cmd/aitaskbuilder/batch_export.go``): ``responses-by-submission.jsonl``,
``responses-by-task.jsonl``, ``batch.json`` ("batch metadata and instruction
definitions"), ``README.md`` ("usage guide with example code") and ``files/``. Neither
the CLI nor the spec shows the content of the last two; here ``batch.json`` is
``{"batch": <the batch as Get a Batch renders it>, "instructions": [<each instruction
item of its layout, in layout order>]}`` and ``README.md`` describes the files with a
Python example.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from attrs import define, field

from ._batches import BATCHES_PATH, BatchService
from ._errors import APIError
from ._layout import INSTRUCTION_TYPES
from ._stamps import Stamps, iso_z
from ._storage import Storage
from ._timeline import Timeline, WorkflowConfig
from ._workflow import WorkflowService

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

__all__ = ["MAX_EXPORTS_PER_BATCH", "ExportService", "StoredExport"]

#: The documented cap on a batch's export jobs (all filters together).
MAX_EXPORTS_PER_BATCH: Final = 10
BAD_DATETIME: Final = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
#: Every ZIP entry gets this timestamp, so the same responses give the same bytes.
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)


@define(kw_only=True)
class StoredExport:
    """One export job of a batch; set ``status`` to ``"failed"`` to stage a failure."""

    export_id: str
    """The job's id."""
    batch_id: str
    """The batch exported."""
    created_at: datetime
    """When it was requested."""
    status: str = "generating"
    """``generating``, ``complete`` or ``failed``."""
    study_id: str | None = None
    """The ``study_id`` filter, if any."""
    from_: str | None = None
    """The ``from`` filter as sent, if any."""
    to: str | None = None
    """The ``to`` filter as sent, if any."""
    url: str | None = None
    """The presigned ZIP URL, once complete."""
    expires_at: str | None = None
    """When ``url`` expires (a new one is issued by the next get after that)."""
    content: bytes = field(default=b"", repr=False)
    """The ZIP, snapshotted when the job was requested."""
    token: str | None = field(default=None, repr=False)
    """The storage token behind ``url``."""

    @property
    def filter(self) -> tuple[str | None, str | None, str | None]:
        """``(study_id, from, to)``: jobs with equal filters are the same request."""
        return self.study_id, self.from_, self.to


def _instant(value: str) -> datetime:
    """Parse an ISO-8601 date or datetime (naive means UTC)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _jsonl(items: list[dict[str, Any]]) -> bytes:
    """Encode items as JSON Lines."""
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


#: The usage guide every export ZIP carries, ``{batch_id}`` filled in.
README_TEMPLATE: Final = """\
# Export of batch {batch_id}

Written by the prolific_async emulator, shaped as a Prolific AI Task Builder export.

- `responses-by-submission.jsonl`: one JSON object per participant submission,
  with its `responses`.
- `responses-by-task.jsonl`: one JSON object per task, with every participant's
  `responses` to it (for inter-rater comparison).
- `batch.json`: the batch (`batch`) and its instruction definitions (`instructions`).
- `files/`: the files participants uploaded, by file key.

## Example

```python
import json

with open("responses-by-task.jsonl") as lines:
    for line in lines:
        task = json.loads(line)
        print(task["task_id"], len(task["responses"]))
```
"""


def _instructions(pages: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The instruction items of a stored layout, in layout order."""
    return [
        item
        for page in pages or []
        for row in page.get("rows", [])
        for column in row.get("columns", [])
        for item in column.get("items", [])
        if item.get("type") in INSTRUCTION_TYPES
    ]


def build_zip(batch: Mapping[str, Any], responses: list[dict[str, Any]]) -> bytes:
    """The export archive of a batch (as Get a Batch renders it) and its responses."""
    batch_id = str(batch["id"])
    by_submission: dict[str, dict[str, Any]] = {}
    by_task: dict[str, dict[str, Any]] = {}
    files: list[str] = []
    for response in responses:
        submission = by_submission.setdefault(
            str(response.get("submission_id")),
            {
                "submission_id": response.get("submission_id"),
                "participant_id": response.get("participant_id"),
                "batch_id": batch_id,
                "responses": [],
            },
        )
        submission["responses"].append(response)
        task = by_task.setdefault(
            str(response.get("task_id")),
            {"task_id": response.get("task_id"), "batch_id": batch_id, "responses": []},
        )
        task["responses"].append(response)
        inner = response.get("response")
        answers = inner.get("answer") if isinstance(inner, Mapping) else None
        files.extend(
            str(answer["file_key"])
            for answer in (answers if isinstance(answers, list) else [])
            if isinstance(answer, Mapping) and answer.get("file_key")
        )
    metadata = {"batch": batch, "instructions": _instructions(batch.get("batch_items"))}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = [
            ("responses-by-submission.jsonl", _jsonl(list(by_submission.values()))),
            ("responses-by-task.jsonl", _jsonl(list(by_task.values()))),
            ("batch.json", json.dumps(metadata, indent=2).encode() + b"\n"),
            ("README.md", README_TEMPLATE.format(batch_id=batch_id).encode()),
            ("files/", b""),
            *((f"files/{key}", b"") for key in dict.fromkeys(files)),
        ]
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_TIME), data)
    return buffer.getvalue()


class ExportService:
    """The export endpoints: request, list, get and delete jobs.

    Args:
        stamps: ids and creation times.
        batches: the batches exported.
        timeline: schedules the end of generation.
        storage: publishes the ZIPs.
        config: ``export_delay`` and ``legacy_exports``.
        workflow: holds the responses to export.
    """

    def __init__(
        self,
        *,
        stamps: Stamps,
        batches: BatchService,
        timeline: Timeline,
        storage: Storage,
        config: WorkflowConfig,
        workflow: WorkflowService,
    ) -> None:
        self.stamps = stamps
        self.batches = batches
        self.timeline = timeline
        self.storage = storage
        self.config = config
        self.workflow = workflow
        self.jobs: dict[str, list[StoredExport]] = {}
        """Each batch's export jobs, oldest first (deleted ones removed)."""

    def routes(self) -> list[tuple[str, str, Handler, str]]:
        """The export routes: ``(method, path, handler, stats name)``."""
        jobs = BATCHES_PATH + "/{batch_id}/export"
        return [
            ("POST", jobs, self.request_export, "request_export"),
            ("GET", jobs, self.list_exports, "list_exports"),
            ("GET", jobs + "/{export_id}", self.get_export, "get_export"),
            ("DELETE", jobs + "/{export_id}", self.delete_export, "delete_export"),
        ]

    # -- operations ------------------------------------------------------------------

    def _filters(self, query: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
        """Validate the ``study_id``/``from``/``to`` query; return it (empty means absent)."""
        study_id, start, end = (query.get(key) or None for key in ("study_id", "from", "to"))
        errors: dict[str, Any] = {}
        bounds: list[datetime] = []
        for key, value in (("from", start), ("to", end)):
            try:
                if value is not None:
                    bounds.append(_instant(value))
            except ValueError:
                errors[key] = [BAD_DATETIME]
        if not errors and len(bounds) == 2 and bounds[0] > bounds[1]:
            errors["non_field_errors"] = ["'from' must not be later than 'to'."]
        if errors:
            raise APIError(400, errors)
        return study_id, start, end

    def _snapshot(self, batch_id: str, filters: tuple[str | None, str | None, str | None]) -> bytes:
        """ZIP the batch and the responses the filter selects, as they are now."""
        study_id, start, end = filters
        earliest = _instant(start) if start else None
        latest = _instant(end) if end else None
        selected = []
        for response in self.workflow.responses.get(batch_id, []):
            if study_id is not None and response.get("study_id") != study_id:
                continue
            try:
                created: datetime | None = _instant(str(response.get("created_at")))
            except ValueError:
                created = None  # an unparsable time is never filtered out
            if created is not None and (
                (earliest is not None and created < earliest)
                or (latest is not None and created > latest)
            ):
                continue
            selected.append(response)
        return build_zip(self.batches.render(self.batches.get(batch_id), full=True), selected)

    def request(self, batch_id: str, query: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """Start (or find) an export job; return the status and body to answer."""
        batch = self.batches.get(batch_id)
        filters = self._filters(query)
        if self.config.legacy_exports:
            content = self._snapshot(batch.id, filters)
            url, expires_at, _ = self.storage.publish("exports", ".zip", content, "application/zip")
            return 200, {"status": "complete", "url": url, "expires_at": expires_at}
        jobs = self.jobs.setdefault(batch.id, [])
        for job in jobs:
            if job.status == "generating" and job.filter == filters:
                return 202, {"status": "generating", "export_id": job.export_id}
        if len(jobs) >= MAX_EXPORTS_PER_BATCH:
            raise APIError(
                409,
                f"A batch can have at most {MAX_EXPORTS_PER_BATCH} export jobs. "
                "Delete one to request another.",
            )
        study_id, start, end = filters
        job = StoredExport(
            export_id=self.stamps.new_id(),
            batch_id=batch.id,
            created_at=self.stamps.now(),
            study_id=study_id,
            from_=start,
            to=end,
            content=self._snapshot(batch.id, filters),
        )
        jobs.append(job)

        def finish() -> None:
            if job.status == "generating" and job in self.jobs.get(job.batch_id, []):
                job.status = "complete"
                self._publish(job)

        self.timeline.after(self.config.export_delay, finish)
        return 202, {"status": "generating", "export_id": job.export_id}

    def _publish(self, job: StoredExport) -> None:
        """Put a job's ZIP behind a new presigned URL."""
        job.url, job.expires_at, job.token = self.storage.publish(
            "exports", ".zip", job.content, "application/zip"
        )

    def get(self, batch_id: str, export_id: str) -> StoredExport:
        """Return a batch's export job, or raise a 404."""
        for job in self.jobs.get(self.batches.get(batch_id).id, []):
            if job.export_id == export_id:
                return job
        raise APIError(404, "Not found.")

    def delete(self, batch_id: str, export_id: str) -> None:
        """Delete a finished job and its ZIP; a ``generating`` one answers 409."""
        job = self.get(batch_id, export_id)
        if job.status == "generating":
            raise APIError(409, "The export is still generating; delete it once it has finished.")
        self.jobs[job.batch_id].remove(job)
        if job.token is not None:
            self.storage.revoke(job.token)

    def render(self, job: StoredExport, *, listing: bool) -> dict[str, Any]:
        """A job as get answers it, or (``listing``) as list does, with its filter.

        A complete job whose URL has expired gets a fresh one, as the API documents.
        """
        if job.status == "complete" and not (job.token and self.storage.is_live(job.token)):
            self._publish(job)
        if not listing:
            data: dict[str, Any] = {"status": job.status, "export_id": job.export_id}
            if job.status == "complete":
                data.update(url=job.url, expires_at=job.expires_at)
            return data
        return {
            "export_id": job.export_id,
            "status": job.status,
            "created_at": iso_z(job.created_at),
            "study_id": job.study_id,
            "from": job.from_,
            "to": job.to,
            "url": job.url,
            "expires_at": job.expires_at,
        }

    # -- handlers --------------------------------------------------------------------

    async def request_export(self, request: web.Request) -> web.Response:
        """``POST /batches/{id}/export``: 202 ``generating`` (legacy: 200 ``complete``)."""
        status, body = self.request(request.match_info["batch_id"], request.query)
        return web.json_response(body, status=status)

    async def list_exports(self, request: web.Request) -> web.Response:
        """``GET /batches/{id}/export``: 200 ``{"results": [...]}``, newest first."""
        batch = self.batches.get(request.match_info["batch_id"])
        jobs = reversed(self.jobs.get(batch.id, []))
        return web.json_response({"results": [self.render(job, listing=True) for job in jobs]})

    async def get_export(self, request: web.Request) -> web.Response:
        """``GET /batches/{id}/export/{export_id}``: 200 with the job's status."""
        job = self.get(request.match_info["batch_id"], request.match_info["export_id"])
        return web.json_response(self.render(job, listing=False))

    async def delete_export(self, request: web.Request) -> web.Response:
        """``DELETE /batches/{id}/export/{export_id}``: 204 with an empty body."""
        self.delete(request.match_info["batch_id"], request.match_info["export_id"])
        return web.Response(status=204)
