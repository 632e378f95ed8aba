"""One daemon per store: an exclusive ``flock`` on a lock file next to the database.

Two daemons on one file would both record and both heartbeat as the same terminal.
SQLite's own locks only serialise their writes, so the daemon takes this lock before
it opens the database and holds it for its life. ``flock`` locks belong to the open
file, so the kernel drops the lock when the holder exits, however it dies (SIGKILL
included): there is no stale lock to clean up, unlike a pid file. The holder's pid is
written into the file for the message the second process prints.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from edge.store.db import translate_os_error
from edge.store.errors import StoreLockedError


def lock_path(path: Path) -> Path:
    """The lock file of the database at ``path``."""
    return Path(f"{path}.lock")


def _open(path: Path) -> tuple[int, bool]:
    """The lock file's descriptor, and whether it can be written (for the pid)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644), True
    except PermissionError:
        # Made by another user (root ran the daemon once): flock works on a
        # read-only descriptor too, only the pid cannot be recorded.
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC), False


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        return int(text) if text else None
    return None


def _in_use(path: Path, pid: int | None) -> StoreLockedError:
    holder = f"pid {pid}" if pid is not None else "another process"
    return StoreLockedError(
        f"{path} is in use by another hadir edge daemon ({holder}): one daemon per store; "
        "stop the other one first (systemctl stop hadir-edge)"
    )


class StoreLock:
    """The held lock; :meth:`release` (or closing the store) lets it go. Idempotent."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, db_path: Path) -> StoreLock:
        """Take the lock of the database at ``db_path`` without waiting.

        Raises :class:`StoreLockedError` when another process holds it, and the store's
        I/O errors (e.g. :class:`StoreReadOnlyError`) when the lock file cannot be made.
        """
        path = lock_path(db_path)
        try:
            fd, writable = _open(path)
        except OSError as exc:
            raise translate_os_error(exc, path=path, action="lock the store") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise _in_use(db_path, pid) from exc
            raise translate_os_error(exc, path=path, action="lock the store") from exc
        if writable:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return cls(path, fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            # Closing the descriptor drops the flock; the file stays for the next holder.
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None


def lock_holder(db_path: Path) -> int | None:
    """The pid holding the lock of ``db_path`` (0 when the pid is unknown), or ``None``
    when nobody holds it. Takes no lock that outlives the call (``hadir edge doctor``)."""
    path = lock_path(db_path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return _read_pid(fd) or 0
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
