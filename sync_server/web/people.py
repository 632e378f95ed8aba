"""The people pages: list and search, enrol with photos, a person's page, add photos, delete,
consent (record, withdraw) and the export of everything held about a person.

Photos go through the same enrolment as the JSON API, so a photo's rejection reason is the
API's code (shown with its words in the page's language) and its detail and the duplicate-face
warning are the API's, word for word. Every change is made as the
logged-in admin (``actor``: their username, in the audit trail and as who collected a consent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
import structlog
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from edge.clock import utc_now
from sync_server import consent, people, person_export, review, shifts
from sync_server.db import events, templates
from sync_server.db import people as people_table
from sync_server.deps import Services, services
from sync_server.domain_errors import DomainError
from sync_server.errors import ApiError, http_status
from sync_server.schemas import ConsentGive, PersonCreate
from sync_server.web import charts
from sync_server.web.forms import MAX_PHOTOS, field_problems, text
from sync_server.web.i18n import N_, Lang
from sync_server.web.render import LIST_LIMIT, PREFIX, Page, redirect, render
from sync_server.web.session import admin_router, load_page, load_post

log = structlog.get_logger(__name__)

PERSON_FLAGGED = 50  # flagged events on a person's page
CONSENT_FIELD = "consent"  # the checkbox: the person has read and accepted the consent text

# What these pages say from Python (the templates say the rest): marked for the catalogue
# here, translated into the page's language where they are shown (docs/web.md, "Languages").
TEXT = {
    "enrolled": N_("enrolled"),
    "already_enrolled": N_("already enrolled (same photo)"),
    "choose_photo": N_("choose at least one photo"),
    "no_photo": N_("(none)"),
    "empty_file": N_("the file is empty"),
    "confirm": N_("Type %(id)s to confirm"),
    "tick_consent": N_("tick the box once the person has read and accepted the consent text"),
    "bad_version": N_("the consent text version: letters, digits, '.', '_' or '-', at most 32"),
}

# A refused photo's reason in words, by the code the enrolment refused it with: the image
# checks (edge.errors), the face's quality (edge.recognize.quality.QualityIssue, the first
# failed), the person's record (sync_server.people, consent) and this page's own. The code
# stays on the page beside the words, for support.
PHOTO_REASONS = {
    "unusable_image": N_("the image cannot be used"),
    "unreadable": N_("not a readable image"),
    "too_large": N_("the image is too large"),
    "too_small": N_("too small (the image or the face)"),
    "no_face": N_("no face found"),
    "several_faces": N_("several faces"),
    "poor_quality": N_("the face cannot be used"),
    "blurred": N_("blurred"),
    "turned_away": N_("the face is turned away"),
    "tilted": N_("the head is tilted"),
    "too_dark": N_("too dark"),
    "too_bright": N_("too bright"),
    "unknown_person": N_("no such person"),
    "consent_missing": N_("no consent on record"),
    "too_many_templates": N_("the person has as many photos as allowed"),
    "photo_exists": N_("a photo already enrolled"),
    "not_same_person": N_("not the same person"),
    "missing_photo": N_("no photo chosen"),
}

router = admin_router()


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _people_list(svc: Services, q: str) -> tuple[list[Any], int, dict[str, Any]]:
    count = sa.func.count(templates.c.id).label("templates")
    query = (
        sa.select(
            people_table.c.id,
            people_table.c.name,
            people_table.c.group_name,
            people_table.c.department,
            people_table.c.employee_id,
            count,
        )
        .select_from(people_table.outerjoin(templates, templates.c.person_id == people_table.c.id))
        .group_by(people_table.c.id)
        .order_by(people_table.c.name, people_table.c.id)
    )
    if q:
        pattern = _like(q)
        query = query.where(
            sa.or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        people_table.c.id,
                        people_table.c.name,
                        people_table.c.department,
                        people_table.c.employee_id,
                        people_table.c.group_name,
                    )
                )
            )
        )
    with svc.db.read() as conn:
        rows = conn.execute(query.limit(LIST_LIMIT + 1)).all()
        total = int(conn.execute(sa.select(sa.func.count()).select_from(people_table)).scalar_one())
        consents = consent.states(conn, [r.id for r in rows])
    return list(rows), total, consents


async def _people_page(
    request: Request,
    page: Page,
    *,
    status: int = 200,
    problem: str | None = None,
    values: Mapping[str, str] | None = None,
) -> HTMLResponse:
    svc = services(request)
    q = request.query_params.get("q", "").strip()
    rows, total, consents = await run_in_threadpool(_people_list, svc, q)
    return render(
        page,
        "people.html",
        status=status,
        people=rows[:LIST_LIMIT],
        consents=consents,
        consent_version=svc.settings.privacy.consent_text_version,
        more=len(rows) > LIST_LIMIT,
        total=total,
        q=q,
        problem=problem,
        values=values or {"group": "default"},
        max_photos=MAX_PHOTOS,
    )


@router.get("/people")
async def people_page(request: Request) -> Response:
    return await _people_page(request, await load_page(request))


@dataclass(slots=True)
class PhotoResult:
    """One uploaded photo's fate, shown next to its file name."""

    filename: str
    accepted: bool
    reason: str = ""  # the code, as the API answers it
    detail: str = ""
    warnings: tuple[str, ...] = ()
    reason_words: str = ""  # the code in the page's language


