"""client.batches setup and readiness: status, setup, wait_until_ready, tasks and task groups.

Checked with aioresponses (``mocked``, one attempt per call): request shape, parsing and
how the wait reads a sequence of statuses. No retry middleware runs here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from yarl import URL

from prolific_async import Batch, BatchStatus, ProlificClient, errors
from prolific_async import _polling as polling

from ..conftest import BATCHES_PATH, MOCKED_BASE, TOKEN, fixture_json, mocked_call, mocked_calls

BATCHES = f"{MOCKED_BASE}{BATCHES_PATH}"
FAST: dict[str, Any] = {"poll_interval": 0.001, "max_poll_interval": 0.002}


def batch_body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = fixture_json("get_batch_200.json")
    data.update(changes)
    return data


async def test_get_status_reads_the_status(mocked_client: ProlificClient, mocked: Any) -> None:
    """get_status GETs /batches/{id}/status and returns a BatchStatus."""
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"})
    assert await mocked_client.batches.get_status("b1") is BatchStatus.PROCESSING


async def test_get_status_keeps_an_unknown_status(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A status this library does not know comes back as the plain string."""
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "ARCHIVED", "extra": 1})
    status = await mocked_client.batches.get_status("b1")
    assert status == "ARCHIVED"
    assert not isinstance(status, BatchStatus)


async def test_get_status_without_status_names_the_field(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A status body without status raises ResponseValidationError naming $.status."""
    mocked.get(f"{BATCHES}/b1/status", payload={})
    with pytest.raises(errors.ResponseValidationError, match=r"\$\.status"):
        await mocked_client.batches.get_status("b1")


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({}, {}),
        ({"dataset_id": "d1"}, {"dataset_id": "d1"}),
        ({"tasks_per_group": 5}, {"tasks_per_group": 5}),
        ({"dataset_id": "d1", "tasks_per_group": 1}, {"dataset_id": "d1", "tasks_per_group": 1}),
    ],
)
async def test_setup_sends_only_given_fields(
    mocked_client: ProlificClient, mocked: Any, kwargs: dict[str, Any], body: dict[str, Any]
) -> None:
    """Setup POSTs the given fields; the empty 202 body is fine."""
    mocked.post(f"{BATCHES}/b1/setup", status=202, body="")
    await mocked_client.batches.setup("b1", **kwargs)
    call = mocked_call(mocked, "POST", f"{BATCHES}/b1/setup")
    assert call["json"] == body
    assert call["headers"]["Authorization"] == f"Token {TOKEN}"


@pytest.mark.parametrize("tasks_per_group", [0, -1, 1.5, True, "2"])
async def test_setup_refuses_bad_tasks_per_group(
    mocked_client: ProlificClient, mocked: Any, tasks_per_group: Any
) -> None:
    """tasks_per_group must be an integer >= 1; nothing is sent otherwise."""
    with pytest.raises(ValueError, match="tasks_per_group"):
        await mocked_client.batches.setup("b1", tasks_per_group=tasks_per_group)
    assert mocked.requests == {}


async def test_setup_error_status_raises_its_class(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A 404 on setup raises NotFoundError with the server's detail."""
    mocked.post(
        f"{BATCHES}/b1/setup", status=404, payload={"error": {"title": "Not Found", "detail": "no"}}
    )
    with pytest.raises(errors.NotFoundError, match="Not Found: no"):
        await mocked_client.batches.setup("b1", dataset_id="d1")


async def test_wait_until_ready_polls_then_gets_the_batch(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Statuses are polled until READY, then the batch is fetched once and returned."""
    for status in ("UNINITIALISED", "PROCESSING", "PROCESSING", "READY"):
        mocked.get(f"{BATCHES}/b1/status", payload={"status": status})
    mocked.get(f"{BATCHES}/b1", payload=batch_body(status="READY", total_task_count=42))
    batch = await mocked_client.batches.wait_until_ready("b1", timeout=5, **FAST)
    assert isinstance(batch, Batch)
    assert (batch.status, batch.total_task_count) == (BatchStatus.READY, 42)
    assert len(mocked_calls(mocked, "GET", f"{BATCHES}/b1/status")) == 4
    assert len(mocked_calls(mocked, "GET", f"{BATCHES}/b1")) == 1


async def test_wait_until_ready_raises_on_error(mocked_client: ProlificClient, mocked: Any) -> None:
    """A batch ending in ERROR raises BatchSetupError carrying the batch id."""
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"})
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "ERROR"})
    with pytest.raises(errors.BatchSetupError, match="b1 ended setup in ERROR") as caught:
        await mocked_client.batches.wait_until_ready("b1", timeout=5, **FAST)
    assert (caught.value.batch_id, caught.value.status) == ("b1", "ERROR")
    assert mocked_calls(mocked, "GET", f"{BATCHES}/b1") == []


async def test_wait_until_ready_times_out(mocked_client: ProlificClient, mocked: Any) -> None:
    """A batch stuck PROCESSING raises WaitTimeoutError, also a TimeoutError, with its status."""
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"}, repeat=True)
    with pytest.raises(errors.WaitTimeoutError) as caught:
        await mocked_client.batches.wait_until_ready("b1", timeout=0.05, **FAST)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.last_status == "PROCESSING"
    assert caught.value.resource == "batch b1"
    assert "last status PROCESSING" in str(caught.value)


async def sleep_past_the_deadline(_seconds: float) -> None:
    """A wait between polls that the wait's deadline ends."""
    await asyncio.Event().wait()


async def test_a_deadline_between_polls_looks_once_more(
    mocked_client: ProlificClient, mocked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that went ERROR during the wait the deadline ended raises BatchSetupError."""
    monkeypatch.setattr(polling, "sleep", sleep_past_the_deadline)
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"})
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "ERROR"})
    with pytest.raises(errors.BatchSetupError, match="b1 ended setup in ERROR"):
        await mocked_client.batches.wait_until_ready("b1", timeout=0.05, **FAST)
    assert len(mocked_calls(mocked, "GET", f"{BATCHES}/b1/status")) == 2


async def test_the_last_look_names_the_status_at_the_deadline(
    mocked_client: ProlificClient, mocked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timeout's message and last_status are those of the last look, not the poll before."""
    monkeypatch.setattr(polling, "sleep", sleep_past_the_deadline)
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "UNINITIALISED"})
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"})
    with pytest.raises(errors.WaitTimeoutError, match="last status PROCESSING") as caught:
        await mocked_client.batches.wait_until_ready("b1", timeout=0.05, **FAST)
    assert caught.value.last_status == "PROCESSING"


async def test_the_last_look_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A last look that does not answer ends by its own bound, with the status seen before."""
    answers = iter(["PROCESSING"])

    async def fetch() -> str:
        answer = next(answers, None)
        if answer is None:
            await asyncio.Event().wait()  # the server no longer answers
        return answer or ""

    monkeypatch.setattr(polling, "sleep", sleep_past_the_deadline)
    settings = polling.require_wait_settings(0.05, 0.001, 0.001)
    with pytest.raises(errors.WaitTimeoutError, match="last status PROCESSING"):
        async with asyncio.timeout(5):  # an unbounded last look: a plain TimeoutError
            await polling.poll_until(
                fetch,
                finished=lambda status: status == "READY",
                status_of=str,
                resource="batch b1",
                goal="READY",
                settings=settings,
            )


async def test_wait_until_ready_keeps_polling_an_unknown_status(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """An unknown status is not READY: polling goes on until READY comes."""
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "QUEUED_FOR_SETUP"})
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "READY"})
    mocked.get(f"{BATCHES}/b1", payload=batch_body(status="READY"))
    batch = await mocked_client.batches.wait_until_ready("b1", timeout=5, **FAST)
    assert batch.status is BatchStatus.READY


async def test_wait_until_ready_lets_request_errors_through(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A failing poll (404) ends the wait with that error, not a timeout."""
    mocked.get(f"{BATCHES}/b1/status", status=404, payload={"error": {"title": "Not Found"}})
    with pytest.raises(errors.NotFoundError):
        await mocked_client.batches.wait_until_ready("b1", timeout=5, **FAST)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"poll_interval": 0},
        {"max_poll_interval": "1"},
        {"timeout": True},
    ],
)
async def test_wait_settings_are_checked(
    mocked_client: ProlificClient, mocked: Any, kwargs: dict[str, Any]
) -> None:
    """Non-positive or non-numeric wait settings raise ValueError before any request."""
    with pytest.raises(ValueError, match="positive number of seconds"):
        await mocked_client.batches.wait_until_ready("b1", **kwargs)
    assert mocked.requests == {}


