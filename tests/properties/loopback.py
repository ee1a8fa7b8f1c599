"""A tiny loopback API for the property tests, and the emulator's answers to serve from it.

:class:`Loopback` owns an event loop, an aiohttp server on 127.0.0.1 that answers every
request with whatever body the test set, recording each request it saw, and a client
bound to it (one attempt, no retry waits). Hypothesis runs many examples per test; they
share the loop, the server and the client (``loopback.run(coroutine)``).

:func:`emulator_answers` runs every public call once against a :class:`FakeProlific`
and returns the JSON each one was answered with: the valid payloads the tests mutate.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import RawTestServer
from attrs import define, field

from prolific_async import ProlificClient, RetryPolicy, TaskDetails
from prolific_async._converter import converter
from prolific_async.models import DatasetSchema, Page, SchemaField
from prolific_async.testing import FakeProlific

from ..conftest import FIXTURES

T = TypeVar("T")
TOKEN = "property-token-0123456789"
ONE_ATTEMPT = RetryPolicy(attempts=1, timeout=10.0)
DETAILS = TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")


@define
class Seen:
    """One request the loopback server received."""

    method: str
    path: str
    """The raw path as sent, percent-escapes kept."""
    query: dict[str, str]
    content_type: str
    body: bytes


@define(repr=False)
class Loopback:
    """A loopback server answering ``status`` and ``body``, and a client bound to it."""

    loop: asyncio.AbstractEventLoop
    server: RawTestServer | None = None
    client: ProlificClient | None = None
    status: int = 200
    body: bytes = b"{}"
    seen: list[Seen] = field(factory=list)
    answers: dict[str, tuple[int, Any]] = field(factory=dict)
    """The emulator's answers (:func:`emulator_answers`), captured at start."""

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        raw = await request.read()
        self.seen.append(
            Seen(
                method=request.method,
                path=request.raw_path.partition("?")[0],
                query=dict(request.query),
                content_type=request.headers.get("Content-Type", ""),
                body=raw,
            )
        )
        return web.Response(
            status=self.status, body=self.body, headers={"Content-Type": "application/json"}
        )

    async def _start(self) -> None:
        self.server = RawTestServer(self._handle)
        await self.server.start_server()
        url = str(self.server.make_url("")).rstrip("/")
        self.client = ProlificClient(TOKEN, base_url=url, retry=ONE_ATTEMPT)

    async def _stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self.server is not None:
            await self.server.close()

    def answer(self, body: bytes | str, status: int = 200) -> None:
        """Answer every request from now on with ``body`` and ``status``."""
        self.body = body.encode() if isinstance(body, str) else body
        self.status = status

    def run(self, call: Callable[[ProlificClient], Awaitable[T]]) -> T:
        """Run ``call(client)`` on the loop, with ``seen`` cleared first."""
        assert self.client is not None
        self.seen.clear()
        client = self.client

        async def go() -> T:
            return await call(client)

        return self.loop.run_until_complete(go())

    def run_coroutine(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    @classmethod
    def start(cls) -> Loopback:
        loopback = cls(asyncio.new_event_loop())
        loopback.loop.run_until_complete(loopback._start())
        loopback.answers = loopback.loop.run_until_complete(emulator_answers())
        return loopback

    def stop(self) -> None:
        self.loop.run_until_complete(self._stop())
        self.loop.close()


#: The fields the fixture layout shows, and one for exports only.
FIELDS = {name: SchemaField(type="text") for name in ("text", "option_a", "option_b")}
SCHEMA = DatasetSchema(fields={**FIELDS, "meta": SchemaField(type="metadata")})
NEW_SCHEMA = DatasetSchema(fields={**FIELDS, "meta": SchemaField(type="metadata", label="M")})
RECORD = {"text": "a", "option_a": "x", "option_b": "y", "meta": "m"}


async def emulator_answers() -> dict[str, tuple[int, Any]]:
    """Each public call's status and JSON answer from the emulator, by the call's name."""
    layout = json.loads((FIXTURES / "layout_every_item_type.json").read_text(encoding="utf-8"))
    answers: dict[str, tuple[int, Any]] = {}
    async with (
        FakeProlific(
            seed=12,
            processing_delay=0,
            setup_delay=0,
            export_delay=0,
            sync_delay=0,
            migration_delay=0,
        ) as fake,
        fake.client(retry=ONE_ATTEMPT) as client,
    ):

        def last(name: str, contains: str = "") -> None:
            for request in reversed(fake.requests):
                if contains in request.path:
                    answers[name] = (request.response_status or 0, request.response_json)
                    return
            raise AssertionError(f"no request for {name}")

        ws = "ws-properties"
        dataset = await client.datasets.create(name="Data", workspace_id=ws, schema=SCHEMA)
        last("datasets.create")
        await client.datasets.upload(
            dataset.id, json.dumps(RECORD).encode() + b"\n", filename="d.jsonl"
        )
        last("datasets.get_upload_url", "/upload-url/")
        last("datasets.get_import", "/imports/")
        await client.datasets.get(dataset.id)
        last("datasets.get")
        await client.datasets.get_status(dataset.id)
        last("datasets.get_status")
        await client.datasets.add_datapoints(dataset.id, [{**RECORD, "text": "b"}])
        last("datasets.add_datapoints")
        update = await client.datasets.update(dataset.id, schema=NEW_SCHEMA)
        last("datasets.update")
        assert update.migration_job_id is not None
        await client.datasets.wait_for_schema_migration(dataset.id, update.migration_job_id)
        last("datasets.get_schema_migration")

        pages = converter.structure(layout, list[Page])
        batch = await client.batches.create(
            name="B",
            workspace_id=ws,
            task_details=DETAILS,
            dataset_id=dataset.id,
            batch_items=pages,
        )
        last("batches.create")
        await client.batches.duplicate(batch.id)
        last("batches.duplicate")
        await client.batches.update(batch.id, name="B2")
        last("batches.update")
        await client.batches.setup(batch.id)
        await client.batches.wait_until_ready(batch.id)
        last("batches.get")
        await client.batches.get_status(batch.id)
        last("batches.get_status")
        await client.batches.list(ws)
        last("batches.list")
        await client.batches.tasks(batch.id)
        last("batches.tasks")
        await client.batches.task_groups(batch.id)
        last("batches.task_groups")
        fake.add_response(batch.id)
        await client.batches.responses(batch.id)
        last("batches.responses")
        await client.batches.report(batch.id)
        last("batches.report")
        export = await client.batches.request_export(batch.id)
        last("batches.request_export")
        await client.batches.wait_for_export(batch.id, export)
        last("batches.get_export")
        await client.batches.list_exports(batch.id)
        last("batches.list_exports")
        sync = await client.batches.sync(batch.id)
        last("batches.sync")
        assert sync.sync_id is not None
        await client.batches.get_sync(batch.id, sync.sync_id)
        last("batches.get_sync")
    return answers
