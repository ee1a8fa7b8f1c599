"""``prolific-async completion bash|zsh|fish``: the shell's completion script (click's)."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

__all__ = ["completion"]

#: The variable click's completion reads: ``_<PROG>_COMPLETE`` in capitals.
COMPLETE_VAR = "_PROLIFIC_ASYNC_COMPLETE"


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script (bash, zsh or fish).

    \b
    bash:  eval "$(prolific-async completion bash)"   (in ~/.bashrc)
    zsh:   eval "$(prolific-async completion zsh)"    (in ~/.zshrc)
    fish:  prolific-async completion fish > ~/.config/fish/completions/prolific-async.fish
    """  # noqa: D301 (not raw: click keeps the lines after a real backspace, \b, as they are)
    completer = get_completion_class(shell)
    if completer is None:  # click knows all three; a newer click may drop one
        raise click.UsageError(f"click has no completion for {shell}")
    root = ctx.find_root().command
    click.echo(completer(root, {}, "prolific-async", COMPLETE_VAR).source())