def _refused(filename: str, reason: str, detail: str, lang: Lang) -> PhotoResult:
    # A code this table lacks (one added to the enrolment later) is still readable as itself.
    words = lang.gettext(PHOTO_REASONS[reason]) if reason in PHOTO_REASONS else reason
    return PhotoResult(filename, False, reason, detail, reason_words=words)


async def _enrol_photos(
    svc: Services, person_id: str, form: FormData, actor: str, lang: Lang
) -> list[PhotoResult]:
    # One call for the whole upload: the photos of a new person are checked against each other.
    results: list[PhotoResult | None] = []
    photos: list[tuple[bytes, str]] = []
    for upload in form.getlist("photos"):
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        name = upload.filename[:200]
        data = await upload.read()
        if not data:
            results.append(_refused(name, "unreadable", lang.gettext(TEXT["empty_file"]), lang))
            continue
        results.append(None)
        photos.append((data, name))
    force = text(form, "force_photo") == "yes"
    outcomes = iter(await people.enrol_photos(svc, person_id, photos, force=force, actor=actor))
    return [_photo_result(next(outcomes), lang) if r is None else r for r in results]


def _photo_result(outcome: people.PhotoOutcome, lang: Lang) -> PhotoResult:
    if outcome.answer is None:
        error = outcome.error
        assert error is not None
        return _refused(outcome.name, error.reason, str(error.detail), lang)
    answer = outcome.answer
    detail = lang.gettext(TEXT["enrolled"] if answer.created else TEXT["already_enrolled"])
    return PhotoResult(outcome.name, True, "", detail, tuple(w.detail for w in answer.warnings))


@router.post("/people")
async def enrol_person(request: Request) -> Response:
    session, form, page = await load_post(request)
    svc = services(request)
    values = {k: text(form, k) for k in ("id", "name", "group", "department", "consent_version")}
    values[CONSENT_FIELD] = text(form, CONSENT_FIELD)
    try:
        try:
            given = (
                ConsentGive(text_version=values["consent_version"] or None)
                if values[CONSENT_FIELD] == "yes"
                else None
            )
            body = PersonCreate(
                id=values["id"], name=values["name"], group=values["group"], consent=given
            )
            department = (
                shifts.PersonAttendanceUpdate(department=values["department"])
                if values["department"]
                else None
            )
        except ValidationError as exc:
            return await _people_page(
                request, page, status=422, problem=field_problems(exc), values=values
            )
        try:
            await run_in_threadpool(
                partial(
                    people.create,
                    svc.db,
                    body,
                    actor=session.username,
                    consent_version=svc.settings.privacy.consent_text_version,
                    channel="web",
                )
            )
            if department is not None:
                await run_in_threadpool(
                    partial(
                        shifts.update_person_attendance,
                        svc.db,
                        body.id,
                        department,
                        actor=session.username,
                    )
                )
        except (ApiError, DomainError) as exc:
            return await _people_page(
                request, page, status=http_status(exc), problem=str(exc.detail), values=values
            )
        log.info("web_person_created", username=session.username, person_id=body.id)
        results = await _enrol_photos(svc, body.id, form, session.username, page.lang)
    finally:
        await form.close()
    return await _person_page(request, page, body.id, results=results, created=True)


def _person_data(svc: Services, person_id: str) -> dict[str, Any]:
    with svc.db.read() as conn:
        info = people.load(conn, person_id)
        attendance = shifts.person_attendance(conn, person_id)
        # The latest flagged events, open or reviewed (newest first).
        query = review.review_query(
            include_reviewed=True, person_id=person_id, limit=PERSON_FLAGGED
        ).order_by(None)
        flagged = conn.execute(query.order_by(events.c.corrected_time.desc(), events.c.id)).all()
        consents = consent.history(conn, person_id)
    return {
        "info": info,
        "consents": consents,
        "attendance": attendance,
        "flagged": [review.review_item(r._mapping) for r in flagged],
    }


