"""A cap on JSON request bodies (TRIAGE_MAX_JSON_KB): 413 before the body is read into memory.

Applies to JSON bodies and bodies without a Content-Type (FastAPI parses those as JSON). Uploads
(TRIAGE_MAX_UPLOAD_MB), CSV imports and forms have limits of their own; WebSocket messages too
(TRIAGE_MAX_MESSAGE_KB). A body sent without Content-Length is counted as it arrives.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _too_large(limit: int) -> bytes:
    message = (
        f"请求体太大：上限 {limit // 1024} KiB（TRIAGE_MAX_JSON_KB）。"
        f"Request body larger than {limit // 1024} KiB (TRIAGE_MAX_JSON_KB)."
    )
    return json.dumps({"detail": message}, ensure_ascii=False).encode()


class JsonBodyLimit:
    """ASGI middleware; ``limit_of(scope)`` gives the byte limit in force (read per request, so
    tests and settings changes apply)."""

    def __init__(self, app: ASGIApp, limit_of: Any) -> None:
        self.app = app
        self.limit_of = limit_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        kind = headers.get("content-type", "")
        if kind and "json" not in kind:  # uploads, CSV imports and forms have limits of their own
            await self.app(scope, receive, send)
            return
        limit = int(self.limit_of(scope))
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await self._refuse(send, limit)
            return
        # Read the (small) body here, at most limit + one chunk, then replay it to the app.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > limit:
                await self._refuse(send, limit)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = _too_large(limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def settings_limit(scope: Scope) -> int:
    """The limit from the app's runtime settings (256 KiB while it starts)."""
    runtime = getattr(scope["app"].state, "runtime", None)
    kib = getattr(getattr(runtime, "settings", None), "max_json_kb", 256)
    return int(kib) * 1024
