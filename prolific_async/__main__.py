"""``python -m prolific_async``: the same as the ``prolific-async`` command."""

from .cli import entry_point

entry_point()
