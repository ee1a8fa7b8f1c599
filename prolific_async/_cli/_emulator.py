"""``prolific-async emulator``: serve the embedded API emulator in the foreground."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import click

from .._config import SENDABLE_RULE, sendable_token
from ._exit import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    broken_output,
    output_message,
    print_error,
)
from ._shared import check_output, os_message

__all__ = ["emulator"]


def _token(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty (leave it out for a random token)")
    if value is not None and not sendable_token(value.strip()):  # never quoted: a token
        raise click.BadParameter(SENDABLE_RULE)
    return value


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not math.isfinite(value):  # FloatRange lets inf and nan through
        raise click.BadParameter(f"must be a finite number of seconds, got {value}")
    return value


def _named(host: str) -> str:
    """``--host``, refused when empty: aiohttp would listen on every interface."""
    if not host.strip():
        raise click.BadParameter("must name an interface, such as 127.0.0.1 (the default)")
    return host


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    callback=lambda _ctx, _param, value: _named(value),
    help="The interface to listen on (0.0.0.0: every one, reachable from other machines).",
)
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port.",
)
@click.option(
    "--token", default=None, callback=_token, help="Token clients must send (default: random)."
)
@click.option("--seed", default=None, type=int, help="Seed for ids and faults.")
@click.option(
    "--latency",
    default=0.0,
    type=click.FloatRange(min=0.0),
    callback=_finite,
    help="Seconds added to each request.",
)
@click.option(
    "--tls",
    is_flag=True,
    help="Serve HTTPS with a throwaway CA; print SSL_CERT_FILE=<path> (prolific-async[tls]).",
)
@click.option(
    "--legacy-exports",
    is_flag=True,
    help="Answer export requests the older way: 200 'complete' with the URL at once, no"
    " job (to test a client written against that older answer).",
)
@click.option(
    "--legacy-v3-uploads",
    is_flag=True,
    help="Give a V3 dataset's upload URL no import_id, as the API docs describe it (to"
    " test a client written against the docs; the official CLI needs the import_id).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Once listening, write the 'export NAME=value' lines to this file (to source).",
)
def emulator(
    host: str,
    port: int,
    token: str | None,
    seed: int | None,
    latency: float,
    tls: bool,
    legacy_exports: bool,
    legacy_v3_uploads: bool,
    env_file: Path | None,
) -> int:
    """Serve the embedded API emulator until Ctrl-C or SIGTERM, printing its URL and token.

    The variables print as NAME=value lines and as `export NAME=value` lines; with
    --env-file they are written to a file too, once the emulator listens, so another
    shell can wait for it and run `source FILE`. It never exits on its own.
    """
    from ..testing._serve import listen_refusal, serve  # loaded only for this command

    if sys.stdout is None:  # started with stdout closed (``>&-``)
        print_error("stdout is closed: the emulator prints its URL and token there")
        return EXIT_USAGE
    if env_file is not None:
        check_output(env_file, "--env-file")  # before the port is taken
    try:
        asyncio.run(
            serve(
                host=host,
                port=port,
                token=token,
                seed=seed,
                latency=latency,
                tls=tls,
                legacy_exports=legacy_exports,
                legacy_v3_uploads=legacy_v3_uploads,
                env_file=env_file,
            )
        )
    except KeyboardInterrupt:  # Ctrl-C where no signal handler could be installed
        pass
    except ImportError as exc:  # --tls without the tls extra
        print_error(str(exc))
        return EXIT_FAILED
    except ValueError as exc:  # an argument the emulator refuses
        print_error(str(exc))
        return EXIT_USAGE
    except OSError as exc:
        if env_file is not None and exc.filename == str(env_file):
            print_error(f"cannot write --env-file: {os_message(exc)}")
        elif broken_output(exc):  # ``| true``: the reader of its URL and token is gone
            print_error(f"cannot print the emulator's URL and token: {output_message(exc)}")
        elif (refusal := listen_refusal(exc, host, port)) is not None:
            print_error(refusal)  # a --port taken, a --host not here: not the API's fault
            return EXIT_USAGE
        else:
            print_error(f"cannot listen on {host}:{port}: {exc}")
        return EXIT_FAILED
    return EXIT_OK
