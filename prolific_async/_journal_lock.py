"""The exclusive lock of one run on one journal.

A run holds an exclusive ``flock`` on a sidecar file, ``<journal>.lock``, from the moment
it opens the journal until it closes it, and writes its process id there; a second run
on the same journal, in this process or another, is refused at once and told who holds
it. The kernel drops the lock when the process dies, so a killed run never leaves a
journal locked. (SQLite's own locks could not say who holds them, nor refuse a second
connection of this same process.)

Another name of the same file is refused too: the sidecar is named after the journal's
real path (symbolic links and ``..`` resolved), and on Linux the run also holds a
``flock`` on the journal file itself, which a hard link shares (in this process, a table
of the files held, by device and inode, refuses it before anything is opened: closing a
second descriptor of the file would drop SQLite's own locks on it).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Final

from .errors import JournalError

__all__ = ["RunLock"]


#: The journal files held by runs of this process, by (device, inode).
_HELD: Final[dict[tuple[int, int], Path]] = {}


class RunLock:
    """The exclusive lock of one run on one journal: ``flock`` on ``<journal>.lock``.

    With ``file`` (the default), the journal file itself is locked too, so a hard link
    to it is refused as well.
    """

    def __init__(self, path: Path, fd: int, file: tuple[int, tuple[int, int]] | None) -> None:
        self.path = path
        self._fd: int | None = fd
        self._file = file

    @staticmethod
    def lock_path(journal: Path) -> Path:
        """The sidecar lock file of ``journal``, beside its real path (links resolved)."""
        real = Path(os.path.realpath(journal))
        return real.with_name(real.name + ".lock")

    @classmethod
    def acquire(cls, journal: Path, *, file: bool = True) -> RunLock:
        """Take the lock, or refuse at once if another run holds it (under any name).

        ``file``: also lock the journal file itself (created empty if missing), which
        every hard link of it shares.

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
            held = _lock_file(journal) if file else None
            if file:
                _one_name(journal)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            os.close(fd)
            raise JournalError(f"cannot lock the journal {journal}: {exc}") from exc
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, held)

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
        """Drop the lock (the file stays: removing it would race the next run).

        Call it once the journal's connections are closed: closing the journal file's
        descriptor drops every lock this process holds on it, SQLite's too.
        """
        held, self._file = self._file, None
        if held is not None:
            file_fd, inode = held
            _HELD.pop(inode, None)
            _unlock(file_fd)
            os.close(file_fd)
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            _unlock(fd)
            os.close(fd)


def _lock_file(journal: Path) -> tuple[int, tuple[int, int]] | None:
    """Lock the journal file itself; its descriptor and inode (``None``: not on Linux).

    Raises:
        JournalError: a run holds the file under another name.
        OSError: the file cannot be opened or made.
    """
    if not sys.platform.startswith("linux"):  # pragma: no cover - the suite runs on Linux
        # Only Linux keeps flock apart from the fcntl locks SQLite takes on the file (BSD
        # and macOS may not; Windows locks are mandatory): elsewhere the sidecar's is the lock.
        return None
    inode = _inode(journal)
    if inode is not None and inode in _HELD:
        raise JournalError(
            f"{journal} is in use by another run in this process (PID {os.getpid()}), "
            f"as {_HELD[inode]}; wait for it to end"
        )
    fd = os.open(journal, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            raise JournalError(
                f"{journal} is in use by another run, which opened it under another "
                "name (a link to the same file); wait for it to end"
            )
        stat = os.fstat(fd)
    except BaseException:
        os.close(fd)  # no connection of this process has the file open: none loses a lock
        raise
    inode = (stat.st_dev, stat.st_ino)
    _HELD[inode] = journal
    return fd, inode


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


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


def _one_name(journal: Path) -> None:
    """Refuse a journal file with more than one name (hard links).

    SQLite keeps a journal's latest commits in a file beside the name it was opened by
    (``NAME-wal``) until they are folded in: opened by another name after a crash, the
    journal would look as if those items were never done, and a resume would make their
    batches again.
    """
    try:
        links = os.stat(journal).st_nlink
    except OSError:
        return  # not made yet: SQLite creates it under this one name
    if links > 1:
        raise JournalError(
            f"{journal} has {links} names (hard links): SQLite keeps a journal's latest "
            "commits beside the name it was opened by, so a journal used under two names "
            "can lose them after a crash. Remove the other links and use one name."
        )
