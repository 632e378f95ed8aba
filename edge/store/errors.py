"""Errors of the edge store.

Each leaf also subclasses the builtin a caller would naturally catch, like the
rest of hadir: a full disk is an ``OSError``, a read-only database a
``PermissionError``, a malformed enrolment page a ``ValueError``. sqlite3
errors never leave the store untranslated; the original is chained as
``__cause__``.
"""

from __future__ import annotations

from edge.errors import HadirError


class StoreError(HadirError):
    """Root of every error the edge store raises."""


class StoreClosedError(StoreError, RuntimeError):
    """The store was used after :meth:`~edge.store.EdgeStore.close`."""


class StoreIOError(StoreError, OSError):
    """The database file could not be opened, read or written."""


class StoreFullError(StoreIOError):
    """The disk (or the process's file-size limit) is full; nothing was written."""


class StoreReadOnlyError(StoreIOError, PermissionError):
    """The database is read-only (permissions, a read-only mount, or opened read-only)."""


class StoreBusyError(StoreError, TimeoutError):
    """Another connection held the write lock for longer than ``busy_timeout_s``."""


class StoreLockedError(StoreError, RuntimeError):
    """Another process (a second daemon) holds the store's exclusive lock."""


class StoreCorruptError(StoreError, RuntimeError):
    """The file is damaged or is not an SQLite database."""


class NotAStoreError(StoreError, ValueError):
    """The file is an SQLite database, but not one written by hadir's edge store."""


class SchemaTooNewError(StoreError, RuntimeError):
    """The database was written by a newer hadir; this version refuses to touch it."""


class EventError(StoreError, ValueError):
    """An attendance event cannot be built from the given values (bad id, distance, clock)."""


class EnrolmentPageError(StoreError, ValueError):
    """An enrolment page is malformed or out of order; nothing of it was applied."""
