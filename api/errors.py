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

from pipeline.routing import TransitionError
from pipeline.store import NotFoundError


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
