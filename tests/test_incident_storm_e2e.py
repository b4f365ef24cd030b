"""An incident storm through the real service with the real models: scenario callers report no
water in one district over the caller WebSocket (text turns, as `triage eval e2e`'s inject mode
sends them), the storm alert reaches a supervisor's console stream and REST list, the supervisor
publishes the prefilled notice in one click, and the next caller about no water there hears it
first (Mandarin and English) while a caller about another district and one about a bill do not.
A caller asks for a work order's status by its reference and hears it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_ws import agent_protocols
from websockets.sync.client import connect

from core.settings import Settings
from eval.call_client import CallClient
from eval.e2e_bench import live_service
from pipeline.workorder_followup import work_order_reference

REPO = Path(__file__).resolve().parent.parent
STORM = [
    "朝阳区停水了，家里一滴水都没有",
    "我家在朝阳区，从早上开始就没有水了",
    "朝阳区这边停水了，什么时候来水",
    "朝阳区我们小区停水了",
    "朝阳区停水，水龙头没有水",
    "朝阳区停水好几个小时了",
]


def turn(url: str, text: str, language: str) -> tuple[dict[str, Any], str]:
    """One injected caller turn: the bot's decision and what it said, then hang up."""
    call = CallClient(url + "/v1/calls/stream", language=language)
    try:
        call.wait_for(lambda e: e["type"] == "bot_text", timeout=30)  # the greeting
        mark = call.mark()
        call.ws.send(json.dumps({"type": "text", "text": text, "language": language}))
        decision = call.wait_for(lambda e: e["type"] == "decision", after=mark, timeout=60)
        said = call.wait_for(lambda e: e["type"] == "bot_text", after=mark, timeout=30)["text"]
        return decision, said
    finally:
        call.hangup()


@pytest.fixture(scope="module")
def service(model_cache_dir: Path) -> Iterator[tuple[str, Any]]:
    built = Settings().resolved_nlu_model_dir()
    settings = Settings(
        cache_dir=model_cache_dir,
        nlu_model_dir=built.resolve(),
        kb_index_dir=(REPO / "var" / "kb-index").resolve(),
        report_utc_offset_min=480,
    )
    with live_service(settings) as (url, runtime):
        yield url, runtime


def test_storm_alert_one_click_notice_heard_by_the_next_matching_caller_only(
    service: tuple[str, Any],
) -> None:
    url, runtime = service
    _, token = runtime.store.create_agent("Sue", role="supervisor")
    http = url.replace("ws://", "http://")
    events: list[dict[str, Any]] = []
    ready, alerted = threading.Event(), threading.Event()

    def console() -> None:
        with connect(f"{url}/v1/agents/stream", subprotocols=agent_protocols(token), open_timeout=10) as ws:
            ready.set()
            for raw in ws:
                event = json.loads(raw)
                events.append(event)
                if event.get("type") == "storm.detected":
                    alerted.set()
                    return

    threading.Thread(target=console, daemon=True).start()
    assert ready.wait(10)
    decisions = [turn(url, text, "zh")[0] for text in STORM]
    assert [d["topic"] for d in decisions].count("water") >= 5, decisions
    assert alerted.wait(10), events
    storm = next(e for e in events if e["type"] == "storm.detected")["storm"]
    assert storm["topic"] == "water" and storm["district"] == "朝阳区" and storm["calls"] >= 5

    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    listed = httpx.get(f"{http}/v1/incidents/storms", headers=headers).json()
    assert [s["storm_id"] for s in listed] == [storm["storm_id"]]
    published = httpx.post(
        f"{http}/v1/incidents/storms/{storm['storm_id']}/publish",
        headers=headers,
        json={"where_en": "Chaoyang District", "fix_by": "2031-06-01T10:00:00+00:00"},
    )
    assert published.status_code == 201, published.text
    incident = published.json()

    decision, said = turn(url, "朝阳区还是停水，怎么回事", "zh")
    assert decision["action"] == "incident_notice", decision
    assert "我们已经知道朝阳区停水" in said and "18:00" in said
    decision, said = turn(url, "There is no water in Chaoyang District", "en")
    assert decision["action"] == "incident_notice", decision
    assert "We know about the water cut in Chaoyang District" in said
    for other in ("海淀区停水了，家里没有水", "水费怎么交"):
        decision, said = turn(url, other, "zh")
        assert decision["action"] != "incident_notice" and "我们已经知道" not in said, (other, decision)
    assert runtime.incidents.calls_of(incident["incident_id"]) == 2


def test_a_caller_hears_their_work_order_status_by_reference(service: tuple[str, Any]) -> None:
    url, runtime = service
    order = runtime.store.create_work_order("路灯不亮", "bot", topic="roads", request_type="fault")
    runtime.store.update_work_order(order.id, "agent", status="in_progress")
    ref = work_order_reference(order.id)
    decision, said = turn(url, f"我想查一下工单{ref}的进度", "zh")
    assert decision["action"] == "workorder_status"
    assert f"工单{ref}目前正在处理中" in said
    decision, said = turn(url, f"What is the status of my work order {ref}?", "en")
    assert f"Work order {ref} is being worked on" in said
