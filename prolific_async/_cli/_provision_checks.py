"""What ``provision`` checks before it sends anything: its paths, and the journal's fit."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .._journal import Journal
from .._journal_reader import keys_changed
from .._manifest import ManifestError, Stamp, read_manifest
from ..bulk import fingerprint
from ..errors import ProlificError
from ._exit import message_of
from ._shared import check_output

__all__ = ["journal_refusal", "path_refusal"]


def _same_file(first: Path, second: Path) -> bool:
    if first.resolve() == second.resolve():
        return True
    with contextlib.suppress(OSError):  # hard links: one file under two names
        return first.exists() and second.exists() and os.path.samefile(first, second)
    return False


def path_refusal(manifest: Path, journal: Path | None, results: Path | None) -> str | None:
    """Why the manifest, --journal or --results cannot be used, before anything is read."""
    if not manifest.is_file():  # a pipe, /dev/stdin, <(...): read once, it is empty after
        return (
            f"the manifest {manifest} is not a regular file: it is read twice (checked "
            "whole, then sent), which a pipe cannot be; save it to a file first"
        )
    for path, option in ((results, "--results"), (journal, "--journal")):
        if path is not None and path.is_dir():  # "" too: the current directory
            return f"{option} {str(path)!r} names a directory: name a file"
    if results is not None:
        for other, what in ((manifest, "the manifest"), (journal, "the --journal")):
            if other is not None and _same_file(results, other):
                return (
                    f"--results {results} is {what}: it would be overwritten; "
                    "choose another file for the results"
                )
        check_output(results, "--results")
    if journal is not None:
        if _same_file(journal, manifest):
            return f"--journal {journal} is the manifest; choose another file for the journal"
        check_output(journal, "--journal")
    return None


def journal_refusal(manifest: Path, stamp: Stamp, journal: Path, use_emulator: bool) -> str | None:
    """Why the journal cannot be used with this manifest, if it cannot."""
    mismatch = _journal_mismatch(manifest, Journal(journal), stamp)
    if mismatch:
        return mismatch
    if use_emulator and journal.exists() and journal.stat().st_size > 0:
        return (
            f"{journal} holds an earlier run, but the emulator keeps no state "
            "between runs: its batches are gone, so that run cannot be resumed against "
            "a new emulator. Delete the journal or choose another --journal."
        )
    return None


def _journal_mismatch(manifest: Path, journal: Journal, stamp: Stamp) -> str | None:
    """Compare the journal with every line before anything is sent."""
    try:
        # One item at a time; kept are the manifest's keys and its unkeyed lines new to
        # the journal (a key taken away shows as such a line, checked once all are read).
        keys: set[str] = set()
        new_unkeyed: dict[str, int] = {}
        with journal.reading("mixed") as recorded:
            for index, (line, request) in enumerate(read_manifest(manifest, checked=stamp)):
                key = request.key
                entry = recorded.get(key if key is not None else index)
                printed = fingerprint(request)
                if entry is not None and entry.fingerprint != printed:
                    return (
                        f"{manifest}:{line} differs from what {journal.path} recorded for "
                        "it: the journal belongs to another manifest, or the line changed "
                        "since. To run changed lines, put them in a manifest of their own "
                        "with a new --journal (a new journal for this whole manifest would "
                        "make its finished lines again)"
                    )
                if key is not None:
                    keys.add(key)
                    if entry is None and recorded.recorded_by_position(index, printed):
                        return keys_changed(journal.path, f"{manifest}:{line}", index, key)
                elif entry is None:
                    new_unkeyed.setdefault(printed, line)
            if new_unkeyed:
                for recorded_key, printed in recorded.keyed_fingerprints():
                    # A key still in the manifest matched its own entry: not taken away.
                    if recorded_key not in keys and printed in new_unkeyed:
                        where = f"{manifest}:{new_unkeyed[printed]}"
                        return keys_changed(journal.path, where, recorded_key, None)
    except (ProlificError, ManifestError) as exc:
        return message_of(exc)
    except (RecursionError, KeyError, TypeError, AttributeError) as exc:
        return (
            f"{journal.path} holds a record this version cannot read "
            f"({type(exc).__name__}: {exc}); is it a prolific-async journal?"
        )
    return None