async def _person_page(
    request: Request,
    page: Page,
    person_id: str,
    *,
    results: list[PhotoResult] | None = None,
    created: bool = False,
    status: int = 200,
    consent_problem: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    svc = services(request)
    try:
        data = await run_in_threadpool(_person_data, svc, person_id)
        chart_month = charts.month_nav(request, page.tz)
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    return render(
        page,
        "person.html",
        status=status,
        chart_month=chart_month,
        person=data["info"],
        consents=data["consents"],
        consent_version=svc.settings.privacy.consent_text_version,
        consent_problem=consent_problem,
        notice=notice,
        attendance=data["attendance"],
        flagged=data["flagged"],
        results=results or [],
        created=created,
        max_photos=MAX_PHOTOS,
    )


@router.get("/people/{person_id}")
async def person_page(request: Request, person_id: str) -> Response:
    return await _person_page(request, await load_page(request), person_id)


@router.post("/people/{person_id}/photos")
async def add_photos(request: Request, person_id: str) -> Response:
    session, form, page = await load_post(request)
    try:
        results = await _enrol_photos(
            services(request), person_id, form, session.username, page.lang
        )
    finally:
        await form.close()
    if not results:
        words = page.lang
        results = [
            _refused(
                words.gettext(TEXT["no_photo"]),
                "missing_photo",
                words.gettext(TEXT["choose_photo"]),
                words,
            )
        ]
    return await _person_page(request, page, person_id, results=results)


async def _confirm_page(
    page: Page, svc: Services, person_id: str, template: str, *, wrong_id: bool = False
) -> HTMLResponse:
    """The page that asks for the person's id before a deletion or a consent's withdrawal;
    again with a 422 and the reason when the id typed was not theirs."""
    try:
        data = await run_in_threadpool(_person_data, svc, person_id)
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    problem = page.lang.gettext(TEXT["confirm"], id=person_id) if wrong_id else None
    return render(
        page, template, status=422 if wrong_id else 200, person=data["info"], problem=problem
    )


@router.get("/people/{person_id}/delete")
async def confirm_delete_person(request: Request, person_id: str) -> Response:
    page = await load_page(request)
    return await _confirm_page(page, services(request), person_id, "person_delete.html")


@router.post("/people/{person_id}/delete")
async def delete_person(request: Request, person_id: str) -> Response:
    session, form, page = await load_post(request)
    svc = services(request)
    if text(form, "confirm") != person_id:
        return await _confirm_page(page, svc, person_id, "person_delete.html", wrong_id=True)
    try:
        version = await run_in_threadpool(
            partial(people.delete, svc.db, person_id, actor=session.username)
        )
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    log.info("web_person_deleted", username=session.username, person_id=person_id, version=version)
    return redirect(f"{PREFIX}/people?deleted={quote(person_id)}")


@router.post("/people/{person_id}/consent")
async def give_consent(request: Request, person_id: str) -> Response:
    """Record the person's consent, collected by the logged-in admin."""
    session, form, page = await load_post(request)
    await form.close()
    svc = services(request)
    if text(form, CONSENT_FIELD) != "yes":
        return await _person_page(
            request,
            page,
            person_id,
            status=422,
            consent_problem=page.lang.gettext(TEXT["tick_consent"]),
        )
    try:
        body = ConsentGive(text_version=text(form, "consent_version") or None)
    except ValidationError:
        return await _person_page(
            request,
            page,
            person_id,
            status=422,
            consent_problem=page.lang.gettext(TEXT["bad_version"]),
        )
    given = consent.grant(
        body,
        actor=session.username,
        default_version=svc.settings.privacy.consent_text_version,
        channel="web",
    )
    try:
        info = await run_in_threadpool(
            partial(consent.give, svc.db, person_id, given, actor=session.username)
        )
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    log.info(
        "web_consent_given",
        username=session.username,
        person_id=person_id,
        text_version=info.text_version,
    )
    return redirect(f"{PREFIX}/people/{quote(person_id)}?consent=given")


@router.get("/people/{person_id}/consent/withdraw")
async def confirm_withdraw(request: Request, person_id: str) -> Response:
    page = await load_page(request)
    return await _confirm_page(page, services(request), person_id, "person_withdraw.html")


@router.post("/people/{person_id}/consent/withdraw")
async def withdraw_consent(request: Request, person_id: str) -> Response:
    session, form, page = await load_post(request)
    await form.close()
    svc = services(request)
    if text(form, "confirm") != person_id:
        return await _confirm_page(page, svc, person_id, "person_withdraw.html", wrong_id=True)
    try:
        answer = await run_in_threadpool(
            partial(people.withdraw_consent, svc.db, person_id, actor=session.username)
        )
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    log.info(
        "web_consent_withdrawn",
        username=session.username,
        person_id=person_id,
        templates_deleted=answer.templates_deleted,
        version=answer.version,
    )
    return redirect(f"{PREFIX}/people/{quote(person_id)}?withdrawn={answer.templates_deleted}")


@router.get("/people/{person_id}/export")
async def export_person(request: Request, person_id: str) -> Response:
    """The person's data as a download: ?format=json (one document) or csv (a zip)."""
    page = await load_page(request)
    fmt: person_export.Format = "csv" if request.query_params.get("format") == "csv" else "json"
    svc = services(request)
    now = utc_now()

    def collect() -> person_export.PersonData:
        with svc.db.read() as conn:
            return person_export.collect(conn, person_id, now)

    try:
        data = await run_in_threadpool(collect)
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    session = page.session
    log.info(
        "web_person_exported",
        username=session.username if session else None,
        person_id=person_id,
        format=fmt,
    )
    return Response(
        person_export.render(data, fmt),
        media_type=person_export.media_type(fmt),
        headers={
            "Content-Disposition": "attachment; "
            f'filename="{person_export.filename(person_id, fmt, now)}"'
        },
    )
