"""Admin API: leave and permissions (kinds of leave, a person's leave, the CSV import).

The operations and their rules are in sync_server/leave.py; docs/leave.md describes them.
Changes made here are recorded in the audit trail as made by ``audit.API_ACTOR``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from edge.clock import utc_now
from edge.protocol import MAX_COUNT
from sync_server import audit, leave
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import ApiError, error_responses
from sync_server.schemas.leave import (
    KIND_CODE_PATTERN,
    MAX_LABEL,
    MAX_PERSON,
    LeaveCreate,
    LeaveDay,
    LeaveImportReport,
    LeaveInfo,
    LeaveKindCreate,
    LeaveKindInfo,
    LeaveKindList,
    LeaveKindUpdate,
    LeaveList,
    LeaveUpdate,
)

router = APIRouter(
    prefix="/admin",
    tags=["admin: leave"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 404, 429),
)

ServicesDep = Annotated[Services, Depends(services)]
KindCodePath = Annotated[str, Path(max_length=32, pattern=KIND_CODE_PATTERN)]
LeaveIdPath = Annotated[int, Path(ge=1, le=MAX_COUNT)]
IMPORT_FIELD = "file"
_CSV_TYPES = ("text/csv", "text/plain", "application/octet-stream")


# --- kinds ------------------------------------------------------------------------------------


@router.get("/leave-kinds", response_model=LeaveKindList, summary="Every kind of leave")
def list_kinds(svc: ServicesDep) -> LeaveKindList:
    with svc.db.read() as conn:
        return LeaveKindList(kinds=leave.list_kinds(conn))


@router.post(
    "/leave-kinds",
    status_code=201,
    response_model=LeaveKindInfo,
    summary="Add a kind of leave",
    description="A code and its English and Indonesian labels. No code or label may name "
    "another kind (the import finds a kind by any of them): 409 leave_kind_name_taken.",
    responses=error_responses(409),
)
def create_kind(body: LeaveKindCreate, svc: ServicesDep) -> LeaveKindInfo:
    return leave.create_kind(svc.db, body, actor=audit.API_ACTOR, now=utc_now())


@router.patch(
    "/leave-kinds/{code}",
    response_model=LeaveKindInfo,
    summary="Relabel a kind of leave, retire it or offer it again",
    description="Only the fields sent change. `active: false` retires the kind: new leave "
    "cannot have it, old leave keeps it.",
    responses=error_responses(409),
)
def update_kind(code: KindCodePath, body: LeaveKindUpdate, svc: ServicesDep) -> LeaveKindInfo:
    return leave.update_kind(svc.db, code, body, actor=audit.API_ACTOR, now=utc_now())


@router.delete(
    "/leave-kinds/{code}",
    status_code=204,
    summary="Delete a kind of leave that no leave has",
    description="A kind in use is never deleted (409 leave_kind_in_use): retire it instead.",
    responses=error_responses(409),
)
def delete_kind(code: KindCodePath, svc: ServicesDep) -> None:
    leave.delete_kind(svc.db, code, actor=audit.API_ACTOR, now=utc_now())


# --- leave ------------------------------------------------------------------------------------


@router.get(
    "/leave",
    response_model=LeaveList,
    summary="Leave, by person, days and kind",
    description="Leave touching the days from `from` to `to` (both included, either may be "
    "left out), by first day then person.",
    responses=error_responses(422),
)
def list_leave(
    svc: ServicesDep,
    person: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_PERSON, description="Person id or HR employee id."),
    ] = None,
    first: Annotated[
        LeaveDay | None, Query(alias="from", description="First day, YYYY-MM-DD.")
    ] = None,
    last: Annotated[
        LeaveDay | None, Query(alias="to", description="Last day, included, YYYY-MM-DD.")
    ] = None,
    kind: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_LABEL, description="Kind: code or label."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most leave listed.")] = 1000,
) -> LeaveList:
    with svc.db.read() as conn:
        found, more = leave.list_leave(
            conn, person=person, first=first, last=last, kind=kind, limit=limit
        )
    return LeaveList(leave=found, more=more)


@router.post(
    "/leave",
    status_code=201,
    response_model=LeaveInfo,
    summary="Enter a person's leave",
    description="Refused: an unknown person (404 unknown_person), an unknown or retired "
    "kind (422 unknown_leave_kind, retired_leave_kind), an end before the start (422 "
    "end_before_start), more than 366 days (422 leave_too_long), an overlap with the "
    "person's other leave (409 leave_overlap, naming it).",
    responses=error_responses(409, 422),
)
def create_leave(body: LeaveCreate, svc: ServicesDep) -> LeaveInfo:
    return leave.create_leave(svc.db, body, actor=audit.API_ACTOR, now=utc_now())


@router.post(
    "/leave/import",
    response_model=LeaveImportReport,
    summary="Import leave from a CSV file, line by line",
    description="The file (UTF-8, with or without BOM; `,` or `;`): a header "
    "`person,kind,start,end[,note]`, then one leave a line; person by id or HR employee id, "
    "kind by code or either label (any case), ISO dates, an empty end is the start day. "
    "Each line is added or refused with its reason; a refused line writes nothing, the good "
    "ones are written (one transaction). `dry_run=true` writes nothing and gives the same "
    "report. A file without a header or not UTF-8 is refused whole (422).",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": f"A multipart form with the file in field `{IMPORT_FIELD}`, or the "
            "CSV itself as the body (Content-Type text/csv).",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [IMPORT_FIELD],
                        "properties": {IMPORT_FIELD: {"type": "string", "format": "binary"}},
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
    responses=error_responses(415, 422),
)
async def import_leave(
    request: Request,
    svc: ServicesDep,
    dry_run: Annotated[bool, Query(description="Check every line, write nothing.")] = False,
) -> LeaveImportReport:
    data = await _read_csv(request)
    return await run_in_threadpool(
        leave.import_csv, svc.db, data, actor=audit.API_ACTOR, now=utc_now(), dry_run=dry_run
    )


async def _read_csv(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get(IMPORT_FIELD)
            if not isinstance(upload, UploadFile):
                raise ApiError(
                    422,
                    "missing_file",
                    f"the multipart form needs the CSV as a file in field {IMPORT_FIELD!r}",
                )
            data: bytes = await upload.read()
            return data
    if content_type in _CSV_TYPES:
        return await request.body()
    raise ApiError(
        415,
        "unsupported_media_type",
        f"send the CSV as text/csv, or multipart/form-data with a {IMPORT_FIELD!r} file",
    )


@router.get(
    "/leave/export.csv",
    summary="Leave as CSV, in the import's format",
    description="person,kind,start,end,note (person id, kind code): the import reads it back.",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(422)},
)
def export_leave(
    svc: ServicesDep,
    first: Annotated[
        LeaveDay | None, Query(alias="from", description="First day, YYYY-MM-DD.")
    ] = None,
    last: Annotated[
        LeaveDay | None, Query(alias="to", description="Last day, included, YYYY-MM-DD.")
    ] = None,
) -> Response:
    with svc.db.read() as conn:
        text = leave.export_csv(conn, first=first, last=last)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="leave.csv"'},
    )


@router.get("/leave/{leave_id}", response_model=LeaveInfo, summary="One leave")
def get_leave(leave_id: LeaveIdPath, svc: ServicesDep) -> LeaveInfo:
    with svc.db.read() as conn:
        return leave.get_leave(conn, leave_id)


@router.patch(
    "/leave/{leave_id}",
    response_model=LeaveInfo,
    summary="Change a leave's kind, days or note",
    description="Only the fields sent change; the same rules as entering leave.",
    responses=error_responses(409, 422),
)
def update_leave(leave_id: LeaveIdPath, body: LeaveUpdate, svc: ServicesDep) -> LeaveInfo:
    return leave.update_leave(svc.db, leave_id, body, actor=audit.API_ACTOR, now=utc_now())


@router.delete("/leave/{leave_id}", status_code=204, summary="Delete a leave")
def delete_leave(leave_id: LeaveIdPath, svc: ServicesDep) -> None:
    leave.delete_leave(svc.db, leave_id, actor=audit.API_ACTOR, now=utc_now())
