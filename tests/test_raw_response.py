"""Raw responses (``with_raw_response``) and request ids, against the emulator."""

from __future__ import annotations

import logging
import re

import pytest

from prolific_async import Batch, CreateBatchRequest, ProlificClient, RawResponse, errors
from prolific_async.testing import FakeProlific

from .conftest import BATCHES_PATH

REQUEST_ID = re.compile(r"req_[0-9a-f]{24}")


async def test_raw_get_has_status_headers_request_id_and_parses_to_the_model(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """with_raw_response.get gives the answer's status, headers and id; parse() the Batch."""
    staged = prolific_fake.add_batch(name="Raw")
    raw = await prolific_client.batches.with_raw_response.get(staged.id)
    assert isinstance(raw, RawResponse)
    assert raw.status_code == raw.status == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.request_id is not None
    assert REQUEST_ID.fullmatch(raw.request_id)
    assert raw.request_id == raw.headers["X-Request-Id"]
    assert raw.method == "GET"
    assert raw.url.endswith(f"{BATCHES_PATH}/{staged.id}")
    assert raw.attempts == 1
    assert raw.elapsed >= 0
    assert raw.json()["id"] == staged.id
    batch = raw.parse()
    assert isinstance(batch, Batch)
    assert batch == await prolific_client.batches.get(staged.id)


async def test_raw_forms_exist_for_the_mixins_and_datasets(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """The raw form covers methods of the sub-resource mixins and of client.datasets."""
    staged = prolific_fake.add_batch()
    status = await prolific_client.batches.with_raw_response.get_status(staged.id)
    assert status.parse() == await prolific_client.batches.get_status(staged.id)
    dataset = await prolific_client.datasets.with_raw_response.create(
        name="D", workspace_id=staged.workspace_id
    )
    assert dataset.status_code == 201
    assert dataset.parse().name == "D"


async def test_raw_form_reports_the_last_answer_after_a_retry(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A 503 then a 200: the raw response is the 200's, with two attempts."""
    staged = prolific_fake.add_batch()
    prolific_fake.add_fault("GET", f"{BATCHES_PATH}/{staged.id}", "status")
    raw = await prolific_client.batches.with_raw_response.get(staged.id)
    assert (raw.status_code, raw.attempts) == (200, 2)


async def test_raw_form_raises_as_the_plain_call_with_the_request_id(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A 404 raises NotFoundError as the plain call does; it carries the answer's id."""
    with pytest.raises(errors.NotFoundError) as caught:
        await prolific_client.batches.with_raw_response.get("missing")
    assert caught.value.request_id is not None
    assert REQUEST_ID.fullmatch(caught.value.request_id)
    assert caught.value.request_id in str(caught.value)


async def test_a_fault_keeps_the_request_id_it_sets(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A fault answering with its own X-Request-Id keeps it; the emulator adds none."""
    prolific_fake.add_fault(
        "GET", f"{BATCHES_PATH}/*", "status", status=400, headers={"X-Request-Id": "mine"}
    )
    with pytest.raises(errors.BadRequestError) as caught:
        await prolific_client.batches.get("b1")
    assert caught.value.request_id == "mine"


def test_methods_yielding_many_results_have_no_raw_form(
    prolific_client: ProlificClient,
) -> None:
    """create_many has no raw form, and private names are not reachable through it."""
    with pytest.raises(AttributeError, match="no raw form"):
        _ = prolific_client.batches.with_raw_response.create_many
    with pytest.raises(AttributeError):
        _ = prolific_client.batches.with_raw_response._get


async def test_the_debug_attempt_line_names_the_request_id(
    prolific_fake: FakeProlific,
    prolific_client: ProlificClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The DEBUG line of an attempt carries the id the emulator sent."""
    staged = prolific_fake.add_batch()
    with caplog.at_level(logging.DEBUG, logger="prolific_async"):
        raw = await prolific_client.batches.with_raw_response.get(staged.id)
    assert any(f"request id {raw.request_id}" in r.getMessage() for r in caplog.records)


async def test_bulk_results_carry_the_request_id_of_their_answer(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A created item has its 201's id; a refused one its error's; a lost send None."""
    dataset = prolific_fake.add_dataset()
    details = prolific_fake.add_batch().task_details
    requests = [
        CreateBatchRequest(
            name=f"B{n}", workspace_id="ws-raw", task_details=details, dataset_id=dataset.id
        )
        for n in range(2)
    ]
    prolific_fake.add_fault("POST", BATCHES_PATH, "status", status=400)
    results = [r async for r in prolific_client.batches.create_many(requests, concurrency=1)]
    failed, made = sorted(results, key=lambda r: r.ok)
    assert failed.error is not None
    assert isinstance(failed.error, errors.APIStatusError)
    assert failed.request_id == failed.error.request_id is not None
    assert made.ok
    assert made.request_id is not None
    assert REQUEST_ID.fullmatch(made.request_id)
    assert made.request_id != failed.request_id


async def test_the_clients_own_verbs_have_a_raw_form(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """client.with_raw_response.get/post/patch/delete/request answer with status and id."""
    staged = prolific_fake.add_batch(name="Verbs")
    path = f"{BATCHES_PATH}/{staged.id}"
    got = await prolific_client.with_raw_response.get(path, cast_to=Batch)
    assert got.status_code == 200
    assert REQUEST_ID.fullmatch(got.request_id or "")
    assert got.parse().id == staged.id
    requested = await prolific_client.with_raw_response.request("GET", path, cast_to=Batch)
    assert requested.parse() == got.parse()
    assert requested.request_id != got.request_id
    patched = await prolific_client.with_raw_response.patch(
        path, cast_to=Batch, body={"name": "Renamed"}
    )
    assert patched.parse().name == "Renamed"
    assert patched.method == "PATCH"
    assert "<RawVerbs of <ProlificClient" in repr(prolific_client.with_raw_response)


async def test_the_clients_raw_form_refuses_what_is_not_one_call(
    prolific_client: ProlificClient,
) -> None:
    """Only the verbs and provision_batch have a raw form: aclose has none."""
    with pytest.raises(AttributeError, match="no 'aclose'"):
        prolific_client.with_raw_response.aclose  # noqa: B018 (the lookup is the test)
    assert callable(prolific_client.with_raw_response.provision_batch)


async def test_raw_response_of_keeps_the_methods_type(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """RawResponse.of(client.batches.get) is the raw form, typed as RawResponse[Batch]."""
    staged = prolific_fake.add_batch()
    raw: RawResponse[Batch] = await RawResponse.of(prolific_client.batches.get)(staged.id)
    batch: Batch = raw.parse()
    assert batch.id == staged.id
    assert raw.status_code == 200


async def test_a_derived_client_has_its_own_raw_verbs(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """with_options(...).with_raw_response sends through the derived client."""
    staged = prolific_fake.add_batch()
    derived = prolific_client.with_options(headers={"X-Trace": "1"})
    assert derived.with_raw_response is not prolific_client.with_raw_response
    raw = await derived.with_raw_response.get(f"{BATCHES_PATH}/{staged.id}", cast_to=Batch)
    assert raw.parse().id == staged.id
