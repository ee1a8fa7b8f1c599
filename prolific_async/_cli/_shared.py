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
from yarl import URL

from .._client import ProlificClient
from .._config import DEFAULT_BASE_URL, is_loopback, shown_url
from .._polling import DEFAULT_MAX_POLL_INTERVAL, DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT
from ..errors import InputFileError, MissingTokenError, ProlificError
from ._exit import CommandError, InputError, json_text, message_of, shorten, terminal_safe

__all__ = [
    "call",
    "check_output",
    "client_from_environment",
    "json_option",
    "note",
    "os_message",
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


def _check_url(url: str) -> None:
    """Refuse a ``PROLIFIC_URL`` that is not an http(s) URL with a host, saying so."""
    problem = None
    try:
        parsed = URL(url)
        _ = parsed.port  # parsed lazily: an out-of-range port raises here
        if parsed.scheme not in ("http", "https") or not parsed.host:
            problem = "it is not an http(s) URL with a host"
        elif parsed.user is not None or parsed.password is not None:
            raise InputError(  # the URL without them: a password is never repeated
                f"PROLIFIC_URL holds a user name or password; set it without them "
                f"({parsed.with_user(None)}): the API token is the credential"
            )
    except ValueError as exc:  # yarl: "Invalid IPv6 URL", a bad port, a bad host
        problem = f"it cannot be parsed ({shown_url(str(exc))})"
    if problem is not None:
        raise InputError(
            f"PROLIFIC_URL={shown_url(url)!r} is not usable: {problem}; set it to the API's "
            "root, such "
            f"as {DEFAULT_BASE_URL} (or unset it for that default)"
        )
    insecure_ok = os.environ.get("PROLIFIC_ALLOW_INSECURE_HTTP") == "1"
    if parsed.scheme == "http" and not is_loopback(parsed.host or "") and not insecure_ok:
        # The library's own message names its Python argument; a shell user sets variables.
        raise InputError(
            f"PROLIFIC_URL={shorten(url)!r} is plain http to another machine: the API token "
            "would travel in the clear. Use https, or set PROLIFIC_ALLOW_INSECURE_HTTP=1 if "
            "you really mean it"
        )


def client_from_environment(**settings: Any) -> ProlificClient:
    """A client for ``PROLIFIC_TOKEN`` and ``PROLIFIC_URL``, or the reason there is none.

    Raises:
        InputError: no token, or a ``PROLIFIC_URL`` (or another setting) the client
            refuses (exit 2).
    """
    url = os.environ.get("PROLIFIC_URL")
    if url:
        _check_url(url)
    try:
        return ProlificClient(**settings)
    except (MissingTokenError, ValueError) as exc:
        raise InputError(message_of(exc)) from exc


def call(make: Callable[[ProlificClient], Awaitable[T]]) -> T:
    """Run ``make`` with a client made from the environment, and map its errors.

    Returns:
        What ``make`` returned.

    Raises:
        CommandError: a :class:`~prolific_async.errors.ProlificError` (exit 1; a missing
            token exits 2), or a file that could not be read or written (exit 1).
        InputError: no token, a bad ``PROLIFIC_URL``, or an argument the client refused
            with a ``ValueError`` (exit 2).
    """

    async def go() -> T:
        async with client_from_environment() as client:
            return await make(client)

    try:
        return asyncio.run(go())
    except MissingTokenError as exc:
        raise InputError(message_of(exc)) from exc
    except ProlificError as exc:
        raise CommandError(message_of(exc)) from exc
    except ValueError as exc:
        raise InputError(message_of(exc)) from exc
    except OSError as exc:
        raise CommandError(os_message(exc)) from exc


def os_message(exc: OSError) -> str:
    """``<reason>: <file>`` for a file error, without Python's ``[Errno n]``."""
    reason = exc.strerror or str(exc)
    return f"{reason}: {exc.filename}" if exc.filename else reason


def check_output(path: Path, option: str) -> None:
    """Refuse an output path that cannot be written, before any request is sent.

    ``path`` may be a file (created or replaced) or an existing directory to write into.
    Checked before the request that would make work on the server (an export job), so
    a typo costs nothing; the message names the user's path, not a temporary file.

    Raises:
        click.BadParameter: it is a device, pipe or socket (the file is written beside it
            and renamed over it), or its directory is missing, is not a directory, or
            cannot be written to (exit 2).
    """
    folder = path if path.is_dir() else path.parent
    if path.exists() and not path.is_dir() and not path.is_file():
        problem = "it is not a regular file (a device, a pipe or a socket)"
    elif not folder.exists():
        problem = f"the directory {str(folder)!r} does not exist"
    elif not folder.is_dir():
        problem = f"{str(folder)!r} is not a directory"
    elif not os.access(folder, os.W_OK | os.X_OK):
        problem = f"the directory {str(folder)!r} cannot be written to"
    else:
        return
    raise click.BadParameter(f"cannot write {str(path)!r}: {problem}", param_hint=f"'{option}'")


def read_file(load: Callable[[Path], T], path: Path, option: str) -> T:
    """Read an option's file with one of the public loaders, before anything is sent.

    Raises:
        click.BadParameter: the file is unusable (exit 2); the message names the file
            and where in it the problem is.
    """
    hint = f"'{option}'"
    try:
        return load(path)
    except InputFileError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from exc
    except RecursionError as exc:  # JSON nested thousands of levels deep
        raise click.BadParameter(f"{path}: nested too deeply to read", param_hint=hint) from exc
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint=hint) from exc


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout, for scripts.

    Text prints as it is, unless it holds a lone surrogate (a server may send one as a
    valid JSON escape), which UTF-8 cannot encode: then the JSON is all ASCII escapes.
    """
    text = json_text(data, indent=2)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, indent=2)
    click.echo(text)


def out() -> Console:
    """The stdout console for tables: a terminal's width, or wide enough for ids in pipes."""
    wide = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(highlight=False, soft_wrap=True, width=PIPE_WIDTH if wide else None)


def say(message: str | Text) -> None:
    """Print one summary line to stdout (no markup: names and URLs print as they are)."""
    out().print(message if isinstance(message, Text) else Text(terminal_safe(message)))


def note(message: str) -> None:
    """Tell a person at a terminal what is being waited for (nothing in pipes)."""
    if stderr.is_terminal:
        stderr.print(Text(terminal_safe(message), style="dim"))


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
