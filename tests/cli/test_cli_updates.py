"""`batches update --batch-items-file` and `datasets update --schema` with the real files.

The layout and schema files of Prolific's official CLI (``../shared/real-payloads/``,
other people's data: read from there, never copied into the project) go through the
update commands into the emulator: the PATCH body holds the file's JSON exactly, and
the emulator stores it as written (the ids it assigns, and ``strict``'s default, aside).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from prolific_async.testing import FakeProlific

from .conftest import WS, RunCli
from .test_cli_batches import create_batch, dataset_fields, real_files, run_json, without_ids

DATASETS_PATH = "/api/v1/data-collection/datasets"
BATCHES_PATH = "/api/v1/data-collection/batches"


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=11, processing_delay=0.01, migration_delay=0.01) as emulator:
        yield emulator


def last_patch(fake: FakeProlific, prefix: str) -> Any:
    """The JSON body of the last PATCH under ``prefix`` the emulator received."""
    patches = [r for r in fake.requests if r.method == "PATCH" and r.path.startswith(prefix)]
    return patches[-1].json


async def test_every_real_layout_round_trips_through_batches_update(
    fake: FakeProlific, cli: RunCli
) -> None:
    """Each real layout, through batches update --batch-items-file, is sent and stored as written.

    A layout that shows dataset fields updates a batch on a V4 dataset made from a real
    schema file that has those fields.
    """
    schemas = {file: json.loads(file.read_text()) for file in real_files("dataset_schema")}
    for file in real_files("batch_items"):
        layout = json.loads(file.read_text())
        options: list[str | Path] = []
        needed = dataset_fields(layout)
        if needed:
            schema_file = next(f for f, s in schemas.items() if needed <= set(s["fields"]))
            dataset = await run_json(
                cli, "datasets", "create", "--name", "V4", "--workspace-id", WS,
                "--schema", schema_file,
            )  # fmt: skip
            options += ["--dataset-id", dataset["id"]]
        batch = await create_batch(cli, *options)
        assert fake.batches[batch["id"]].batch_items is None
        code, out, err = await cli("batches", "update", batch["id"], "--batch-items-file", file)
        assert (code, err) == (0, ""), file.name
        updated = json.loads(out)
        assert last_patch(fake, BATCHES_PATH) == {"batch_items": layout}, file.name
        assert without_ids(fake.batches[batch["id"]].batch_items) == layout, file.name
        assert without_ids(updated["batch_items"]) == layout, file.name


async def test_every_real_schema_round_trips_through_datasets_update(
    fake: FakeProlific, cli: RunCli
) -> None:
    """Each real schema, through datasets update --schema, is sent and stored as written."""
    for file in real_files("dataset_schema"):
        schema = json.loads(file.read_text())
        dataset = await run_json(
            cli, "datasets", "create", "--name", "V4", "--workspace-id", WS, "--schema", file
        )
        updated = await run_json(cli, "datasets", "update", dataset["id"], "--schema", file)
        assert last_patch(fake, DATASETS_PATH) == {"schema": schema}, file.name
        assert fake.datasets[dataset["id"]].schema == {"strict": False, **schema}, file.name
        assert updated["migration_job_id"] is not None, file.name
