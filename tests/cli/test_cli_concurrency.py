"""``provision --concurrency`` above the client's default connection limit is honoured."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prolific_async.testing import FakeProlific

from .conftest import RunCli, creates, write_manifest


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    """An emulator slow enough (0.5 s a request) that a run's creates overlap."""
    async with FakeProlific(seed=8, latency=0.5) as emulator:
        yield emulator


@pytest.mark.timeout(60)
async def test_provision_at_concurrency_256_has_256_requests_in_flight_and_no_warning(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The command's client allows the run's concurrency: 256 creates at once, no warning."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(300))
    with caplog.at_level(logging.INFO):
        code, _, err = await cli(
            "provision", str(manifest), "--concurrency", "256", "--no-progress"
        )
    assert code == 0, err
    assert len(fake.batches) == 300
    assert fake.stats.in_flight_peak == 256
    assert "max_connections" not in err
    assert "max_connections" not in caplog.text
