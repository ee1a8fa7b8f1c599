"""The ``prolific-async`` command line (click, rich and PyYAML, from the ``[cli]`` extra).

One module per command group, each defining its commands and knowing nothing of the
others (``batches`` and ``datasets`` span several: ``_batches`` registers the commands
of ``_batch_setup``, ``_batch_sync`` and ``_batch_results``, ``_datasets`` those of
``_dataset_changes``); this module builds the top-level group from them. What they share (consoles,
the client call, JSON output, common options) is in :mod:`._shared`; how results look
(tables), in :mod:`._render`; the provisioning progress bar and summary, in :mod:`._summary`.

How a command ends (the exit-status table, the ``error:`` format) is in :mod:`._exit`.
"""

from __future__ import annotations

from pathlib import Path

import click

from .._version import __version__
from ._batches import batches
from ._completion import completion
from ._datasets import datasets
from ._emulator import emulator
from ._exit import EXIT_STATUS_HELP, run_command
from ._journal import journal
from ._logging import enable_verbose_logging
from ._options import CONFIG_OPTION, check_config
from ._provision import provision

__all__ = ["app", "run"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_STATUS_HELP)
@click.version_option(__version__, prog_name="prolific-async")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    default=None,
    help="The config file whose 'workspace:' is the default -w/--workspace-id "
    "[default: ~/.config/prolific-oss/prolific.yaml]; a given one that is missing or "
    "unreadable is a usage error for every command.",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Log every request and attempt on stderr (token hidden)."
)
@click.pass_context
def app(ctx: click.Context, config: str | None, verbose: bool) -> None:
    """Prolific AI Task Builder from the command line.

    API commands read the token from PROLIFIC_TOKEN and the API's URL from PROLIFIC_URL
    (default https://api.prolific.com; plain http only to this machine, or with
    PROLIFIC_ALLOW_INSECURE_HTTP=1), and the default workspace from the official CLI's
    config file, like Prolific's official CLI.
    """
    if config == "":  # a variable that was not set, as in --config "$FILE"
        raise click.BadParameter("is empty: name a file", param_hint="'--config'")
    path = None if config is None else Path(config)
    if path is not None:  # given, so it must be usable, whatever the command
        check_config(path)
    ctx.meta[CONFIG_OPTION] = path
    if verbose:
        enable_verbose_logging()


app.add_command(batches)
app.add_command(completion)
app.add_command(datasets)
app.add_command(emulator)
app.add_command(journal)
app.add_command(provision)


def run(argv: list[str] | None) -> int:
    """Run the command group; return an exit status instead of exiting."""
    return run_command(app, argv)
