"""``prolific-async emulator``: serve the embedded API emulator in the foreground."""

from __future__ import annotations

import asyncio

import click

__all__ = ["emulator"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--token", default=None, help="Token clients must send (default: random).")
@click.option("--seed", default=None, type=int, help="Seed for ids and faults.")
@click.option("--latency", default=0.0, type=float, help="Seconds added to each request.")
@click.option(
    "--tls",
    is_flag=True,
    help="Serve HTTPS with a throwaway CA; print SSL_CERT_FILE=<path> (prolific-async[tls]).",
)
def emulator(
    host: str, port: int, token: str | None, seed: int | None, latency: float, tls: bool
) -> int:
    """Serve the embedded API emulator until Ctrl-C, printing its URL and token."""
    from ..testing._serve import serve  # the emulator's modules load only for this command

    try:
        asyncio.run(serve(host=host, port=port, token=token, seed=seed, latency=latency, tls=tls))
    except KeyboardInterrupt:  # Ctrl-C where no signal handler could be installed
        pass
    except ImportError as exc:  # --tls without the tls extra
        click.echo(f"error: {exc}", err=True)
        return 1
    except OSError as exc:
        click.echo(f"error: cannot listen on {host}:{port}: {exc}", err=True)
        return 1
    return 0
