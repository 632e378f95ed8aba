"""HTTP errors with a machine-readable reason: ``{"reason": "...", "detail": ...}``.

Every error answer has ``reason`` and ``detail``. ``detail`` is text, except for a request
that fails validation (422 ``invalid_request``), where it lists the problems, each naming
its field (``loc``). That list is built here rather than by FastAPI's default handler,
which echoes the offending input back: a NaN, an infinity or a lone surrogate cannot be
written as JSON, so the answer to a bad value became a 500, which a terminal retries
forever. docs/protocol.md describes the shapes.

The server's operations refuse with the domain errors of sync_server/domain_errors.py, which
know nothing of HTTP; :func:`http_status` is the one place they get a status code, for the API
(through :func:`domain_error_handler`) and for the admin web's pages alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from sync_server.domain_errors import ConflictError, DomainError, NotFoundError, UnacceptableError

INVALID_REQUEST = "invalid_request"
_MAX_PROBLEMS = 50  # a batch of 500 bad events need not produce a 500-item answer
_MAX_TEXT = 500


class ErrorBody(BaseModel):
    """Every error answer except a request that fails validation (see ValidationErrorBody)."""

    reason: str = Field(description="Stable machine-readable code, e.g. invalid_token, no_face.")
    detail: str = Field(description="What went wrong, for a human.")


class ValidationProblem(BaseModel):
    """One thing wrong with a request."""

    loc: list[str | int] = Field(
        description='Where: "body", "query", "path" or "header", then the field, e.g. '
        '["body", "events", 3, "wall_time"].'
    )
    msg: str = Field(description="What is wrong with it, for a human.")
    type: str = Field(description="Stable machine-readable kind, e.g. missing, less_than_equal.")


class ValidationErrorBody(BaseModel):
    """422: the request does not match the schema. The offending values are not echoed."""

    reason: Literal["invalid_request"] = Field(description="Always invalid_request.")
    detail: list[ValidationProblem] = Field(
        description=f"The problems found, at most {_MAX_PROBLEMS}, each naming its field."
    )


class ApiError(HTTPException):
    def __init__(
        self,
        status_code: int,
        reason: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=dict(headers or {}))
        self.reason = reason


_DEFAULT_REASONS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "too_many_failures",
}


def _text(value: object, limit: int | None = None) -> str:
    """Text that can be written as UTF-8 JSON: lone surrogates become escapes."""
    text = value if isinstance(value, str) else str(value)
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def _loc(parts: Iterable[Any]) -> list[str | int]:
    return [
        p if isinstance(p, int) and not isinstance(p, bool) else _text(p, _MAX_TEXT)
        for p in parts
    ]


def validation_body(errors: Sequence[Any]) -> dict[str, Any]:
    """The 422 body for pydantic/FastAPI errors, without the input they carry."""
    problems = [
        {
            "loc": _loc(e.get("loc", ())),
            "msg": _text(e.get("msg", "invalid"), _MAX_TEXT),
            "type": _text(e.get("type", "invalid"), _MAX_TEXT),
        }
        for e in errors[:_MAX_PROBLEMS]
        if isinstance(e, Mapping)
    ]
    return {"reason": INVALID_REQUEST, "detail": problems}


def invalid_request(loc: Sequence[str | int], msg: str, kind: str) -> JSONResponse:
    return JSONResponse(
        validation_body([{"loc": loc, "msg": msg, "type": kind}]), status_code=422
    )


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(validation_body(exc.errors()), status_code=422)


def _unreadable_body(exc: HTTPException) -> bool:
    """FastAPI answers 400 when the body is not text it can decode (not UTF-8, nested too
    deep): for the client that is the same mistake as malformed JSON, a 422."""
    return (
        exc.status_code == 400
        and not isinstance(exc, ApiError)
        and isinstance(exc.__cause__, ValueError | RecursionError)
        and not isinstance(exc.__cause__, json.JSONDecodeError)
    )


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. FastAPI makes one route per method, and
    Starlette's 405 names only the methods of the first route whose path matched."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in routes
        )
    ]


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if _unreadable_body(exc):
        return invalid_request(["body"], "the body is not UTF-8 JSON", "json_invalid")
    reason = getattr(exc, "reason", None) or _DEFAULT_REASONS.get(exc.status_code, "error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    body: dict[str, Any] = {"reason": reason, "detail": _text(exc.detail)}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


# The one place a refusal of the operations gets its HTTP status (most specific class first).
_DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (UnacceptableError, 422),
)


def http_status(exc: DomainError | HTTPException) -> int:
    """The status code that answers ``exc``: for pages that render a refusal themselves."""
    if isinstance(exc, HTTPException):
        return exc.status_code
    return next((code for kind, code in _DOMAIN_STATUS if isinstance(exc, kind)), 400)


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    body = {"reason": exc.reason, "detail": _text(exc.detail)}
    return JSONResponse(body, status_code=http_status(exc))


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error codes."""
    return {code: {"model": ErrorBody} for code in codes}


_REF = "#/components/schemas/"


def document_error_shapes(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI description say what :func:`validation_error_handler` sends.

    FastAPI documents its own 422 body (with ``input`` and ``ctx``) on every operation that
    takes parameters; ours is :class:`ValidationErrorBody`. An operation that also raises
    422 itself after validation (a photo without a face, a range too long) answers either.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, ValidationErrorBody):
        found = model.model_json_schema(ref_template=_REF + "{model}")
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
    validation = {"$ref": _REF + ValidationErrorBody.__name__}
    either = {"anyOf": [validation, {"$ref": _REF + ErrorBody.__name__}]}
    unreadable = {
        "description": "A multipart body the server cannot read (too many fields, no "
        "boundary): bad_request",
        "content": {"application/json": {"schema": {"$ref": _REF + ErrorBody.__name__}}},
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody", {}).get("content", {})
            if "multipart/form-data" in body:
                operation.setdefault("responses", {}).setdefault("400", unreadable)
            answer = operation.get("responses", {}).get("422")
            if not isinstance(answer, dict):
                continue
            content = answer.setdefault("content", {}).setdefault("application/json", {})
            ref = content.get("schema", {}).get("$ref", "")
            content["schema"] = either if ref.endswith("/ErrorBody") else validation
            answer["description"] = (
                "The request does not match the schema (invalid_request, naming the field), "
                "or the handler refused its content (reason and text)"
                if ref.endswith("/ErrorBody")
                else "The request does not match the schema: invalid_request, naming the field"
            )
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
