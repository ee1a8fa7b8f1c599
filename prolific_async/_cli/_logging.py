"""``-v/--verbose``: the library's log (every request and attempt) on stderr."""

from __future__ import annotations

import logging
import os
from typing import Final

import click

from .._logging import logger
from ._exit import terminal_safe

__all__ = ["LOGGER_NAME", "enable_verbose_logging"]

#: The library's logger; its records never hold the token (the library redacts them).
LOGGER_NAME: Final = logger.name


class _StderrHandler(logging.Handler):
    """Writes each record to the stderr of the moment (a test's capture, a redirect)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(terminal_safe(self.format(record)), err=True)
        except Exception:  # a log line must never stop a command
            self.handleError(record)


def enable_verbose_logging() -> None:
    """Log the library at DEBUG on stderr, as ``PROLIFIC_LOG=debug`` does.

    ``PROLIFIC_LOG`` is set too, so that a client made afterwards reads the same level;
    the handler is added once, however many commands run in the process.
    """
    os.environ["PROLIFIC_LOG"] = "debug"
    logger.setLevel(logging.DEBUG)
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
