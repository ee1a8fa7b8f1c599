"""How the command ends: the one exit-status table, the one error format, short messages.

Every command ends through :func:`run_command`: a result, or an ``error: <message>`` line
on stderr and a status from :data:`EXIT_STATUS_HELP`'s table. Nothing a user or a server
can cause prints a Python traceback; an exception the code did not expect is reported as
one ``error:`` line too (and exit 1), naming its type so that it can be reported.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import signal
from typing import Any, Final, TypeGuard

import click

from ..errors import MissingTokenError

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_STATUS_HELP",
    "EXIT_USAGE",
    "SIGNAL_STATUS",
    "CommandError",
    "InputError",
    "broken_output",
    "exit_status_for",
    "json_text",
    "message_of",
    "output_message",
    "print_error",
    "run_command",
    "shorten",
    "terminal_safe",
    "unexpected",
]

EXIT_OK: Final = 0
#: An API error, a request or a wait that failed, any item of a run that failed.
EXIT_FAILED: Final = 1
#: Usage or bad input: options, a manifest, a journal, an input file, a missing token.
EXIT_USAGE: Final = 2

#: The table, as ``--help`` prints it (``\b``: click keeps the lines as they are).
EXIT_STATUS_HELP: Final = """\b
Exit status (the same for every command):
  0    success
  1    an API error, or any item failed
  2    usage or bad input (options, manifest, journal, missing token)
  130  interrupted by SIGINT (Ctrl-C)
  143  stopped by SIGTERM
  129  stopped by SIGHUP
The emulator, which serves until it is stopped, exits 0 on Ctrl-C or SIGTERM."""

#: The message for a missing token, written for a shell user (the library's says
#: ``token=...``, a Python argument).
NO_CREDENTIALS_MESSAGE: Final = (
    "no Prolific API token: set the PROLIFIC_TOKEN environment variable (create a token "
    "in the Prolific app under Settings > API tokens)"
)

#: Longest quoted value kept whole in a message, and longest message.
VALUE_LIMIT: Final = 200
MESSAGE_LIMIT: Final = 4000

# A quoted value as repr() writes one ('...' or "..."), opening after a non-word
# character, so that the apostrophe of "server's" never starts one. Possessive
# quantifiers keep a 10 MB value without its closing quote linear.
_QUOTED: Final = re.compile(
    r"""(?<!\w)(?:'(?:[^'\\\n]++|\\.)*+'|"(?:[^"\\\n]++|\\.)*+")(?!\w)""", re.DOTALL
)


def exit_status_for(signum: int) -> int:
    """The status of a run stopped by signal ``signum``: 128 + its number, as shells use."""
    return 128 + signum


#: The statuses of the three signals a run stops on.
SIGNAL_STATUS: Final = {
    signal.SIGINT: exit_status_for(signal.SIGINT),
    signal.SIGTERM: exit_status_for(signal.SIGTERM),
    signal.SIGHUP: exit_status_for(signal.SIGHUP),
}


def _shorten_value(match: re.Match[str]) -> str:
    value = match.group()
    if len(value) <= VALUE_LIMIT + 2:
        return value
    if len(value) <= VALUE_LIMIT + 5 and value[-4:-1] == "...":
        return value  # already cut so, by the library (``_json.shortened_repr``)
    quote = value[0]
    return f"{value[: VALUE_LIMIT + 1]}...{quote} ({len(value) - 2} characters)"


def shorten(message: str) -> str:
    """``message`` with each long quoted value cut to its start, and at most a few KB.

    A 10 MB value in a manifest or an answer must not be echoed whole: each quoted value
    over :data:`VALUE_LIMIT` characters keeps its start, an ellipsis and its length.
    """
    if len(message) > VALUE_LIMIT:
        message = _QUOTED.sub(_shorten_value, message)
    if len(message) > MESSAGE_LIMIT:
        message = f"{message[:MESSAGE_LIMIT]}... ({len(message)} characters)"
    return message


#: A write to stdout or stderr that failed: a full disk, a closed pipe or descriptor.
_OUTPUT_ERRNOS: Final = frozenset(
    {errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EBADF, errno.EFBIG, errno.EDQUOT}
)


def broken_output(exc: BaseException) -> TypeGuard[OSError]:
    """Whether ``exc`` is a failed write to the command's output (it names no file)."""
    return isinstance(exc, OSError) and exc.filename is None and exc.errno in _OUTPUT_ERRNOS


