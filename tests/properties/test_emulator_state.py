"""A state machine of the emulator's batches, driven through the client in random order.

Creates, updates, duplicates, gets and lists run in whatever order hypothesis picks
against a :class:`FakeProlific`; a plain model of what each batch should be (name,
workspace, task details, datasets) is kept alongside, and every answer is checked
against it. Each machine has its own event loop and its own emulator.
"""

from __future__ import annotations

import asyncio
from typing import Any

from attrs import define
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from prolific_async import Batch, NotFoundError, ProlificClient, TaskDetails
from prolific_async.testing import FakeProlific

from .strategies import non_empty_texts, texts

WORKSPACES = ("ws-a", "ws-b")
DATASET = "d-shared"
#: The API refuses a blank (whitespace only) name or task name with a 400.
names = non_empty_texts.filter(str.strip)
details = st.builds(TaskDetails, task_name=names, task_introduction=texts, task_steps=texts)


@define
class Expected:
    """What one batch should be."""

    name: str
    workspace_id: str
    task_details: TaskDetails
    dataset_ids: list[str]


class EmulatorBatches(RuleBasedStateMachine):
    """Batches made and changed through the client match the model of them."""

    batches = Bundle("batches")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.fake = FakeProlific(seed=7)
        self.run(self.fake.start())
        self.fake.add_dataset(DATASET, total_datapoint_count=3)
        self.client: ProlificClient = self.fake.client()
        self.model: dict[str, Expected] = {}

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.run(self.client.aclose())
        self.run(self.fake.stop())
        self.loop.close()

    def check(self, batch: Batch) -> None:
        expected = self.model[batch.id]
        assert batch.name == expected.name
        assert batch.workspace_id == expected.workspace_id
        assert batch.task_details == expected.task_details
        assert [dataset.id for dataset in batch.datasets] == expected.dataset_ids

    @rule(
        target=batches,
        name=names,
        workspace=st.sampled_from(WORKSPACES),
        task_details=details,
        with_dataset=st.booleans(),
    )
    def create(
        self, name: str, workspace: str, task_details: TaskDetails, with_dataset: bool
    ) -> str:
        batch = self.run(
            self.client.batches.create(
                name=name,
                workspace_id=workspace,
                task_details=task_details,
                dataset_id=DATASET if with_dataset else None,
            )
        )
        assert batch.id not in self.model
        self.model[batch.id] = Expected(
            name, workspace, task_details, [DATASET] if with_dataset else []
        )
        self.check(batch)
        return str(batch.id)

    @rule(batch_id=batches, name=st.none() | names, task_details=st.none() | details)
    def update(self, batch_id: str, name: str | None, task_details: TaskDetails | None) -> None:
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if task_details is not None:
            changes["task_details"] = task_details
        batch = self.run(self.client.batches.update(batch_id, **changes))
        expected = self.model[batch_id]
        expected.name = name if name is not None else expected.name
        expected.task_details = task_details if task_details is not None else expected.task_details
        self.check(batch)

    @rule(target=batches, source=batches, name=st.none() | names, fresh=st.booleans())
    def duplicate(self, source: str, name: str | None, fresh: bool) -> str:
        copy = self.run(self.client.batches.duplicate(source, name=name, upload_new_dataset=fresh))
        original = self.model[source]
        assert copy.id not in self.model
        self.model[copy.id] = Expected(
            name if name is not None else f"{original.name} (Copy)",
            original.workspace_id,
            original.task_details,
            [] if fresh else list(original.dataset_ids),
        )
        self.check(copy)
        return str(copy.id)

    @rule(batch_id=batches)
    def get(self, batch_id: str) -> None:
        self.check(self.run(self.client.batches.get(batch_id)))

    @rule(batch_id=non_empty_texts)
    def get_unknown(self, batch_id: str) -> None:
        if batch_id in self.model or batch_id in (".", ".."):
            return
        try:
            self.run(self.client.batches.get(batch_id))
        except NotFoundError:
            return
        raise AssertionError(f"a batch that was never made was found: {batch_id!r}")

    @rule(workspace=st.sampled_from(WORKSPACES))
    def list(self, workspace: str) -> None:
        listed = self.run(self.client.batches.list(workspace))
        expected = [key for key, value in self.model.items() if value.workspace_id == workspace]
        assert [batch.id for batch in listed] == expected  # oldest first
        for batch in listed:
            self.check(batch)

    @invariant()
    def the_emulator_holds_exactly_the_model(self) -> None:
        assert list(self.fake.batches) == list(self.model)


def test_batches_follow_the_model_whatever_the_order_of_calls() -> None:
    """Random sequences of create/update/duplicate/get/list keep the emulator and model equal."""
    run_state_machine_as_test(
        EmulatorBatches, settings=settings(max_examples=30, stateful_step_count=20)
    )
