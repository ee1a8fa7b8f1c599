"""Fixtures and helpers shared by the emulator's tests.

The tests use the fixtures the package ships (``prolific_fake``, ``prolific_client``);
here ``prolific_fake``'s state machines take 20 ms instead of 50, so tests that wait for
an upload, a setup or an export finish sooner. Raw requests go through ``fake_http``
(with the fake's token) or ``storage_http`` (without it, as presigned URLs are used).
A test that must see a passing state (``processing``, ``queued``) takes ``manual_clock``:
the fake's state machines then move only when it advances, however loaded the machine.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from prolific_async import TaskDetails
from prolific_async.testing import FakeProlific, StoredDataset

BATCHES = "/api/v1/data-collection/batches"
DATASETS = "/api/v1/data-collection/datasets"
WORKSPACE = "6278acb09062db3b35bcbeb0"
TASK = {"task_name": "Rate it", "task_introduction": "<p>Hi</p>", "task_steps": "<ol></ol>"}
TASK_DETAILS = TaskDetails(**TASK)
REQUIRED = ["This field is required."]
#: A V3 upload of three data rows (the blank line is skipped).
CSV = b"text,label\nhello,a\nworld,b\n\nagain,c\n"
#: A strict V4 schema: a record needs both fields.
STRICT_SCHEMA = {"strict": True, "fields": {"prompt": {"type": "text"}, "group": {"type": "text"}}}
#: A V4 schema with a field of every type a layout can refer to.
EVERY_FIELD_TYPE_SCHEMA = {
    "fields": {
        "prompt": {"type": "text"},
        "picture": {"type": "image_url"},
        "clip": {"type": "audio_url"},
        "movie": {"type": "video_url"},
        "notes": {"type": "metadata"},
        "group": {"type": "task_group_id"},
    }
}


@pytest.fixture
def prolific_fake(prolific_fake: FakeProlific) -> FakeProlific:
    """The shipped fake, its uploads, setups and exports taking 20 ms."""
    prolific_fake.processing_delay = 0.02
    prolific_fake.setup_delay = 0.02
    prolific_fake.export_delay = 0.02
    return prolific_fake


class ManualClock:
    """The clock the emulator's state machines run on, moved only by the test."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: what falls due applies at the fake's next request."""
        self.now += seconds


@pytest.fixture
def manual_clock(prolific_fake: FakeProlific, monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """Freeze ``prolific_fake``'s processing, setups and exports until the test moves on.

    For a test that must see a state before it changes (``processing``, two uploads
    before either is processed) whatever the machine's load: no race with a delay.
    """
    clock = ManualClock()
    monkeypatch.setattr(prolific_fake._services.timeline, "_monotonic", clock)
    return clock


@pytest.fixture
async def storage_http() -> AsyncIterator[aiohttp.ClientSession]:
    """A session without the token, as a client must use for presigned URLs."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield session


@pytest.fixture
def v4_dataset(prolific_fake: FakeProlific) -> StoredDataset:
    """A processed V4 dataset whose schema has a field of every type."""
    return prolific_fake.add_dataset(
        schema=EVERY_FIELD_TYPE_SCHEMA, records=[{"prompt": "p", "group": "g1"}]
    )


async def call(
    http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """Send one raw request; return the status, the body (JSON decoded) and the response."""
    async with http.request(method, path, **kwargs) as response:
        data = await response.read()
    if response.content_type == "application/json" and data:
        return response.status, json.loads(data), response
    return response.status, data, response


async def send(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """Send one raw request with a JSON body; return the status and the decoded body."""
    async with http.request(method, path, json=body) as response:
        return response.status, json.loads(await response.text())


def create_body(**overrides: Any) -> dict[str, Any]:
    """A valid Create a Batch body, with some fields replaced."""
    return {"name": "Batch A", "workspace_id": WORKSPACE, "task_details": dict(TASK), **overrides}


def one_item(item: dict[str, Any], **page: Any) -> list[dict[str, Any]]:
    """A one-page layout holding one item (and the page's extra keys)."""
    return [{**page, "rows": [{"columns": [{"items": [item]}]}]}]


def sent(fake: FakeProlific, method: str, route: str) -> int:
    """How many requests the emulator received for one endpoint."""
    return fake.stats.requests[method, route]


async def until(http: aiohttp.ClientSession, path: str, key: str, expected: str) -> Any:
    """Poll ``GET path`` every few ms until ``body[key] == expected``; return the body."""
    body: Any = None
    for _ in range(400):
        _, body, _ = await call(http, "GET", path)
        if body[key] == expected:
            return body
        await asyncio.sleep(0.005)
    raise AssertionError(f"{path}: {key} is still {body[key]!r}, not {expected!r}")


async def new_dataset(http: aiohttp.ClientSession, schema: Any = None) -> str:
    """Create a dataset (V4 with a schema); return its id."""
    body: dict[str, Any] = {"name": "Data", "workspace_id": WORKSPACE}
    if schema is not None:
        body["schema"] = schema
    status, answer, _ = await call(http, "POST", DATASETS, json=body)
    assert status == 201, answer
    return str(answer["id"])


def signed(answer: dict[str, Any]) -> dict[str, str]:
    """The headers a PUT to an upload URL needs: the ``Content-Type`` it was signed for."""
    return {"Content-Type": answer["content_type"]}


async def upload(
    http: aiohttp.ClientSession,
    storage: aiohttp.ClientSession,
    dataset_id: str,
    filename: str,
    data: bytes,
) -> dict[str, Any]:
    """Get an upload URL and PUT ``data`` to it without the token; return the URL answer."""
    status, answer, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}/upload-url/{filename}")
    assert status == 201, answer
    async with storage.put(answer["upload_url"], data=data, headers=signed(answer)) as response:
        assert (response.status, await response.read()) == (200, b"")
    return dict(answer)


async def new_batch(http: aiohttp.ClientSession, **extra: Any) -> str:
    """Create a batch; return its id."""
    body = {"name": "Batch", "workspace_id": WORKSPACE, "task_details": TASK, **extra}
    status, answer, _ = await call(http, "POST", BATCHES, json=body)
    assert status == 201, answer
    return str(answer["id"])


async def ready_batch(
    http: aiohttp.ClientSession, fake: FakeProlific, *, rows: int = 3, per_group: int = 1
) -> str:
    """A batch set up on a seeded READY dataset of ``rows`` rows, polled until READY."""
    dataset = fake.add_dataset(records=[{"text": f"row {n}"} for n in range(rows)])
    batch_id = await new_batch(http)
    body = {"dataset_id": dataset.id, "tasks_per_group": per_group}
    assert (await call(http, "POST", f"{BATCHES}/{batch_id}/setup", json=body))[0] == 202
    await until(http, f"{BATCHES}/{batch_id}/status", "status", "READY")
    return batch_id
