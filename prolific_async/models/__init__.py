"""Plain attrs models of the API's objects, one module per noun; they know nothing of JSON."""

from .batches import Batch, BatchDataset, BatchStatus, TaskDetails

__all__ = ["Batch", "BatchDataset", "BatchStatus", "TaskDetails"]
