"""Records survive JSON Lines both ways: appended to the emulator, and read from a file.

JSON allows U+2028, U+2029 and U+0085 unescaped inside a string; a reader that splits
lines with ``str.splitlines()`` cuts such a record in two. Both the emulator's JSON Lines
reader and :func:`prolific_async.load_records` once did.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from prolific_async import ProlificClient
from prolific_async._loaders import load_records
from prolific_async.models import DatasetSchema, SchemaField
from prolific_async.testing import FakeProlific

from .strategies import texts

LINE_BREAKS = "\u2028\u2029\x85\r\x0b\x0c\x1c"
records = st.lists(
    st.fixed_dictionaries({"text": texts | st.sampled_from(list(LINE_BREAKS))}),
    min_size=1,
    max_size=3,
)


class Running:
    """A started emulator with a V4 dataset and a client, on a loop of their own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.fake = FakeProlific(seed=5)
        self.loop.run_until_complete(self.fake.start())
        self.client: ProlificClient = self.fake.client()
        schema = DatasetSchema(fields={"text": SchemaField(type="text")})
        dataset = self.loop.run_until_complete(
            self.client.datasets.create(name="d", workspace_id="w", schema=schema)
        )
        self.dataset_id = dataset.id

    def stop(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.fake.stop())
        self.loop.close()


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    started = Running()
    yield started
    started.stop()


@given(records)
@example([{"text": "a\u2028b\x85c"}])
def test_appended_records_reach_the_emulator_whole(
    running: Running, records: list[dict[str, Any]]
) -> None:
    """Every appended record is accepted as it was sent, whatever line breaks it holds."""
    result = running.loop.run_until_complete(
        running.client.datasets.add_datapoints(running.dataset_id, records)
    )
    assert (result.accepted_count, result.rejected_count) == (len(records), 0)
    stored = running.fake.datasets[running.dataset_id].records
    assert all(record in stored for record in records)


@given(records)
@example([{"text": "a\u2028b"}, {"text": "\x85"}])
def test_a_json_lines_file_reads_back_its_records(records: list[dict[str, Any]]) -> None:
    """``load_records`` reads each line of a JSON Lines file as the record written there."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.jsonl"
        lines = (json.dumps(record, ensure_ascii=False) for record in records)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert load_records(path) == records
