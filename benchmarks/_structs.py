"""msgspec Structs shaped like the batch models: the reference decode.py compares with.

Annotations are evaluated here (no ``from __future__ import annotations``): msgspec reads
them at class creation. Importing this module needs msgspec.
"""

from datetime import datetime
from typing import Any

import msgspec


class Validation(msgspec.Struct, kw_only=True, omit_defaults=True):
    type: str
    min: float | None = None
    max: float | None = None


class Option(msgspec.Struct, kw_only=True, omit_defaults=True):
    label: str
    value: str | int | float | bool
    heading: str | None = None
    exclusive: bool | None = None
    validation: Validation | None = None


class Item(msgspec.Struct, kw_only=True, omit_defaults=True):
    # One struct for every item type (msgspec's tagged unions need one per type;
    # close enough for a parsing-speed reference).
    type: str
    id: str | None = None
    field: str | None = None
    description: str | None = None
    answer_limit: int | None = None
    disable_dropdown: bool | None = None
    helper_text: str | None = None
    options: list[Option] | None = None
    placeholder_text_input: str | None = None
    validation: Validation | None = None
    unit_options: list[Option] | None = None
    default_unit: str | None = None
    unit_position: str | None = None
    accepted_file_types: list[str] | None = None
    max_file_size_mb: float | None = None
    min_file_count: int | None = None
    max_file_count: int | None = None
    content: str | None = None
    content_format: str | None = None


class ColumnS(msgspec.Struct, kw_only=True, omit_defaults=True):
    items: list[Item]
    id: str | None = None


class RowS(msgspec.Struct, kw_only=True, omit_defaults=True):
    columns: list[ColumnS]
    id: str | None = None


class PageS(msgspec.Struct, kw_only=True, omit_defaults=True):
    rows: list[RowS]
    id: str | None = None


class Dataset(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    total_datapoint_count: int
    filename: str | None = None


class Details(msgspec.Struct, kw_only=True, omit_defaults=True):
    task_name: str
    task_introduction: str
    task_steps: str


class BatchS(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    created_at: datetime
    created_by: str
    datasets: list[Dataset]
    name: str
    status: str
    total_task_count: int
    total_instruction_count: int
    workspace_id: str
    task_details: Details
    schema_version: int | None = None
    total_task_groups: int | None = None
    batch_items: list[PageS] | None = None
    auto_sync_enabled: bool | None = None


class ListingS(msgspec.Struct, kw_only=True, omit_defaults=True):
    results: list[BatchS]


def batch_decoder() -> Any:
    return msgspec.json.Decoder(BatchS).decode


def listing_decoder() -> Any:
    return msgspec.json.Decoder(ListingS).decode
