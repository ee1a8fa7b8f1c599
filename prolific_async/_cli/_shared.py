"""What every command shares: the consoles, the one client call, JSON output, common options."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import click
from rich.console import Console
from rich.text import Text

from .._client import ProlificClient
from .._polling import DEFAULT_MAX_POLL_INTERVAL, DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT
from ..errors import InputFileError, ProlificError

__all__ = [
    "call",
    "json_option",
    "note",
    "out",
    "poll_option",
    "print_json",
    "read_file",
    "say",
    "stderr",
    "stdout",
    "timeout_option",
]

T = TypeVar("T")

#: Messages, errors and the progress bar; and the provisioning summary's tables.
stderr = Console(stderr=True, highlight=False, soft_wrap=True)
stdout = Console(highlight=False, soft_wrap=True)

#: The width available to tables written to a pipe or file, so that no id is folded (a
#: table is only as wide as its content; at a terminal, the terminal's width is used).
PIPE_WIDTH: Final = 400


def call(make: Callable[[ProlificClient], Awaitable[T]]) -> T:
    """Run ``make`` with a client made from the environment, and map its errors.

    Returns:
        What ``make`` returned.

    Raises:
        click.ClickException: a :class:`~prolific_async.errors.ProlificError` (exit 1,
            its message on stderr).
        click.UsageError: the client refused an argument with a ``ValueError`` (exit 2).
    """

    async def go() -> T:
        async with ProlificClient() as client:
            return await make(client)

    try:
        return asyncio.run(go())
    except ProlificError as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def read_file(load: Callable[[Path], T], path: Path, option: str) -> T:
    """Read an option's file with one of the public loaders, before anything is sent.

    Raises:
        click.BadParameter: the file is unusable (exit 2); the message names the file
            and where in it the problem is.
    """
    try:
        return load(path)
    except InputFileError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{option}'") from exc


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout, for scripts."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def out() -> Console:
    """The stdout console for tables: a terminal's width, or wide enough for ids in pipes."""
    wide = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(highlight=False, soft_wrap=True, width=PIPE_WIDTH if wide else None)


def say(message: str | Text) -> None:
    """Print one summary line to stdout (no markup: names and URLs print as they are)."""
    out().print(message if isinstance(message, Text) else Text(message))


def note(message: str) -> None:
    """Tell a person at a terminal what is being waited for (nothing in pipes)."""
    if stderr.is_terminal:
        stderr.print(Text(message, style="dim"))


# -- options -------------------------------------------------------------------------

_seconds = click.FloatRange(min=0, min_open=True)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of a table."
)
poll_option = click.option(
    "--poll-interval",
    type=_seconds,
    default=DEFAULT_POLL_INTERVAL,
    show_default=True,
    help=(
        "Seconds before the first poll again; each wait is 1.5 times longer "
        f"(at most {DEFAULT_MAX_POLL_INTERVAL:g} s)."
    ),
)


def timeout_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``--timeout`` option of a command that waits ``what``."""
    return click.option(
        "--timeout",
        type=_seconds,
        default=DEFAULT_WAIT_TIMEOUT,
        show_default=True,
        help=f"Seconds to wait {what}, polls included; then exit 1.",
    )
