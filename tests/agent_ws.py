"""How a test signs in on the agents' WebSocket: the token as a subprotocol, as the console does
(docs/security.md "Signing in"); a token in the URL is refused."""

from __future__ import annotations

from typing import Any


def agent_protocols(token: str) -> list[Any]:
    """Sec-WebSocket-Protocol values for ``connect(url, subprotocols=...)`` or TestClient's
    ``websocket_connect(url, subprotocols=...)``."""
    return ["triage.v1", f"token.{token}"]
