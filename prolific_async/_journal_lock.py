"""The exclusive lock of one run on one journal.

A run holds an exclusive ``flock`` on a sidecar file, ``<journal>.lock``, from the moment
it opens the journal until it closes it, and writes its process id there; a second run
on the same journal, in this process or another, is refused at once and told who holds
it. The kernel drops the lock when the process dies, so a killed run never leaves a
journal locked. (SQLite's own locks could not say who holds them, nor refuse a second
connection of this same process.)
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from .errors import JournalError

__all__ = ["RunLock"]


class RunLock:
    """The exclusive lock of one run on one journal: ``flock`` on ``<journal>.lock``."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @staticmethod
    def lock_path(journal: Path) -> Path:
        """The sidecar lock file of ``journal``."""
        return journal.with_name(journal.name + ".lock")

    @classmethod
    def acquire(cls, journal: Path) -> RunLock:
        """Take the lock, or refuse at once if another run holds it.

        Raises:
            JournalError: another run holds it (named by its process id, where the lock
                file says), or the lock file cannot be made.
        """
        path = cls.lock_path(journal)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(f"cannot lock the journal {journal}: {exc}") from exc
        try:
            if not _try_lock(fd):
                raise JournalError(f"{journal} is in use by {_holder(fd)}; wait for it to end")
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            os.close(fd)
            raise JournalError(f"cannot lock the journal {journal}: {exc}") from exc
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    @classmethod
    def holder(cls, journal: Path) -> str | None:
        """Who holds the lock of ``journal`` now (``None`` when no run does)."""
        try:
            fd = os.open(cls.lock_path(journal), os.O_RDONLY)
        except OSError:
            return None
        try:
            if _try_lock(fd):
                _unlock(fd)
                return None
            return _holder(fd)
        finally:
            os.close(fd)

    def release(self) -> None:
        """Drop the lock (the file stays: removing it would race the next run)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            _unlock(fd)
            os.close(fd)


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        pid = os.read(fd, 32).decode().strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    if not pid.isdigit():
        return "another run"
    if int(pid) == os.getpid():
        return f"another run in this process (PID {pid})"
    return f"another run (process {pid})"


if sys.platform == "win32":  # pragma: no cover - the suite runs on POSIX
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        # flock, not fcntl's record locks: it is held per open file, so a second open
        # in this same process is refused too (a record lock would be shared with it).
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
