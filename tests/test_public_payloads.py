"""Every payload the spec allows, and every real one, parses through the call a user makes.

The cases are those of ``test_spec_payloads`` (read through the converter there); here
each one is served as the answer of its endpoint and read by the public method, so the
envelope, the status handling and the resource's own checks are on the path too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from prolific_async import Batch, BatchStatus, DatasetStatus, ProlificClient
from prolific_async._body import structure_response
from prolific_async._converter import converter
from prolific_async.models import (
    BatchExport,
    BatchReport,
    Dataset,
    ImportJob,
    TaskResponse,
    UploadURL,
)

from .conftest import BATCHES_PATH, DATASETS_PATH, MOCKED_BASE
from .test_spec_payloads import RESPONSE_KINDS, SPEC_CASES, index_entries

Call = Callable[[ProlificClient], Awaitable[Any]]

#: model -> (the endpoint's URL, how its answer wraps the payload, the public call)
PUBLIC_CALLS: dict[Any, tuple[str, Callable[[Any], Any], Call]] = {
    Batch: (f"{BATCHES_PATH}/b1", lambda data: data, lambda c: c.batches.get("b1")),
    list[Batch]: (
        f"{BATCHES_PATH}?workspace_id=ws1",
        lambda data: {"results": data, "meta": {"count": len(data)}},
        lambda c: c.batches.list("ws1"),
    ),
    list[TaskResponse]: (
        f"{BATCHES_PATH}/b1/responses",
        lambda data: {"results": data, "meta": {"count": len(data)}},
        lambda c: c.batches.responses("b1"),
    ),
    BatchReport: (
        f"{BATCHES_PATH}/b1/report/",
        lambda data: data,
        lambda c: c.batches.report("b1"),
    ),
    BatchExport: (
        f"{BATCHES_PATH}/b1/export/e1",
        lambda data: data,
        lambda c: c.batches.get_export("b1", "e1"),
    ),
    Dataset: (f"{DATASETS_PATH}/d1", lambda data: data, lambda c: c.datasets.get("d1")),
    UploadURL: (
        f"{DATASETS_PATH}/d1/upload-url/f.csv",
        lambda data: data,
        lambda c: c.datasets.get_upload_url("d1", "f.csv"),
    ),
    ImportJob: (
        f"{DATASETS_PATH}/d1/imports/i1",
        lambda data: data,
        lambda c: c.datasets.get_import("d1", "i1"),
    ),
}


def test_every_model_of_the_cases_has_its_public_call() -> None:
    """No case is left to the converter alone."""
    models = {case[1] for case in SPEC_CASES} | set(RESPONSE_KINDS.values())
    assert models <= set(PUBLIC_CALLS)


async def read_through_public_call(
    client: ProlificClient, mocked: Any, cls: Any, payload: Any
) -> Any:
    url, wrap, call = PUBLIC_CALLS[cls]
    mocked.get(f"{MOCKED_BASE}{url}", payload=wrap(payload))
    return await call(client)


def lossless(result: Any, cls: Any, payload: Any) -> None:
    """The public call gives what the converter gives, and that keeps every value."""
    direct = structure_response(payload, cls, status_code=200, method="GET", url="u")
    assert result == direct
    assert converter.unstructure(result) == converter.unstructure(direct)


@pytest.mark.parametrize(
    ("cls", "payload"), [case[1:] for case in SPEC_CASES], ids=[case[0] for case in SPEC_CASES]
)
async def test_a_payload_the_spec_allows_parses_through_the_public_call(
    mocked_client: ProlificClient, mocked: Any, cls: Any, payload: Any
) -> None:
    """Served as its endpoint's answer, the payload comes back from the public method."""
    result = await read_through_public_call(mocked_client, mocked, cls, payload)
    lossless(result, cls, payload)


@pytest.mark.parametrize("kind", sorted(RESPONSE_KINDS))
async def test_a_real_payload_parses_through_the_public_call(
    mocked_client: ProlificClient, mocked: Any, kind: str
) -> None:
    """The real answers from the official CLI's tests come back from the public methods."""
    cls = RESPONSE_KINDS[kind]
    for _, data in index_entries(kind):
        payload = data["results"] if kind == "responses_page" else data
        result = await read_through_public_call(mocked_client, mocked, cls, payload)
        lossless(result, cls, payload)


@pytest.mark.parametrize("status", [*BatchStatus, "ARCHIVED"], ids=str)
async def test_a_batch_status_answer_parses_through_get_status(
    mocked_client: ProlificClient, mocked: Any, status: str
) -> None:
    """{"status": ...} comes back from batches.get_status; an unknown one as its string."""
    mocked.get(f"{MOCKED_BASE}{BATCHES_PATH}/b1/status", payload={"status": str(status)})
    got = await mocked_client.batches.get_status("b1")
    assert got == status
    assert isinstance(got, BatchStatus) is (status in set(BatchStatus))


@pytest.mark.parametrize("status", [*DatasetStatus, "ARCHIVED"], ids=str)
async def test_a_dataset_status_answer_parses_through_get_status(
    mocked_client: ProlificClient, mocked: Any, status: str
) -> None:
    """{"status": ...} comes back from datasets.get_status; an unknown one as its string."""
    mocked.get(f"{MOCKED_BASE}{DATASETS_PATH}/d1/status", payload={"status": str(status)})
    got = await mocked_client.datasets.get_status("d1")
    assert got == status
    assert isinstance(got, DatasetStatus) is (status in set(DatasetStatus))
