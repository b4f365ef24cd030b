"""The OpenAPI document, completed with every status code and error body the service returns.

FastAPI documents a route's success and its 422, with a body shape (HTTPValidationError) that is
not what api/errors.py sends. Some refusals come from shared dependencies rather than the route:
every route behind the agent token may answer 401 (no or bad token; WWW-Authenticate: Bearer),
403 (role or skills) and 429 (failed sign-ins; Retry-After); every route that reads the runtime,
503 while it starts. This pass adds them, with the real error models, so clients and
schemathesis (tests/test_openapi_schema.py) see what really comes back.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.errors import ERROR_DESCRIPTIONS, ErrorBody, ValidationErrorBody

MUTATING = {"post", "put", "patch", "delete"}


def _error(code: int, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[code],
        "content": {"application/json": {"schema": schema or {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    if code == 401:
        entry["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
    if code == 429:
        entry["headers"] = {
            "Retry-After": {
                "schema": {"type": "string"},
                "description": "Seconds to wait before trying again.",
            }
        }
    return entry


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the refusals each operation can really get (in place; returns ``schema``)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema()
    components["ValidationErrorBody"] = ValidationErrorBody.model_json_schema()
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    invalid = {
        "anyOf": [
            {"$ref": "#/components/schemas/ValidationErrorBody"},
            {"$ref": "#/components/schemas/ErrorBody"},
        ]
    }
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses: dict[str, Any] = op["responses"]
            codes = {422, 503}
            if op.get("security"):
                codes |= {401, 403, 429}
            if "{" in path:
                codes.add(404)
            if method in MUTATING:
                codes.add(409)
            body = (op.get("requestBody") or {}).get("content", {})
            if body:  # uploads (TRIAGE_MAX_UPLOAD_MB) and JSON bodies (TRIAGE_MAX_JSON_KB)
                codes.add(413)
            if path == "/v1/calls/web":
                codes.add(400)
            for code in sorted(codes):
                existing = responses.get(str(code), {})
                entry = _error(code, invalid if code == 422 else None)
                if existing.get("description") and code != 422:
                    entry["description"] = existing["description"]
                responses[str(code)] = entry
    return schema


def install_honest_openapi(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(original())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
