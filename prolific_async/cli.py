"""The ``prolific-async`` command.

Its dependencies (click, rich, and PyYAML for the official CLI's config file) live in the
optional ``[cli]`` extra, so the library itself stays small; without them the command says
how to install them.
"""

from __future__ import annotations

import sys

__all__ = ["entry_point", "main"]

_INSTALL_HINT = (
    "The prolific-async command needs the 'cli' extra (click, rich, and PyYAML for the "
    "config file):\n"
    "    pip install 'prolific-async[cli]'\n"
)


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return its status."""
    try:
        from ._cli import run  # the commands and the client: most of a start-up's time
    except ImportError as exc:
        if (exc.name or "").split(".")[0] in ("click", "rich"):
            sys.stderr.write(_INSTALL_HINT)
            return 2
        raise
    except KeyboardInterrupt:  # Ctrl-C while they load: as during a command, no traceback
        sys.stderr.write("Interrupted.\n")
        return 130
    return run(argv)


def entry_point() -> None:
    """The console script: exit with :func:`main`'s status."""
    # A server's text may hold what the terminal's encoding cannot (a lone surrogate):
    # printed as an escape rather than ending the command with UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    sys.exit(main())
