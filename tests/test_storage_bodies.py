"""Upload bodies: bytes of any size go out whole, on every attempt, without warnings."""

from __future__ import annotations

from prolific_async import ProlificClient
from prolific_async.testing import FakeProlific


async def test_an_upload_over_one_mib_given_as_bytes_is_stored_whole(
    prolific_fake: FakeProlific, prolific_client: ProlificClient, testing_mode: None
) -> None:
    """Large bytes are sent as a stream (aiohttp warns about raw bytes; warnings are errors)."""
    rows = "".join(f"row {i} {'x' * 40}\n" for i in range(26_000))
    body = ("text\n" + rows).encode()
    assert len(body) > 1024 * 1024  # past aiohttp's raw-bytes warning threshold
    dataset = await prolific_client.datasets.create(name="big", workspace_id="ws-big")
    await prolific_client.datasets.upload(dataset.id, body, filename="big.csv")
    stored = prolific_fake.datasets[dataset.id]
    assert stored.total_datapoint_count == 26_000
