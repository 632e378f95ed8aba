"""SQLite connections of the store, and the translation of sqlite3 errors.

Thread model: one connection per thread, made on first use. In WAL mode a
reader never blocks the writer, so the sync thread loading 100,000 templates
or reading a batch of 500 events does not delay the recognition loop's commit;
writers queue on SQLite's own lock (``busy_timeout``). Every connection has a
lock of its own, uncontended in normal use, which lets :meth:`close` wait for a
thread's statement to finish before closing its connection. An in-memory
database (unit tests) exists only inside its one connection, so that single
connection is shared by every thread under the same kind of lock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from edge.store.errors import (
    StoreBusyError,
    StoreClosedError,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    StoreIOError,
    StoreReadOnlyError,
)

# Primary result codes (the low byte of an extended code).
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26

# SQLite reports ENOSPC as SQLITE_FULL but EFBIG (RLIMIT_FSIZE) and some
# filesystems' ENOSPC-on-fsync as a plain I/O error; these margins decide when
# an I/O error is really "no space left".
_LOW_SPACE_BYTES = 1 << 20
_FSIZE_SLACK_BYTES = 64 << 10

WAL_SIZE_LIMIT_BYTES = 4 << 20


def companion_files(path: Path) -> tuple[Path, Path, Path]:
    """The database file, its WAL and its rollback journal."""
    return path, Path(f"{path}-wal"), Path(f"{path}-journal")


def _looks_full(path: Path | None) -> bool:
    if path is None:
        return False
    try:
        stat = os.statvfs(path.parent)
        if stat.f_bavail * stat.f_frsize < _LOW_SPACE_BYTES:
            return True
    except OSError:
        pass
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft == resource.RLIM_INFINITY:
        return False
    for item in companion_files(path):
        with contextlib.suppress(OSError):
            if item.stat().st_size >= soft - _FSIZE_SLACK_BYTES:
                return True
    return False


def _not_writable(path: Path | None) -> bool:
    if path is None:
        return False
    # access() also reports EROFS for root, unlike a permission-bit check.
    if path.exists():
        return not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK)
    return path.parent.exists() and not os.access(path.parent, os.W_OK)


def translate(exc: sqlite3.Error, *, path: Path | None, action: str) -> StoreError:
    """The store error for a sqlite3 error; the caller raises it ``from exc``."""
    code = getattr(exc, "sqlite_errorcode", None)
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    primary = code & 0xFF if isinstance(code, int) else None
    where = str(path) if path is not None else ":memory:"
    detail = f"{action}: {where}: {exc} ({name})"
    if primary == _SQLITE_FULL or (primary == _SQLITE_IOERR and _looks_full(path)):
        return StoreFullError(
            f"{action}: {where}: no space left (disk full or file-size limit reached); "
            f"nothing was written ({name})"
        )
    if primary in (_SQLITE_READONLY, _SQLITE_PERM):
        if _not_writable(path):
            return StoreReadOnlyError(
                f"{action}: {where}: this user cannot write the file (owner or permissions, "
                f"or a read-only mount) ({name})"
            )
        return StoreReadOnlyError(f"{action}: {where}: the database is read-only ({name})")
    if primary == _SQLITE_CANTOPEN:
        if _not_writable(path):
            return StoreReadOnlyError(
                f"{action}: {where}: cannot open for writing (read-only file system or "
                f"permissions) ({name})"
            )
        return StoreIOError(detail)
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StoreBusyError(detail)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StoreCorruptError(detail)
    if primary == _SQLITE_IOERR:
        return StoreIOError(detail)
    return StoreError(detail)


def translate_os_error(exc: OSError, *, path: Path, action: str) -> StoreError:
    """The store error for an ``OSError`` raised around the database (e.g. making its folder)."""
    detail = f"{action}: {path}: {exc.strerror or exc}"
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        return StoreReadOnlyError(detail)
    if exc.errno in (errno.ENOSPC, errno.EFBIG):
        return StoreFullError(detail)
    return StoreIOError(detail)


def fsync_directory(path: Path) -> None:
    """Make a new file's directory entry durable (SQLite syncs the file, not its folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(eq=False)
class _Slot:
    db: Database
    thread: threading.Thread | None
    lock: threading.RLock = field(default_factory=threading.RLock)
    closed: bool = False

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                with contextlib.suppress(sqlite3.Error):
                    self.db.close()


class ConnectionPool:
    """Connections to one database: one per thread for a file, one shared for memory."""

    def __init__(
        self,
        path: Path | None,
        *,
        read_only: bool = False,
        synchronous: str = "full",
        busy_timeout_s: float = 5.0,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self._synchronous = synchronous.upper()
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._slots: list[_Slot] = []
        self._slots_lock = threading.Lock()
        self._closed = False
        self._shared: _Slot | None = None
        if path is None:
            self._shared = _Slot(self._connect(), None)
            self._slots.append(self._shared)

    @property
    def closed(self) -> bool:
        return self._closed

    def _connect(self) -> Database:
        if self.path is None:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        elif self.read_only:
            conn = sqlite3.connect(
                self.path.resolve().as_uri() + "?mode=ro",
                uri=True,
                timeout=self._busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_s,
                isolation_level=None,
                # Used by its own thread only; close() may run in another one.
                check_same_thread=False,
            )
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            # Without a limit a WAL that once grew large stays large after checkpoints.
            conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
            return Database(conn, recursive_triggers=False, execute_plugins=False)
        except BaseException:
            conn.close()
            raise

    def _slot(self) -> _Slot:
        if self._shared is not None:
            return self._shared
        slot: _Slot | None = getattr(self._local, "slot", None)
        if slot is not None and not slot.closed:
            return slot
        slot = _Slot(self._connect(), threading.current_thread())
        with self._slots_lock:
            if self._closed:
                slot.close()
                raise StoreClosedError("the store is closed")
            # Scheduler pools replace worker threads; their connections go with them.
            for old in [s for s in self._slots if s.thread is not None and not s.thread.is_alive()]:
                old.close()
                self._slots.remove(old)
            self._slots.append(slot)
        self._local.slot = slot
        return slot

    @contextlib.contextmanager
    def connection(self) -> Iterator[Database]:
        """This thread's connection, held for the duration of the block."""
        if self._closed:
            raise StoreClosedError("the store is closed")
        slot = self._slot()
        with slot.lock:
            if slot.closed:
                raise StoreClosedError("the store is closed")
            yield slot.db

    def connection_count(self) -> int:
        with self._slots_lock:
            return sum(1 for s in self._slots if not s.closed)

    def close(self) -> None:
        """Close every connection, waiting for statements in flight. Idempotent."""
        with self._slots_lock:
            self._closed = True
            slots, self._slots = self._slots, []
        for slot in slots:
            slot.close()
