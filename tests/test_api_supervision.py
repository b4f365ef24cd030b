"""The supervisors' REST API for incidents, staffing and work-order follow-up (no speech models):
who may publish a notice (supervisor or outage-system token, never an agent), the one-click
notice from a storm alert, the console stream's storm and notice events, overdue orders by role,
the Erlang calculator and the CSV import's errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent_ws import agent_protocols
from fastapi.testclient import TestClient

from core.settings import Settings
from pipeline.db import WorkOrder
from pipeline.runtime import Runtime
from serve import create_app


def _world(tmp_path: Path) -> tuple[Runtime, TestClient, dict[str, dict[str, str]], dict[str, str]]:
    settings = Settings(data_dir=tmp_path, incident_service_tokens=["outage-system-secret"])
    runtime = Runtime.start(settings, load_models=False)
    client = TestClient(create_app(runtime))
    sup, sup_token = runtime.store.create_agent("Sue", role="supervisor")
    agent, agent_token = runtime.store.create_agent("Ann")
    auth = {
        "sup": {"Authorization": f"Bearer {sup_token}"},
        "agent": {"Authorization": f"Bearer {agent_token}"},
        "service": {"Authorization": "Bearer outage-system-secret"},
    }
    return runtime, client, auth, {"sup": sup.id, "agent": agent.id}


def test_notices_by_supervisor_or_service_token_and_one_click_from_a_storm(tmp_path: Path) -> None:
    runtime, client, auth, _ = _world(tmp_path)
    assert runtime.incidents is not None
    body = {
        "topic": "power",
        "district": "海淀区",
        "what_zh": "停电",
        "what_en": "power cut",
        "where_en": "Haidian",
    }
    assert client.post("/v1/incidents", json=body, headers=auth["agent"]).status_code == 403
    assert client.post("/v1/incidents", json=body).status_code == 401
    assert client.post("/v1/incidents", json={**body, "what_en": ""}, headers=auth["sup"]).status_code == 422
    pushed = client.post(
        "/v1/incidents", json={**body, "fix_by": "2030-01-01T10:00:00+00:00"}, headers=auth["service"]
    )
    assert pushed.status_code == 201 and pushed.json()["source"] == "service"

    now = datetime.now(UTC)
    calls = [runtime.store.start_call(None, "zh").id for _ in range(5)]
    alerts = [runtime.incidents.report(c, "water", "朝阳区", now) for c in calls]
    storm = alerts[-1]
    assert storm is not None
    listed = client.get("/v1/incidents/storms", headers=auth["sup"]).json()
    assert [s["storm_id"] for s in listed] == [storm.id] and listed[0]["calls"] == 5
    assert client.get("/v1/incidents/storms", headers=auth["agent"]).status_code == 403
    draft = client.get(f"/v1/incidents/storms/{storm.id}/draft", headers=auth["sup"]).json()
    assert (draft["what_zh"], draft["what_en"], draft["where_zh"]) == ("停水", "water cut", "朝阳区")
    published = client.post(f"/v1/incidents/storms/{storm.id}/publish", headers=auth["sup"])
    assert published.status_code == 201
    notice = published.json()
    assert notice["storm_id"] == storm.id and notice["what_zh"] == "停水" and notice["fix_by"]
    assert client.post(f"/v1/incidents/storms/{storm.id}/publish", headers=auth["sup"]).status_code == 409
    live = client.get("/v1/incidents", headers=auth["agent"]).json()
    assert {i["topic"] for i in live} == {"water", "power"}
    ended = client.post(f"/v1/incidents/{notice['incident_id']}/end", headers=auth["service"])
    assert ended.json()["status"] == "ended"
    assert [i["topic"] for i in client.get("/v1/incidents", headers=auth["sup"]).json()] == ["power"]
    assert client.post("/v1/incidents/nope/end", headers=auth["sup"]).status_code == 404


def test_console_stream_carries_storms_to_supervisors_and_notices_to_everyone(tmp_path: Path) -> None:
    runtime, client, auth, _ = _world(tmp_path)
    assert runtime.incidents is not None
    got: dict[str, list[dict[str, Any]]] = {}
    for who in ("sup", "agent"):
        token = auth[who]["Authorization"].split()[1]
        with client.websocket_connect("/v1/agents/stream", subprotocols=agent_protocols(token)) as ws:
            calls = [runtime.store.start_call(None, "zh").id for _ in range(5)]
            district = f"{who}区"
            for c in calls:
                runtime.incidents.report(c, "water", district)
            runtime.incidents.publish("gas", district, "停气", "gas cut")
            seen: list[dict[str, Any]] = []
            while not any(m.get("type") == "incident.published" for m in seen):
                seen.append(ws.receive_json())
            got[who] = seen
    types = {who: [m["type"] for m in seen] for who, seen in got.items()}
    assert "storm.detected" in types["sup"] and "storm.detected" not in types["agent"]
    storm = next(m for m in got["sup"] if m["type"] == "storm.detected")["storm"]
    assert storm["district"] == "sup区" and storm["calls"] == 5


def test_overdue_orders_by_role_and_urging(tmp_path: Path) -> None:
    runtime, client, auth, ids = _world(tmp_path)
    store = runtime.store
    mine = store.create_work_order("burst main", "bot", urgency="urgent", assigned_to=ids["agent"])
    other = store.create_work_order("streetlight", "bot", urgency="urgent")
    with store.session() as s:
        for o in (mine, other):
            row = s.get(WorkOrder, o.id)
            assert row is not None
            row.created_at = datetime.now(UTC) - timedelta(hours=30)  # urgent: due in 24 h
        s.commit()
    sup = client.get("/v1/followup/overdue", headers=auth["sup"]).json()
    assert sup["count"] == 2 and not any(o["urged"] for o in sup["orders"])
    agent = client.get("/v1/followup/overdue", headers=auth["agent"]).json()
    assert agent["count"] == 1 and agent["orders"][0]["work_order_id"] == mine.id
    assert client.post(f"/v1/followup/{mine.id}/urge", headers=auth["agent"]).status_code == 403
    urged = client.post(f"/v1/followup/{mine.id}/urge", headers=auth["sup"])
    assert urged.status_code == 200 and urged.json()["overdue_h"] >= 5.9
    assert client.get("/v1/followup/overdue", headers=auth["sup"]).json()["orders"][0]["urged"] in (
        True,
        False,
    )
    assert any(o["urged"] for o in client.get("/v1/followup/overdue", headers=auth["sup"]).json()["orders"])
    ref = urged.json()["reference"]
    assert (
        client.get(f"/v1/followup/reference/{ref}", headers=auth["agent"]).json()["work_order_id"] == mine.id
    )


def test_erlang_calculator_and_csv_errors(tmp_path: Path) -> None:
    _, client, auth, _ = _world(tmp_path)
    q = {"calls": 100, "agents": 14, "aht_s": 180, "target_s": 20}
    c = client.get("/v1/staffing/erlang", params=q, headers=auth["sup"]).json()
    assert round(c["service_level"], 3) == 0.888 and round(c["wait_probability"], 3) == 0.174
    a = client.get(
        "/v1/staffing/erlang", params={**q, "agents": 13, "patience_s": 300}, headers=auth["sup"]
    ).json()
    assert round(a["abandon_rate"], 3) == 0.025
    assert client.get("/v1/staffing/erlang", params=q, headers=auth["agent"]).status_code == 403
    bad = client.post("/v1/staffing/volumes", content=b"start,calls\nnot a time,3\n", headers=auth["sup"])
    assert bad.status_code == 422 and "row 2" in bad.json()["detail"]
    empty = client.get("/v1/staffing/plan", headers=auth["sup"])
    assert empty.status_code == 422 and "history" in empty.json()["detail"]