async def test_polls_back_off_up_to_the_cap(
    mocked_client: ProlificClient, mocked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each wait is 1.5 times the one before (plus up to 10% jitter), capped."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(polling, "sleep", record)
    for _ in range(6):
        mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"})
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "READY"})
    mocked.get(f"{BATCHES}/b1", payload=batch_body(status="READY"))
    await mocked_client.batches.wait_until_ready("b1", poll_interval=1.0, max_poll_interval=3.0)
    expected = [1.0, 1.5, 2.25, 3.0, 3.0, 3.0]
    assert len(waits) == len(expected)
    for wait, base in zip(waits, expected, strict=True):
        assert base <= wait <= base * 1.1


async def test_tasks_and_task_groups_are_id_lists(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Tasks and task_groups GET their paths and return the id strings."""
    mocked.get(f"{BATCHES}/b1/tasks", payload=["t1", "t2"])
    mocked.get(f"{BATCHES}/b1/task-groups", payload=["g1"])
    assert await mocked_client.batches.tasks("b1") == ["t1", "t2"]
    assert await mocked_client.batches.task_groups("b1") == ["g1"]


async def test_tasks_bad_body_names_the_index(mocked_client: ProlificClient, mocked: Any) -> None:
    """A non-string task id raises ResponseValidationError naming its index."""
    mocked.get(f"{BATCHES}/b1/tasks", payload=["t1", 7])
    with pytest.raises(errors.ResponseValidationError, match=r"\$\[1\]"):
        await mocked_client.batches.tasks("b1")


async def test_ids_are_quoted_into_one_segment(mocked_client: ProlificClient, mocked: Any) -> None:
    """A batch id with a slash stays one quoted path segment."""
    mocked.get(URL(f"{BATCHES}/a%2Fb/status", encoded=True), payload={"status": "READY"})
    await mocked_client.batches.get_status("a/b")
    ((_, url),) = mocked.requests.keys()
    assert url.raw_path == "/api/v1/data-collection/batches/a%2Fb/status"


async def test_a_last_look_that_fails_keeps_the_timeout(
    mocked_client: ProlificClient, mocked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A last look refused (here a 401) is still the wait's timeout, with the status before."""
    monkeypatch.setattr(polling, "sleep", sleep_past_the_deadline)
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"})
    mocked.get(f"{BATCHES}/b1/status", status=401, payload={"detail": "no"})
    with pytest.raises(errors.WaitTimeoutError, match="last status PROCESSING") as caught:
        await mocked_client.batches.wait_until_ready("b1", timeout=0.05, **FAST)
    assert caught.value.last_status == "PROCESSING"
