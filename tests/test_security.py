"""Security (issue 15 item 4), each probe of the outsider's report replayed: tokens never in URLs or
logs, disabling and rotating agents, rate-limited sign-ins, the Origin check, authenticated upload,
personal numbers masked in what agents see, and forgetting a caller."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

from core.redaction import RedactingFilter, install_log_redaction, mask_pii
from core.settings import Settings, get_settings
from pipeline.db import Call, Utterance, WorkOrder
from pipeline.runtime import Runtime

ID_NUMBER = "110101199003071234"
CARD = "6222 0212 3456 7890"
MOBILE = "13912345678"


class World:
    def __init__(self, runtime: Runtime, client: TestClient) -> None:
        self.runtime, self.client, self.store = runtime, client, runtime.store
        self.sup_id = ""
        self.tokens: dict[str, str] = {}

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def reset_rate_limit(self) -> None:
        self.client.app.state.signin_guard = None  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    import serve

    tmp = tmp_path_factory.mktemp("security")
    settings = Settings(data_dir=tmp, signin_max_failures=3, signin_window_s=30, upload_token="svc-token-123")
    runtime = Runtime.start(settings, load_models=False)
    with TestClient(serve.create_app(runtime)) as client:
        w = World(runtime, client)
        sup, w.tokens["sup"] = runtime.store.create_agent("sup", "supervisor", [], [])
        w.sup_id = sup.id
        _, w.tokens["water"] = runtime.store.create_agent("water", "agent", ["water"], ["zh"])
        yield w
    runtime.close()


def seed_call(world: World, number: str, text: str, ended: bool = True) -> tuple[str, str]:
    store = world.store
    call = store.start_call(number, "zh")
    store.add_utterance(call.id, "caller", text, "zh")
    handoff = store.create_handoff(
        call.id, "routine", "asked for a person", topic="water", language="zh", details={"ids": [ID_NUMBER]}
    )
    if ended:
        store.update_call(call.id, caller_audio_path=str(call_folder(world, call.id) / "caller.wav"))
        store.end_call(call.id, "caller_hung_up")
    return call.id, handoff.id


def call_folder(world: World, call_id: str) -> Path:
    folder = world.runtime.settings.data_dir / "recordings" / "2026-12-01" / call_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "caller.wav").write_bytes(b"RIFF....WAVE")
    return folder


# --- tokens never in URLs or logs ---------------------------------------------------------------
def test_the_stream_signs_in_by_subprotocol_or_first_message(world: World) -> None:
    token = world.tokens["water"]
    with world.client.websocket_connect(
        "/v1/agents/stream", subprotocols=["triage.v1", f"token.{token}"]
    ) as ws:
        assert ws.accepted_subprotocol == "triage.v1"
        assert ws.receive_json()["type"] == "hello"
    with world.client.websocket_connect("/v1/agents/stream") as ws:
        ws.send_json({"type": "auth", "token": token})
        assert ws.receive_json()["type"] == "hello"


def test_console_pages_no_longer_put_the_token_in_the_url() -> None:
    static = Path(__file__).resolve().parents[1] / "api" / "static"
    for js in static.glob("*.js"):
        assert "stream?token=" not in js.read_text(), js.name


def test_tokens_and_numbers_are_masked_in_uvicorn_access_lines(world: World, caplog: Any) -> None:
    token = world.tokens["water"]
    install_log_redaction()
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        # uvicorn's own access format and arguments
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5555",
            "GET",
            f"/v1/agents/stream?token={token}",
            "1.1",
            101,
        )
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5555", "GET", f"/v1/callers/{MOBILE}/history", "1.1", 200
        )
    text = caplog.text
    assert token not in text and "token=***" in text
    assert MOBILE not in text and "5678/history" in text


def test_the_redaction_filter_masks_bearer_ids_and_cards() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "auth %s id %s card %s",
        ("Bearer abc.DEF-123", ID_NUMBER, CARD),
        None,
    )
    RedactingFilter().filter(record)
    message = record.getMessage()
    assert "abc.DEF-123" not in message and ID_NUMBER not in message and "6222 0212" not in message
    assert message.endswith("7890") and "1234" in message  # the last four stay, to confirm with the caller


def test_dates_and_record_ids_are_not_masked() -> None:
    text = "report 2026-12-01 call 0f1e2d3c4b5a69788796a5b4c3d2e1f0 at 110 / 12345"
    assert mask_pii(text) == text


# --- rate limiting ------------------------------------------------------------------------------
def test_failed_sign_ins_are_rate_limited_with_retry_after(world: World) -> None:
    world.reset_rate_limit()
    try:
        codes = [
            world.client.get("/v1/agents/me", headers={"Authorization": f"Bearer wrong-{i}"}).status_code
            for i in range(3)
        ]
        assert codes == [401, 401, 401]
        r = world.client.get("/v1/agents/me", headers={"Authorization": "Bearer wrong-again"})
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 30
        assert "登录失败" in r.json()["detail"]
        # Even the right token waits: the address is the one guessing.
        assert world.client.get("/v1/agents/me", headers=world.auth("water")).status_code == 429
        with world.client.websocket_connect("/v1/agents/stream") as ws:
            ws.send_json({"type": "auth", "token": world.tokens["water"]})
            message = ws.receive_json()
            assert message["status"] == 429 and message["retry_after"] >= 1
    finally:
        world.reset_rate_limit()
    assert world.client.get("/v1/agents/me", headers=world.auth("water")).status_code == 200


# --- origin -------------------------------------------------------------------------------------
def test_a_foreign_origin_may_not_open_the_agents_stream(world: World) -> None:
    token = world.tokens["water"]
    protocols = ["triage.v1", f"token.{token}"]
    with world.client.websocket_connect(
        "/v1/agents/stream", subprotocols=protocols, headers={"origin": "https://evil.example"}
    ) as ws:
        message = ws.receive_json()
        assert message["status"] == 403 and "TRIAGE_ALLOWED_ORIGINS" in message["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4403
    with world.client.websocket_connect(
        "/v1/agents/stream", subprotocols=protocols, headers={"origin": "http://testserver"}
    ) as ws:
        assert ws.receive_json()["type"] == "hello"


# --- upload needs a token -----------------------------------------------------------------------
def test_upload_needs_an_agent_or_the_service_token(world: World) -> None:
    files = {"file": ("x.wav", b"not audio at all")}
    assert world.client.post("/v1/calls/upload", files=files).status_code == 401
    r = world.client.post("/v1/calls/upload", files=files, headers={"Authorization": "Bearer svc-token-123"})
    assert r.status_code == 422 and "audio" in r.json()["detail"].lower()  # past the gate, refused as audio


# --- disable and rotate -------------------------------------------------------------------------
def test_disable_and_rotate_take_effect_at_once(world: World) -> None:
    store = world.store
    agent, token = store.create_agent("temp", "agent", ["water"], ["zh"])
    assert world.client.get("/v1/agents/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with world.client.websocket_connect(
        "/v1/agents/stream", subprotocols=["triage.v1", f"token.{token}"]
    ) as ws:
        assert ws.receive_json()["type"] == "hello"
        r = world.client.post(f"/v1/agents/{agent.id}/disable", headers=world.auth("sup"))
        assert r.status_code == 200 and r.json()["disabled"] is True
        for _ in range(10):  # the open console is told and closed on the next event
            message = ws.receive_json()
            if message["type"] == "error":
                break
        assert message["status"] == 401
    assert world.client.get("/v1/agents/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert (
        world.client.post(f"/v1/agents/{agent.id}/enable", headers=world.auth("sup")).json()["disabled"]
        is False
    )
    r = world.client.post(f"/v1/agents/{agent.id}/rotate", headers=world.auth("sup"))
    new = r.json()["token"]
    assert world.client.get("/v1/agents/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert world.client.get("/v1/agents/me", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    world.reset_rate_limit()
    assert world.client.post(f"/v1/agents/{agent.id}/disable", headers=world.auth("water")).status_code == 403
    assert (
        world.client.post(f"/v1/agents/{world.sup_id}/disable", headers=world.auth("sup")).status_code == 409
    )
    assert world.client.post("/v1/agents/nobody/rotate", headers=world.auth("sup")).status_code == 404


def test_cli_disable_and_rotate(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app

    agent, token = world.store.create_agent("cli", "agent", [], [])
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(world.runtime.settings.data_dir))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["agents", "disable", agent.id])
        assert result.exit_code == 0 and "disabled" in result.output
        assert (
            world.client.get("/v1/agents/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        )
        result = runner.invoke(app, ["agents", "rotate", agent.id])
        new = result.output.strip().splitlines()[-1]
        runner.invoke(app, ["agents", "enable", agent.id])
        assert (
            world.client.get("/v1/agents/me", headers={"Authorization": f"Bearer {new}"}).status_code == 200
        )
        assert runner.invoke(app, ["agents", "disable", "nobody"]).exit_code == 1
    finally:
        get_settings.cache_clear()
        world.reset_rate_limit()


# --- personal numbers masked for agents ---------------------------------------------------------
def test_ids_cards_and_phones_are_masked_in_everything_agents_read(world: World) -> None:
    said = f"我的身份证号是{ID_NUMBER}，银行卡{CARD}，电话{MOBILE}"
    call_id, handoff_id = seed_call(world, "13800000111", said, ended=False)
    detail = world.client.get(f"/v1/agents/handoffs/{handoff_id}", headers=world.auth("sup")).json()
    page = str(detail)
    assert ID_NUMBER not in page and "0212 3456" not in page and MOBILE not in page
    assert "1234" in page and "5678" in page  # last four kept
    draft = world.client.get(
        f"/v1/workorders/draft?handoff_id={handoff_id}", headers=world.auth("sup")
    ).json()
    assert ID_NUMBER not in str(draft) and CARD not in draft["summary"]
    body = {"handoff_id": handoff_id, "note": f"caller id {ID_NUMBER}", "details": {"note": f"卡号 {CARD}"}}
    created = world.client.post("/v1/workorders", json=body, headers=world.auth("sup"))
    assert created.status_code == 201, created.text
    with world.store.session() as s:
        stored = s.get(WorkOrder, created.json()["id"])
        assert stored is not None
        kept = f"{stored.summary} {stored.details}"
        notes = " ".join(n.text for n in stored.notes) if hasattr(stored, "notes") else ""
    assert ID_NUMBER not in kept + notes and "6222 0212 3456 7890" not in kept + notes
    with world.client.websocket_connect(
        "/v1/agents/stream", subprotocols=["triage.v1", f"token.{world.tokens['sup']}"]
    ) as ws:
        assert ws.receive_json()["type"] == "hello"
        world.store.add_utterance(call_id, "caller", f"再说一遍 {ID_NUMBER}", "zh")
        world.runtime.bus.publish(
            "transcript.appended",
            call_id=call_id,
            handoff_id=handoff_id,
            speaker="caller",
            text=f"再说一遍 {ID_NUMBER}",
        )
        for _ in range(10):
            message = ws.receive_json()
            if message["type"] == "transcript":
                break
        assert ID_NUMBER not in message["utterance"]["text"] and message["utterance"]["text"].endswith("1234")


# --- forgetting a caller ------------------------------------------------------------------------
def test_forget_a_caller_deletes_calls_recordings_and_work_orders(world: World) -> None:
    number, other = "13700000999", "13700000888"
    gone, handoff_id = seed_call(world, number, "我家停水了")
    kept, _ = seed_call(world, other, "我家也停水了")
    live = world.store.start_call(number, "zh").id  # still on the line: left alone
    world.store.create_work_order("停水", world.sup_id, call_id=gone)
    recording = call_folder(world, gone) / "caller.wav"
    assert world.client.delete(f"/v1/callers/{number}", headers=world.auth("water")).status_code == 403
    dry = world.client.delete(f"/v1/callers/{number}?dry_run=true", headers=world.auth("sup")).json()
    assert dry["calls"] == 1 and dry["work_orders"] == 1 and recording.exists()
    r = world.client.delete(f"/v1/callers/{number}", headers=world.auth("sup"))
    assert r.status_code == 200 and r.json()["calls"] == 1 and r.json()["recordings"] == 1
    assert not recording.exists()
    with world.store.session() as s:
        assert s.get(Call, gone) is None and s.get(Call, kept) is not None and s.get(Call, live) is not None
        assert not s.query(Utterance).filter(Utterance.call_id == gone).count()
        assert not s.query(WorkOrder).filter(WorkOrder.caller_number == number).count()
    assert world.client.get(f"/v1/agents/handoffs/{handoff_id}", headers=world.auth("sup")).status_code == 404


def test_a_real_uvicorn_log_never_shows_a_token_or_caller_number(
    tmp_path: Path, capfd: Any, caplog: Any
) -> None:
    """uvicorn as `triage serve` runs it (its own logging config, access log on): a ?token=
    connection (refused, but its URL reaches the access log) and a history URL leave no token and
    no caller number in the output."""
    import threading
    import time

    import httpx
    import uvicorn
    from websockets.sync.client import connect

    import serve
    from api.server_thread import free_port

    runtime = Runtime.start(Settings(data_dir=tmp_path), load_models=False)
    _, token = runtime.store.create_agent("logged", "supervisor", [], [])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(serve.create_app(runtime), port=port, log_level="info"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        with connect(f"ws://127.0.0.1:{port}/v1/agents/stream?token={token}") as ws:
            refused = json.loads(ws.recv(timeout=5))
            assert refused["status"] == 400 and "not accepted" in refused["message"]
        r = httpx.get(
            f"http://127.0.0.1:{port}/v1/callers/{MOBILE}/history",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        runtime.close()
    out, err = capfd.readouterr()
    logged = out + err
    assert "/v1/callers/" in logged and "/v1/agents/stream" in logged  # the lines are there...
    assert token not in logged and MOBILE not in logged  # ...without the secrets
    assert token not in caplog.text
