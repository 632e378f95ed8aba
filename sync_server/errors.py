"""HTTP errors with a machine-readable reason: ``{"reason": "...", "detail": "..."}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException


class ErrorBody(BaseModel):
    """Every error answer except FastAPI's 422 request validation (which names the field)."""

    reason: str = Field(description="Stable machine-readable code, e.g. invalid_token, no_face.")
    detail: str = Field(description="What went wrong, for a human.")


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


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    reason = getattr(exc, "reason", None) or _DEFAULT_REASONS.get(exc.status_code, "error")
    body: dict[str, Any] = {"reason": reason, "detail": str(exc.detail)}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error codes."""
    return {code: {"model": ErrorBody} for code in codes}
