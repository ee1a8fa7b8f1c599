"""The one base class of the package's models.

It holds the models' ``__weakref__`` slot, so each model keeps only its fields' slots of
its own. Two classes with the same base and the same slots then have the same layout, and
CPython lets an object change its class between them: a decoded object is filled in as a
plain (unfrozen) twin of its model, one fast slot store per field, and then becomes the
model (see ``_fast_build``). With a ``__weakref__`` slot of the model's own, CPython
3.11 refuses that change, as the slot sits after the fields (3.12 and later accept it).
"""

from __future__ import annotations

__all__ = ["Model"]


class Model:
    """The base of every model: its weak-reference slot, and nothing else."""

    __slots__ = ("__weakref__",)
