"""The emulator's hostile answers: oversized, compressed, deep-JSON and redirect faults."""

from __future__ import annotations

import gzip
import json

import aiohttp
import pytest

from prolific_async.testing import FakeProlific, FaultKind
from prolific_async.testing._fault_answers import gzip_json

from .conftest import BATCHES

ONE_BATCH = BATCHES + "/*"


@pytest.mark.parametrize("size", [1, 14, 15, 1024, 3 * 1024 * 1024 + 17])
def test_the_gzip_body_decompresses_to_exactly_its_size(size: int) -> None:
    """A compressed fault's body is valid gzip of ``size`` bytes (JSON once big enough)."""
    data = gzip.decompress(gzip_json(size))
    assert len(data) == size
    if size >= 15:
        assert set(json.loads(data)) == {"padding"}


def test_a_300_mib_body_compresses_to_a_few_hundred_kb() -> None:
    """The default compressed fault is a small body that decompresses past 256 MiB."""
    assert len(gzip_json(300 * 1024 * 1024)) < 400 * 1024


async def _raw(fake: FakeProlific, path: str, **kwargs: object) -> aiohttp.ClientResponse:
    session = aiohttp.ClientSession(auto_decompress=False)
    headers = {"Authorization": f"Token {fake.token}"}
    try:
        response = await session.get(
            fake.url + path, headers=headers, allow_redirects=False, **kwargs
        )
        await response.read()
        return response
    finally:
        await session.close()


async def test_each_hostile_answer_on_the_wire(prolific_fake: FakeProlific) -> None:
    """Sizes, headers and statuses are what each kind promises; nothing is applied."""
    batch = prolific_fake.add_batch(name="b")
    path = f"{BATCHES}/{batch.id}"
    prolific_fake.add_fault("GET", ONE_BATCH, "oversized", size=100_000)
    response = await _raw(prolific_fake, path)
    assert response.status == 200
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert len(await response.read()) == 100_000
    prolific_fake.add_fault(
        "GET", ONE_BATCH, "oversized", size=5000, status=500, headers={"Content-Length": "5000"}
    )
    response = await _raw(prolific_fake, path)
    assert (response.status, response.content_length) == (500, 5000)
    prolific_fake.add_fault("GET", ONE_BATCH, "compressed", size=1 << 20, status=422)
    response = await _raw(prolific_fake, path)
    assert response.status == 422
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(gzip.decompress(await response.read())) == 1 << 20
    prolific_fake.add_fault("GET", ONE_BATCH, "deep_json", size=50)
    body = await (await _raw(prolific_fake, path)).read()
    assert body == b'{"id": ' + b"[" * 50 + b"]" * 50 + b"}"
    prolific_fake.add_fault("GET", ONE_BATCH, "redirect")
    response = await _raw(prolific_fake, path + "?x=1")
    assert response.status == 307
    assert response.headers["Location"] == f"http://elsewhere.invalid{path}?x=1"
    prolific_fake.add_fault(
        "GET", ONE_BATCH, "redirect", status=301, headers={"Location": "http://127.0.0.1:9/x"}
    )
    response = await _raw(prolific_fake, path)
    assert (response.status, response.headers["Location"]) == (301, "http://127.0.0.1:9/x")
    assert all(fault.fired == 1 for fault in prolific_fake.faults)


async def test_a_hostile_answer_to_a_create_makes_no_batch(prolific_fake: FakeProlific) -> None:
    """The hostile kinds answer in place of the API: the request is not applied."""
    for kind in ("oversized", "compressed", "deep_json", "redirect"):
        prolific_fake.add_fault("POST", BATCHES, kind, size=None)
    async with aiohttp.ClientSession() as session:
        for _ in range(4):
            async with session.post(
                prolific_fake.url + BATCHES,
                json={"name": "n"},
                headers={"Authorization": f"Token {prolific_fake.token}"},
                allow_redirects=False,
            ) as response:
                await response.content.read(1024)
    assert len(prolific_fake.batches) == 0


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("oversized", {"body": "x"}, "makes its own body"),
        ("redirect", {"status": 200}, "must be a 3xx"),
        ("redirect", {"size": 10}, "takes size"),
        ("status", {"size": 10}, "takes size"),
        ("deep_json", {"size": 0}, "integer >= 1"),
        ("compressed", {"size": True}, "integer >= 1"),
    ],
)
def test_the_new_kinds_refuse_arguments_they_do_not_use(
    kind: str, options: dict[str, object], message: str
) -> None:
    """Each hostile kind refuses a body, a bad size, or (redirect) a status not 3xx."""
    fake = FakeProlific()
    with pytest.raises(ValueError, match=message):
        fake.add_fault("GET", "/x", kind, **options)  # type: ignore[arg-type]


def test_the_new_kinds_are_fault_kinds() -> None:
    """The four kinds are FaultKind members, by their lower-case names."""
    names = {"oversized", "compressed", "deep_json", "redirect"}
    assert names <= {kind.value for kind in FaultKind}
