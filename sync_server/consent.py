"""Consent to face templates: recorded before enrolment, withdrawn on request.

A face template is biometric data: Indonesia's personal data protection law (UU 27/2022) and
the GDPR want the person's explicit consent before it is made, and let them withdraw it. So a
person gets templates (photos or imports) only while a consent is on record and not withdrawn
(:func:`require`, checked in the transaction that stores the template), and withdrawing it
erases their templates everywhere (``people.withdraw_consent``). Rows are never deleted: the
history of who consented when, to which text, is the site's proof (docs/privacy.md).

This module knows nothing of people beyond their id, so ``people`` can use it without an
import cycle; the operations that also touch templates live in ``sync_server.people``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from edge.clock import utc_now
from sync_server import audit
from sync_server.db import Database, consents, people
from sync_server.domain_errors import ConflictError, PersonNotFoundError
from sync_server.schemas import ConsentGive, ConsentInfo

Channel = Literal["web", "api", "cli"]
CHANNELS: tuple[Channel, ...] = ("web", "api", "cli")
CONSENT_MISSING = "consent_missing"


@dataclass(frozen=True, slots=True)
class Grant:
    """A consent about to be recorded, every default resolved."""

    text_version: str
    collected_by: str
    channel: Channel


def grant(body: ConsentGive, *, actor: str, default_version: str, channel: Channel | None) -> Grant:
    """What ``body`` records: the site's text version and the actor unless it names others;
    ``channel`` overrides the body's (the web records its own)."""
    return Grant(
        text_version=body.text_version or default_version,
        collected_by=body.collected_by or actor,
        channel=channel or body.channel,
    )


def _info(row: Row[Any]) -> ConsentInfo:
    return ConsentInfo(
        given_at=row.given_at,
        collected_by=row.collected_by,
        text_version=row.text_version,
        channel=row.channel,
        withdrawn_at=row.withdrawn_at,
        withdrawn_by=row.withdrawn_by,
    )


def _audit_values(person_id: str, info: ConsentInfo) -> dict[str, Any]:
    return {"person_id": person_id, **info.model_dump()}


def current(conn: Connection, person_id: str) -> ConsentInfo | None:
    """The consent in force: the newest one not withdrawn; None without one."""
    row = conn.execute(
        sa.select(consents)
        .where(consents.c.person_id == person_id, consents.c.withdrawn_at.is_(None))
        .order_by(consents.c.given_at.desc(), consents.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _info(row)


def history(conn: Connection, person_id: str) -> list[ConsentInfo]:
    """Every consent on record for the person, oldest first."""
    rows = conn.execute(
        sa.select(consents)
        .where(consents.c.person_id == person_id)
        .order_by(consents.c.given_at, consents.c.id)
    ).all()
    return [_info(r) for r in rows]


def missing_detail(person_id: str, withdrawn: bool) -> str:
    """What an admin reads when a photo or template is refused for want of consent."""
    state = "withdrew their consent" if withdrawn else "has no consent on record"
    return (
        f"{person_id} {state} to face templates: record the person's consent first (the "
        "consent form on their page in the admin web, POST /api/v1/admin/people/"
        f"{person_id}/consent, or hadir person consent {person_id}), then enrol the photos"
    )


def require(conn: Connection, person_id: str) -> None:
    """Raise ``ConflictError`` consent_missing unless a consent is in force."""
    if current(conn, person_id) is not None:
        return
    withdrawn = (
        conn.execute(
            sa.select(consents.c.id).where(consents.c.person_id == person_id).limit(1)
        ).first()
        is not None
    )
    raise ConflictError(CONSENT_MISSING, missing_detail(person_id, withdrawn))


def record(
    conn: Connection, person_id: str, given: Grant, *, actor: str, now: datetime
) -> ConsentInfo:
    """Record a consent in the caller's transaction (the person exists). A consent already
    in force for the same text is kept as it is: a form sent twice records one."""
    existing = current(conn, person_id)
    if existing is not None and existing.text_version == given.text_version:
        return existing
    conn.execute(
        sa.insert(consents).values(
            person_id=person_id,
            given_at=now,
            collected_by=given.collected_by[:64],
            text_version=given.text_version,
            channel=given.channel,
        )
    )
    info = ConsentInfo(
        given_at=now,
        collected_by=given.collected_by[:64],
        text_version=given.text_version,
        channel=given.channel,
    )
    audit.record(
        conn,
        actor=actor,
        action="create",
        entity="consent",
        entity_id=person_id,
        now=now,
        before=None if existing is None else _audit_values(person_id, existing),
        after=_audit_values(person_id, info),
    )
    return info


def give(db: Database, person_id: str, given: Grant, *, actor: str) -> ConsentInfo:
    """Record a person's consent (404 for an unknown person)."""
    now = utc_now()
    with db.write() as conn:
        # The person's row is locked, so a withdrawal or deletion at the same time takes turns.
        found = conn.execute(
            sa.select(people.c.id).where(people.c.id == person_id).with_for_update()
        ).first()
        if found is None:
            raise PersonNotFoundError(person_id)
        return record(conn, person_id, given, actor=actor, now=now)


def end(conn: Connection, person_id: str, *, actor: str, now: datetime) -> list[ConsentInfo]:
    """Withdraw every consent in force, in the caller's transaction; returns them as ended."""
    rows = conn.execute(
        sa.select(consents)
        .where(consents.c.person_id == person_id, consents.c.withdrawn_at.is_(None))
        .order_by(consents.c.given_at, consents.c.id)
    ).all()
    ended: list[ConsentInfo] = []
    for row in rows:
        conn.execute(
            sa.update(consents)
            .where(consents.c.id == row.id)
            .values(withdrawn_at=now, withdrawn_by=actor[:64])
        )
        before = _info(row)
        after = before.model_copy(update={"withdrawn_at": now, "withdrawn_by": actor[:64]})
        audit.record(
            conn,
            actor=actor,
            action="withdraw",
            entity="consent",
            entity_id=person_id,
            now=now,
            before=_audit_values(person_id, before),
            after=_audit_values(person_id, after),
        )
        ended.append(after)
    return ended


def states(conn: Connection, person_ids: list[str]) -> dict[str, ConsentInfo | None]:
    """For a list page: each person's consent in force, or None; one query."""
    if not person_ids:
        return {}
    rows = conn.execute(
        sa.select(consents)
        .where(consents.c.person_id.in_(person_ids), consents.c.withdrawn_at.is_(None))
        .order_by(consents.c.given_at, consents.c.id)
    ).all()
    found: dict[str, ConsentInfo | None] = dict.fromkeys(person_ids)
    for row in rows:
        found[row.person_id] = _info(row)  # the newest wins
    return found
