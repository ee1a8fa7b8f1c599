"""Thin resource classes, one module per API noun; each method returns a typed model."""

from .batches import BatchesResource

__all__ = ["BatchesResource"]
