"""Every endpoint's path template, written once (ids are quoted in by ``_resource.expand``)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "BATCHES_PATH",
    "BATCH_TEMPLATE",
    "DATASETS_PATH",
    "DATASET_TEMPLATE",
    "DUPLICATE_TEMPLATE",
    "EXPORT_TEMPLATE",
    "MIGRATION_TEMPLATE",
    "SYNC_JOB_TEMPLATE",
    "SYNC_TEMPLATE",
]

BATCHES_PATH: Final = "/api/v1/data-collection/batches"
BATCH_TEMPLATE: Final = BATCHES_PATH + "/{batch_id}"
DUPLICATE_TEMPLATE: Final = BATCH_TEMPLATE + "/duplicate"
EXPORT_TEMPLATE: Final = BATCH_TEMPLATE + "/export/{export_id}"
SYNC_TEMPLATE: Final = BATCH_TEMPLATE + "/sync"
SYNC_JOB_TEMPLATE: Final = BATCH_TEMPLATE + "/syncs/{sync_id}"
DATASETS_PATH: Final = "/api/v1/data-collection/datasets"
DATASET_TEMPLATE: Final = DATASETS_PATH + "/{dataset_id}"
MIGRATION_TEMPLATE: Final = DATASET_TEMPLATE + "/schema-migrations/{job_id}"
