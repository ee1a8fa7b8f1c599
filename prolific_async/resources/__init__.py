"""Thin resource classes, one module per API noun; each method returns a typed model."""

from ._batch_results import BatchResultsMixin
from ._batch_setup import BatchSetupMixin
from .batches import BatchesResource
from .datasets import DatasetsResource

__all__ = ["BatchResultsMixin", "BatchSetupMixin", "BatchesResource", "DatasetsResource"]