def output_message(exc: OSError) -> str:
    """The message for a failed write to the output: what failed, not "a bug"."""
    return f"cannot write the command's output: {exc.strerror or exc}"


#: What a server's text must not put on a terminal: C0 controls but newline and tab
#: (ESC starts colours, cursor moves, window titles, OSC 8 links), DEL, C1 controls
#: (U+009B is a CSI on its own) and the bidirectional controls that reorder a line
#: (embeddings, overrides, isolates, and the marks U+200E, U+200F and U+061C).
_UNSAFE: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
#: The same, less the C0 controls, which ``json.dumps`` already escapes.
_JSON_UNSAFE: Final = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every control character a terminal would act on shown as an escape."""
    return _UNSAFE.sub(_escaped, text)


def json_text(data: Any, **options: Any) -> str:
    r"""``json.dumps(data, ensure_ascii=False)``, with what a terminal acts on escaped.

    The escapes are JSON's own (``\\u009b``): the value a script reads is unchanged.
    """
    text = json.dumps(data, ensure_ascii=False, **options)
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def message_of(exc: BaseException) -> str:
    """What to tell a shell user about ``exc`` (the library's words, where they fit)."""
    if isinstance(exc, MissingTokenError):
        return no_token_message()
    return str(exc) or type(exc).__name__


def no_token_message() -> str:
    """The missing-token message; one set to nothing (``PROLIFIC_TOKEN=``) is named as such."""
    if os.environ.get("PROLIFIC_TOKEN") is not None:  # set, but empty or blank
        return "PROLIFIC_TOKEN is set but empty: " + NO_CREDENTIALS_MESSAGE.removeprefix(
            "no Prolific API token: "
        )
    return NO_CREDENTIALS_MESSAGE


def print_error(message: str) -> None:
    """Print ``error: <message>`` on stderr, shortened, as every failure is reported."""
    click.echo(f"error: {terminal_safe(shorten(message))}", err=True)


def unexpected(exc: BaseException) -> str:
    """The message for an exception the command did not expect, naming its type."""
    return (
        f"unexpected {type(exc).__name__}: {message_of(exc)} (a bug, or an answer the "
        "client cannot handle: please report it to the prolific-async issue tracker)"
    )


class CommandError(click.ClickException):
    """A command failed (exit 1); printed as ``error: <message>``."""

    exit_code = EXIT_FAILED

    def show(self, file: Any = None) -> None:
        """Print the message in the one error format."""
        print_error(self.format_message())


class InputError(CommandError):
    """Bad input found before anything was sent (exit 2)."""

    exit_code = EXIT_USAGE


#: A bare group's "error" that is its help (click 8.2 on; 8.1 prints the help, exit 0).
_NO_ARGS_IS_HELP: Final[type[click.UsageError] | None] = getattr(
    click.exceptions, "NoArgsIsHelpError", None
)


def _show_usage_error(exc: click.UsageError) -> None:
    """Click's usage line and help hint, then the message in the one error format."""
    ctx = exc.ctx
    if ctx is not None:
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            option = max(ctx.command.get_help_option_names(ctx), key=len)
            hint = f"Try '{ctx.command_path} {option}' for help.\n"
        click.echo(f"{ctx.get_usage()}\n{hint}", err=True)
    print_error(exc.format_message())


def run_command(app: click.Command, argv: list[str] | None) -> int:
    """Run ``app``; return its exit status, every failure printed as ``error: ...``."""
    try:
        result = app.main(args=argv, prog_name="prolific-async", standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C outside a run that handles it
        click.echo("Interrupted.", err=True)
        return SIGNAL_STATUS[signal.SIGINT]
    except click.UsageError as exc:
        if _NO_ARGS_IS_HELP is not None and isinstance(exc, _NO_ARGS_IS_HELP):
            click.echo(exc.format_message(), err=True)  # a bare group: its help, no error
        else:
            _show_usage_error(exc)
        return EXIT_USAGE
    except click.ClickException as exc:
        print_error(exc.format_message())
        return exc.exit_code
    except MissingTokenError:
        print_error(no_token_message())
        return EXIT_USAGE
    except Exception as exc:  # the last line of defence: an error line, no traceback
        with contextlib.suppress(OSError):  # stderr may be the broken output
            print_error(output_message(exc) if broken_output(exc) else unexpected(exc))
        return EXIT_FAILED
    return result if isinstance(result, int) else EXIT_OK
