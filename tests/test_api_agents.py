"""The agents' REST API over a temporary SQLite database and a real PostgreSQL (when one is reachable;
CI requires it), seeded through the Store (not the caller path): authentication, roles, the queue,
handoff detail, accept/resolve, work orders, caller history."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from core.settings import Settings
from pipeline.db import Base, Handoff, utcnow
from pipeline.runtime import Runtime
from pipeline.store import Store


@dataclass
class World:
    runtime: Runtime
    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, str]

    @property
    def store(self) -> Store:
        return self.runtime.store

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.h(who), **kw)

    def post(self, path: str, who: str, **kw: Any) -> Any:
        return self.client.post(path, headers=self.h(who), **kw)


def seed_handoff(
    store: Store,
    number: str,
    text: str,
    urgency: str,
    topic: str,
    language: str = "zh",
    age_s: float = 0,
    **kw: Any,
) -> Handoff:
    call = store.start_call(number, language)
    store.add_utterance(
        call.id, "bot", "您好，这里是12345热线。" if language == "zh" else "Hello, city hotline."
    )
    store.add_utterance(call.id, "caller", text, language)
    for kb_entry_id, words in kw.pop("answered", []):
        store.add_decision(call.id, "answer", "confident knowledge-base match", kb_entry_id=kb_entry_id)
        store.add_utterance(call.id, "bot", words, language)
    handoff = store.create_handoff(
        call.id, urgency, kw.pop("reason", "asked for a person"), topic=topic, language=language, **kw
    )
    if age_s:
        store.update_handoff(handoff.id, created_at=utcnow() - timedelta(seconds=age_s))
    return handoff


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    import serve

    settings = Settings(data_dir=tmp_path)
    if request.param == "sqlite":
        runtime = Runtime.start(settings, load_models=False)
    else:
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        Base.metadata.drop_all(engine)
        engine.dispose()
        runtime = Runtime(settings, Store(url))
    store = runtime.store
    tokens, ids = {}, {}
    for who, role, topics, langs in (
        ("water_zh", "agent", ["water"], ["zh"]),
        ("power_en", "agent", ["power"], ["en"]),
        ("super", "supervisor", [], []),
    ):
        agent, tokens[who] = store.create_agent(who, role, topics, langs)
        ids[who] = agent.id
    earlier = store.start_call("13912345678", "zh")
    store.add_utterance(earlier.id, "caller", "上个月也停过水")
    store.end_call(earlier.id, "goodbye")
    ids["earlier_call"] = earlier.id
    ids["earlier_order"] = store.create_work_order(
        "上月停水已处理", ids["super"], call_id=earlier.id, topic="water"
    ).id
    ids["water_old"] = seed_handoff(
        store,
        "13912345678",
        "我家停水两天了",
        "routine",
        "water",
        age_s=300,
        details={"address": "海淀区中关村大街1号", "phone": "13912345678", "id_number": "110108198501012345"},
        answered=[("water-outage-notice", "停水通知请看供水公司网站。")],
        answers_tried=["water-outage-notice"],
        confidence=0.74,
        request_type="fault",
    ).id
    ids["water_new"] = seed_handoff(store, "13700000001", "水管爆了", "urgent", "water", age_s=30).id
    ids["power"] = seed_handoff(
        store, "13800000002", "The power is out", "routine", "power", "en", age_s=600
    ).id
    ids["fire"] = seed_handoff(
        store, "13600000003", "Fire in the stairwell!", "emergency", "other", "en", age_s=1
    ).id
    with TestClient(serve.create_app(runtime)) as client:
        yield World(runtime, client, tokens, ids)


def test_no_token_or_a_wrong_token_is_401_with_a_hint(world: World) -> None:
    r = world.client.get("/v1/agents/queue")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "triage agents add" in r.json()["detail"]
    r = world.client.get("/v1/agents/queue", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and "belongs to no agent" in r.json()["detail"]


def test_the_queue_is_ordered_by_urgency_then_wait_and_filtered_by_skills(world: World) -> None:
    ids = world.ids
    water = world.get("/v1/agents/queue", "water_zh").json()
    assert [h["id"] for h in water["waiting"]] == [ids["fire"], ids["water_new"], ids["water_old"]]
    assert [h["position"] for h in water["waiting"]] == [1, 2, 3]
    assert water["waiting"][2]["caller_number"] == "13912345678" and water["waiting"][2]["waited_s"] >= 299
    power = world.get("/v1/agents/queue", "power_en").json()
    assert [h["id"] for h in power["waiting"]] == [ids["fire"], ids["power"]]  # emergencies reach everyone
    everything = world.get("/v1/agents/queue", "super").json()
    # The routine power call has waited longer (600 s) than the routine water one (300 s).
    expected = [ids["fire"], ids["water_new"], ids["power"], ids["water_old"]]
    assert [h["id"] for h in everything["waiting"]] == expected


def test_handoff_detail_carries_transcript_details_answers_and_caller_history(world: World) -> None:
    d = world.get(f"/v1/agents/handoffs/{world.ids['water_old']}", "water_zh").json()
    assert [(u["speaker"], u["text"]) for u in d["transcript"]][-2:] == [
        ("caller", "我家停水两天了"),
        ("bot", "停水通知请看供水公司网站。"),
    ]
    assert d["details"]["address"] == "海淀区中关村大街1号" and d["details"]["phone"] == "13912345678"
    assert d["details"]["id_number"] == "**************2345"  # IDs are masked
    assert [(a["kb_entry_id"], a["answer"]) for a in d["answers_tried"]] == [
        ("water-outage-notice", "停水通知请看供水公司网站。")
    ]
    assert d["topic"] == "water" and d["urgency"] == "routine" and d["confidence"] == pytest.approx(0.74)
    assert [c["id"] for c in d["history"]["calls"]] == [world.ids["earlier_call"]]  # not this call
    assert [o["summary"] for o in d["history"]["work_orders"]] == ["上月停水已处理"]


def test_outside_skills_is_403_and_an_unknown_id_is_404(world: World) -> None:
    r = world.get(f"/v1/agents/handoffs/{world.ids['power']}", "water_zh")
    assert r.status_code == 403 and "outside your topics and languages" in r.json()["detail"]
    r = world.get("/v1/agents/handoffs/nope", "water_zh")
    assert r.status_code == 404 and r.json()["detail"] == "No handoff with id 'nope'."
    assert world.post(f"/v1/agents/handoffs/{world.ids['power']}/accept", "water_zh").status_code == 403


def test_accept_then_a_second_accept_is_409_and_resolve_closes_it(world: World) -> None:
    hid = world.ids["water_new"]
    r = world.post(f"/v1/agents/handoffs/{hid}/accept", "water_zh")
    assert r.status_code == 200 and r.json()["status"] == "accepted" and r.json()["agent_name"] == "water_zh"
    assert world.store.get_agent(world.ids["water_zh"]).status == "busy"
    r = world.post(f"/v1/agents/handoffs/{hid}/accept", "super")
    assert r.status_code == 409 and "accepted (by water_zh)" in r.json()["detail"]
    mine = world.get("/v1/agents/queue", "water_zh").json()
    assert hid not in [h["id"] for h in mine["waiting"]] and [h["id"] for h in mine["accepted"]] == [hid]
    r = world.post(f"/v1/agents/handoffs/{hid}/resolve", "water_zh", json={"resolution": "派维修队"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    stored = world.store.get_handoff(hid)
    assert stored.status == "resolved" and stored.resolution == "派维修队"
    assert world.store.get_agent(world.ids["water_zh"]).status == "available"
    again = world.post(f"/v1/agents/handoffs/{hid}/resolve", "water_zh", json={"resolution": "again"})
    assert again.status_code == 409


def test_resolve_rules_for_agents(world: World) -> None:
    hid = world.ids["fire"]
    r = world.post(f"/v1/agents/handoffs/{hid}/resolve", "water_zh", json={"resolution": "x"})
    assert r.status_code == 409 and "Accept" in r.json()["detail"]
    assert world.post(f"/v1/agents/handoffs/{hid}/accept", "power_en").status_code == 200
    r = world.post(f"/v1/agents/handoffs/{hid}/resolve", "water_zh", json={"resolution": "x"})
    assert r.status_code == 403  # accepted by someone else: no longer theirs to see
    r = world.post(f"/v1/agents/handoffs/{hid}/resolve", "power_en", json={"resolution": ""})
    assert r.status_code == 422 and "resolution" in r.json()["message"]


def test_two_agents_accepting_at_once_exactly_one_wins(world: World) -> None:
    hid = world.ids["fire"]
    statuses: list[int] = []
    barrier = threading.Barrier(3)

    def grab(who: str) -> None:
        barrier.wait()
        statuses.append(world.post(f"/v1/agents/handoffs/{hid}/accept", who).status_code)

    threads = [threading.Thread(target=grab, args=(w,)) for w in ("water_zh", "power_en", "super")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409, 409]


def test_agents_set_their_status_and_bad_input_says_what_is_wrong(world: World) -> None:
    r = world.client.put("/v1/agents/me/status", headers=world.h("water_zh"), json={"status": "available"})
    assert r.status_code == 200 and world.store.get_agent(world.ids["water_zh"]).status == "available"
    r = world.client.put("/v1/agents/me/status", headers=world.h("water_zh"), json={"status": "sleeping"})
    assert r.status_code == 422 and "'status'" in r.json()["message"]
    r = world.client.put(
        "/v1/agents/me/status",
        headers={**world.h("water_zh"), "Content-Type": "application/json"},
        content=b'{"status": ',
    )
    assert r.status_code == 422 and "not valid JSON" in r.json()["message"]


def test_only_a_supervisor_manages_agents(world: World) -> None:
    body = {"name": "Zhao Lei", "topics": ["gas"], "languages": ["zh"]}
    r = world.post("/v1/agents", "water_zh", json=body)
    assert r.status_code == 403 and "supervisor" in r.json()["detail"]
    r = world.post("/v1/agents", "super", json=body)
    assert r.status_code == 201
    created = r.json()
    me = world.client.get("/v1/agents/me", headers={"Authorization": f"Bearer {created['token']}"}).json()
    assert me["name"] == "Zhao Lei" and me["topics"] == ["gas"] and me["role"] == "agent"
    assert "token" not in world.get("/v1/agents", "super").json()[0]
    assert world.get("/v1/agents", "power_en").status_code == 403
    r = world.client.put(
        f"/v1/agents/{created['id']}/status", headers=world.h("super"), json={"status": "busy"}
    )
    assert r.status_code == 200 and world.store.get_agent(created["id"]).status == "busy"


def test_work_order_from_a_handoff_is_prefilled_without_asking_again(world: World) -> None:
    hid = world.ids["water_old"]
    draft = world.get(f"/v1/workorders/draft?handoff_id={hid}", "water_zh").json()
    assert draft["topic"] == "water" and draft["request_type"] == "fault" and draft["urgency"] == "routine"
    assert "我家停水两天了" in draft["summary"] and "您好" not in draft["summary"]  # the caller's words only
    assert draft["details"]["id_number"].endswith("2345") and draft["details"]["id_number"].startswith("*")
    r = world.post("/v1/workorders", "water_zh", json={"handoff_id": hid, "note": "请尽快上门"})
    assert r.status_code == 201
    order = r.json()
    assert order["summary"] == draft["summary"] and order["caller_number"] == "13912345678"
    assert order["status"] == "assigned" and order["assigned_to_name"] == "water_zh"
    assert [n["text"] for n in order["notes"]] == ["created", "请尽快上门"]
    stored = world.store.get_work_order(order["id"])
    # A work order travels to back offices: the record keeps the ID masked too (docs/security.md).
    assert stored.details["id_number"] == "**************2345"
    assert order["details"]["id_number"] == "**************2345"


def test_work_order_status_moves_through_the_workflow_with_notes(world: World) -> None:
    order = world.post("/v1/workorders", "water_zh", json={"handoff_id": world.ids["water_old"]}).json()
    path = f"/v1/workorders/{order['id']}"
    r = world.client.patch(
        path, headers=world.h("water_zh"), json={"status": "in_progress", "note": "已联系"}
    )
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    r = world.client.patch(path, headers=world.h("water_zh"), json={"status": "new"})
    assert r.status_code == 409 and "allowed: assigned, resolved" in r.json()["detail"]
    r = world.client.patch(path, headers=world.h("water_zh"), json={"status": "resolved", "note": "已修复"})
    notes = [(n["status_from"], n["status_to"], n["text"]) for n in r.json()["notes"]]
    assert notes[-2:] == [("assigned", "in_progress", "已联系"), ("in_progress", "resolved", "已修复")]
    assert world.client.patch(path, headers=world.h("power_en"), json={"note": "x"}).status_code == 403
    assert world.get(path, "power_en").status_code == 403
    assert [o["id"] for o in world.get("/v1/workorders", "water_zh").json()] == [order["id"]]
    assert world.get("/v1/workorders", "power_en").json() == []
    assert len(world.get("/v1/workorders", "super").json()) == 2
    assert (
        world.client.patch("/v1/workorders/nope", headers=world.h("super"), json={"note": "x"}).status_code
        == 404
    )


def test_a_work_order_needs_a_call_it_may_see(world: World) -> None:
    r = world.post("/v1/workorders", "water_zh", json={"summary": "no call"})
    assert r.status_code == 422 and "handoff_id or call_id" in r.json()["detail"]
    r = world.post("/v1/workorders", "water_zh", json={"handoff_id": world.ids["power"]})
    assert r.status_code == 403


def test_caller_history_follows_visibility(world: World) -> None:
    r = world.get("/v1/callers/13912345678/history", "water_zh")
    assert r.status_code == 200
    body = r.json()
    assert len(body["calls"]) == 2 and [o["summary"] for o in body["work_orders"]] == ["上月停水已处理"]
    assert world.get("/v1/callers/13912345678/history", "power_en").status_code == 403
    assert world.get("/v1/callers/13800000002/history", "super").status_code == 200


def test_every_agent_endpoint_is_documented_in_openapi(world: World) -> None:
    schema = world.client.get("/openapi.json").json()
    for path in (
        "/v1/agents/queue",
        "/v1/agents/handoffs/{handoff_id}",
        "/v1/agents/handoffs/{handoff_id}/accept",
        "/v1/agents/handoffs/{handoff_id}/resolve",
        "/v1/agents/me/status",
        "/v1/workorders",
        "/v1/workorders/{order_id}",
        "/v1/callers/{caller_number}/history",
        "/v1/calls/{call_id}/recordings/{track}",
    ):
        assert path in schema["paths"], path
        for op in schema["paths"][path].values():
            assert op.get("summary"), path
    detail = schema["paths"]["/v1/agents/handoffs/{handoff_id}"]["get"]["responses"]["200"]
    assert detail["content"]["application/json"]["schema"]["$ref"].endswith("/HandoffDetail")
    assert "bearer" in str(schema["components"]["securitySchemes"]).lower()


def test_ids_and_accounts_are_masked_wherever_they_sit_but_phones_and_places_are_not() -> None:
    from api.agent_models import mask_details

    item = {
        "kind": "id_card",
        "text": "110108198501012345",
        "value": "110108198501012345",
        "display": "1101**********2345",
    }
    masked = mask_details(
        {
            "ids": [item, {"kind": "account", "text": "6222 0202 0011 2233", "value": "6222020200112233"}],
            "phones": [{"kind": "mobile", "text": "13912345678", "value": "13912345678"}],
            "places": [{"kind": "address", "text": "朝阳区建国路88号"}],
            "note": "身份证110108198501012345，电话13912345678",
            "account": 6222020200112233,
        }
    )
    assert masked["ids"][0] == {
        "kind": "id_card",
        "text": "**************2345",
        "value": "**************2345",
        "display": "**************2345",
    }
    assert masked["ids"][1]["value"] == "************2233" and masked["ids"][1]["kind"] == "account"
    assert masked["phones"][0]["value"] == "13912345678" and masked["places"][0]["text"] == "朝阳区建国路88号"
    assert masked["note"] == "身份证**************2345，电话13912345678"
    assert masked["account"] == "************2233"
    assert mask_details(masked) == masked  # idempotent
