"""Error responses that say what went wrong and what to do.

- NotFoundError from the store -> 404 with its message (the id it could not find).
- TransitionError (a work-order status the workflow forbids) -> 409 listing the allowed ones.
- Request validation -> 422 keeping FastAPI's ``detail`` list and adding ``message``, one sentence
  a person can act on (malformed JSON says where it broke).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from pipeline.routing import TransitionError
from pipeline.store import NotFoundError


class ErrorBody(BaseModel):
    """What every refusal carries (401, 403, 404, 409, 413, 422 from a handler, 429, 503)."""

    detail: str = Field(description="What went wrong and what to do, for a person to read.")


class ValidationErrorBody(BaseModel):
    """A request that does not match the schema (422)."""

    message: str = Field(description="One sentence a person can act on.")
    detail: list[dict[str, Any]] = Field(description="FastAPI's list of problems: loc, msg, type.")


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request cannot be acted on (e.g. a WebRTC offer that does not parse).",
    401: "No token, or a token that belongs to no (enabled) agent. Header WWW-Authenticate: Bearer.",
    403: "The agent's role or skills do not allow it.",
    404: "No record with that id.",
    409: "The record's state forbids it (already taken, a transition the workflow forbids).",
    413: "Too large or too long (TRIAGE_MAX_JSON_KB, TRIAGE_MAX_UPLOAD_MB, TRIAGE_MAX_UPLOAD_SECONDS).",
    422: "The request does not match the schema, or a value is out of range.",
    429: "Too many failed sign-ins from this address; header Retry-After says how many seconds to wait.",
    503: "The service is not ready (models loading or failed to load).",
}


def ERROR_RESPONSES(codes: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the given status codes with the real error bodies."""
    return {
        code: {
            "model": ErrorBody,
            "description": ERROR_DESCRIPTIONS[code],
        }
        for code in codes
    }


def describe(errors: list[Any]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        if e.get("type") == "json_invalid":
            pos = e.get("loc", ("body", "?"))[-1]
            why = (e.get("ctx") or {}).get("error", "invalid JSON")
            parts.append(f"the body is not valid JSON ({why} at character {pos}); send a JSON object")
        elif e.get("type") == "model_attributes_type" and not loc:
            parts.append("the body must be a JSON object, sent with 'Content-Type: application/json'")
        elif e.get("type") == "missing":
            parts.append(f"'{loc}' is required")
        else:
            parts.append(f"'{loc}': {e.get('msg', 'invalid')}" if loc else str(e.get("msg", "invalid")))
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "Invalid request: " + "; ".join(parts) + more + ". The schema is at /docs."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(TransitionError)
    async def bad_transition(_: Request, exc: TransitionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        return JSONResponse(
            {"message": describe(errors), "detail": jsonable_encoder(errors)}, status_code=422
        )
