"""What the server's operations refuse, and why, without HTTP.

The operations (people, terminals, shifts, reports, review) serve both the API and the admin
web, which answer a refusal in their own ways (JSON, a page). So they raise these, never an
HTTP error; the status code is chosen once, in :func:`sync_server.errors.http_status`.
``reason`` is the stable machine-readable code the API's error body carries.
"""

from __future__ import annotations

from edge.errors import HadirError


class DomainError(HadirError):
    """An operation refused: ``reason`` for machines, ``detail`` for a human."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class NotFoundError(DomainError, LookupError):
    """The thing named does not exist."""


class PersonNotFoundError(NotFoundError):
    def __init__(self, person_id: str) -> None:
        super().__init__("unknown_person", f"no person {person_id!r}")


class TerminalNotFoundError(NotFoundError):
    def __init__(self, terminal_id: str) -> None:
        super().__init__("unknown_terminal", f"no terminal {terminal_id!r}")


class ShiftNotFoundError(NotFoundError):
    def __init__(self, shift_id: int) -> None:
        super().__init__("unknown_shift", f"no shift {shift_id}")


class ConflictError(DomainError, ValueError):
    """The request clashes with what is stored (exists already, in use, not set up)."""


class UnacceptableError(DomainError, ValueError):
    """The request is well-formed but its content cannot be used (a photo without a face,
    a range too long)."""
