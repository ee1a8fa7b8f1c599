"""The options the official CLI's users expect: the config file, short flags, output formats.

Prolific's official CLI reads ``workspace:`` from ``~/.config/prolific-oss/prolific.yaml``,
takes ``-b``/``-d`` for the batch and dataset it works on, and prints ``--json``, CSV or a
table. The same spellings here mean the same things, so that a user of one finds the other
where they expect it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import keyword
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import click

from .._converter import converter
from ._exit import InputError, terminal_safe
from ._shared import print_json

__all__ = [
    "CONFIG_OPTION",
    "FORMATS",
    "OutputFormat",
    "arguments",
    "check_config",
    "config_path",
    "configured_workspace",
    "emit",
    "id_argument",
    "model_columns",
    "output_options",
    "print_csv",
    "workspace_option",
]

OutputFormat = Literal["table", "json", "csv"]
FORMATS: Final = ("table", "json", "csv")

#: Where ``ctx.meta`` keeps the top-level ``--config`` file (``None``: the default one).
CONFIG_OPTION: Final = "prolific_async.config"


def config_path() -> Path:
    """The official CLI's config file: ``$HOME/.config/prolific-oss/prolific.yaml``."""
    return Path(os.path.expanduser("~")) / ".config" / "prolific-oss" / "prolific.yaml"


def _config_text(path: Path, *, explicit: bool) -> str | None:
    """The config file's text; ``None`` for a missing default file.

    Raises:
        InputError: the file cannot be read (exit 2); a ``--config`` file that does not
            exist too.
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not explicit:
            return None
        raise InputError(f"the config file {path} does not exist (--config)") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise InputError(f"cannot read the config file {path}: {reason}") from exc


def check_config(path: Path) -> None:
    """Refuse a ``--config`` file that is missing or unreadable, whatever the command.

    Only read, not parsed: a command that never needs the workspace does not fail on
    the file's YAML (the one that needs it does, naming the file).

    Raises:
        InputError: as :func:`_config_text` (exit 2, naming the file).
    """
    _config_text(path, explicit=True)


def _read_config(path: Path, *, explicit: bool) -> dict[str, Any]:
    """The config file's mapping; a missing default file is an empty one.

    Raises:
        InputError: the file cannot be read, is not YAML or not a mapping (exit 2);
            a ``--config`` file that does not exist too.
    """
    text = _config_text(path, explicit=explicit)
    if text is None:
        return {}
    try:
        import yaml  # only a command that needs the workspace reads the file
    except ImportError as exc:
        raise InputError(f"reading {path} needs PyYAML: pip install 'prolific-async[cli]'") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise InputError(f"the config file {path} is not valid YAML: {problem}") from exc
    except RecursionError:  # thousands of nested [ or {
        raise InputError(f"the config file {path} is nested too deeply to read") from None
    except ValueError as exc:  # an integer beyond Python's cap on its digits
        raise InputError(f"the config file {path} holds a value too long to read") from exc
    if data is None:  # an empty file
        return {}
    if not isinstance(data, dict):
        raise InputError(
            f"the config file {path} must be a mapping such as 'workspace: <id>', "
            f"not a {type(data).__name__}"
        )
    return data


def configured_workspace(ctx: click.Context) -> str | None:
    """``workspace:`` from the ``--config`` file (or the default one), if it names one.

    Raises:
        InputError: the file is unusable, or its ``workspace`` is not a non-empty string.
    """
    given: Path | None = ctx.find_root().meta.get(CONFIG_OPTION)
    path = given if given is not None else config_path()
    value = _read_config(path, explicit=given is not None).get("workspace")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"the config file {path}: workspace must be a non-empty string")
    return value


def _workspace(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        return value
    configured = configured_workspace(ctx)
    if configured is None:
        raise click.MissingParameter(
            ctx=ctx,
            param=param,
            message=f"give it, or set 'workspace: <id>' in {config_path()} (or --config FILE)",
        )
    return configured


def workspace_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-w/--workspace-id``, defaulting to the config file's ``workspace:``."""
    return click.option(
        "-w",
        "--workspace-id",
        "workspace_id",
        default=None,
        callback=_workspace,
        help=f"{help} Default: 'workspace:' of the config file.",
    )


def id_argument(name: str, flag: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An id given as the argument ``NAME`` or as the official CLI's ``flag`` (``-b``).

    ``batches get ID`` and ``batches get -b ID`` are the same command.
    """
    return arguments((name, flag, None))


def arguments(
    *specs: tuple[str, str | None, click.ParamType[Any] | None],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Arguments each of which may be given as an option instead (``-d ID -f FILE``).

    ``specs`` are ``(name, flag, type)``: ``flag`` (``"-d"``) adds ``flag`` and
    ``--name`` as options, ``type`` converts the value (``None``: text). The arguments
    given fill, in order, the names not given as options: ``upload DS FILE``,
    ``upload -d DS FILE`` and ``upload -d DS -f FILE`` are the same command.
    """
    names = [name for name, _, _ in specs]

    def long(name: str) -> str:
        return "--" + name.replace("_", "-")

    def add(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def merged(*args: Any, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            given = list(kwargs.pop("given_arguments"))
            values: dict[str, Any] = {}
            for name, flag, kind in specs:
                value = kwargs.pop(f"{name}_given_as_option", None)
                if value is None and given:
                    value = given.pop(0)
                if value is None:
                    alternative = f" (or {flag} {name.upper()})" if flag else ""
                    raise click.UsageError(f"Missing argument '{name.upper()}'{alternative}.")
                values[name] = value if kind is None else _convert(kind, value, name, ctx)
            if given:
                extra = " ".join(given)
                raise click.UsageError(f"Got unexpected extra argument ({extra})")
            return command(*args, **values, **kwargs)

        decorated = merged
        for name, flag, _ in reversed(specs):
            if flag is not None:
                decorated = click.option(
                    flag,
                    long(name),
                    f"{name}_given_as_option",
                    metavar=name.upper(),
                    help=f"Same as the argument {name.upper()}.",
                )(decorated)
        metavar = " ".join(name.upper() for name in names)
        return click.argument("given_arguments", nargs=-1, metavar=metavar)(decorated)

    return add


def _convert(kind: click.ParamType[Any], value: str, name: str, ctx: click.Context) -> Any:
    try:
        return kind.convert(value, None, ctx)
    except click.BadParameter as exc:
        exc.param_hint = f"'{name.upper()}'"  # the message names the argument, as click's
        raise


def output_options(default: OutputFormat = "table") -> Callable[..., Any]:
    """``--format table|json|csv`` and its shorthands ``--json``/``--csv``/``--table``.

    The command gets the chosen format as ``output_format``; two that disagree are a
    usage error.
    """

    def add(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def merged(
            *args: Any,
            format_given: str | None,
            as_json: bool,
            as_csv: bool,
            as_table: bool,
            **kwargs: Any,
        ) -> Any:
            shorthands = [
                name
                for name, given in (("json", as_json), ("csv", as_csv), ("table", as_table))
                if given
            ]
            asked = shorthands + ([format_given] if format_given is not None else [])
            if len(set(asked)) > 1:
                flags = [f"--{name}" for name in shorthands]
                if format_given is not None:
                    flags.append(f"--format {format_given}")
                raise click.UsageError(f"{' and '.join(flags)} disagree: give one")
            chosen = asked[0] if asked else default
            return command(*args, output_format=chosen, **kwargs)

        formats = click.option(
            "--format",
            "format_given",
            type=click.Choice(FORMATS),
            default=None,
            help=f"How to print the result [default: {default}]. csv: one row per item.",
        )
        decorated = formats(merged)
        for name in reversed(FORMATS):  # --help lists --table, --json, --csv, then --format
            decorated = click.option(
                f"--{name}", f"as_{name}", is_flag=True, help=f"Same as --format {name}."
            )(decorated)
        return decorated

    return add


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)  # numbers, booleans and nested values


def _csv_rows(data: Any, column: str) -> list[dict[str, Any]]:
    items: Iterable[Any] = data if isinstance(data, list) else [data]
    return [item if isinstance(item, dict) else {column: item} for item in items]


def model_columns(model: type) -> list[str]:
    """The CSV columns of a model's rows: its fields, named as in its JSON.

    A field named for a Python keyword plus ``_`` is the keyword on the wire (the
    converter writes :class:`~prolific_async.models.BatchExport`'s ``from_`` as ``from``).
    """
    names = [field.name for field in attrs.fields(model)]
    return [
        name[:-1] if name.endswith("_") and keyword.iskeyword(name[:-1]) else name for name in names
    ]


def print_csv(data: Any, column: str = "value", columns: Iterable[str] | None = None) -> None:
    """Print ``data`` (JSON-shaped) as CSV: one row per item, a column per top-level key.

    A list is one row per element, anything else one row; nested values are JSON in
    their cell, ``null`` an empty one. A list of plain values (ids) has one ``column``.
    ``columns`` come first (a model's: :func:`model_columns`), so even an empty list
    prints its header row; an empty list of plain values prints ``column``.
    """
    rows = _csv_rows(data, column)
    if columns is None and data == []:
        columns = [column]
    header: dict[str, None] = dict.fromkeys(columns or ())
    for row in rows:
        header.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(_csv_cell(row.get(name)) for name in header)
    text = buffer.getvalue()
    # On a terminal, server text acts on nothing (\x1b shown); to a program, the data as
    # it is (color=True: click would strip what looks like a colour from it).
    if _on_terminal():
        click.echo(terminal_safe(text), nl=False)
    else:
        click.echo(text, nl=False, color=True)


def _on_terminal() -> bool:
    """Whether stdout is a terminal (not a pipe or a file)."""
    try:
        return sys.stdout is not None and sys.stdout.isatty()
    except (ValueError, OSError):  # closed or detached
        return False


def emit(
    output_format: str,
    data: Any,
    table: Callable[[], None],
    *,
    column: str = "value",
    item: type | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Print a result: ``table()`` for people, else ``data`` as JSON or CSV.

    Args:
        output_format: ``table``, ``json`` or ``csv``.
        data: a model, a list of them, or JSON-shaped values; unstructured only for
            JSON and CSV (a table shows what the model holds, even a date JSON cannot).
        table: prints the result for people.
        column: the CSV column of a list of plain values (ids).
        item: the model of a list's items: its CSV header, even for an empty list.
        extra: keys added to an object's JSON (a downloaded file's ``path``).
    """
    if output_format == "table":
        table()
        return
    data = converter.unstructure(data)
    if extra:
        data = {**data, **extra}
    if output_format == "json":
        print_json(data)
    elif output_format == "csv":
        print_csv(data, column, model_columns(item) if item is not None else None)
