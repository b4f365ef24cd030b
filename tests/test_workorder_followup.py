"""Work-order follow-up: due times by type and urgency, overdue orders urged once (bus event, note,
count) on SQLite and PostgreSQL, and a caller asking for an order's status by its six-digit
reference, said in one turn, said after being asked, or keyed on the keypad ending with #."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from session_fakes import FakeCall

from pipeline.bus import EventBus
from pipeline.db import WorkOrder
from pipeline.store import Store
from pipeline.workorder_followup import DueRules, FollowUp, asks_for_status, six_digits, work_order_reference

RULES = DueRules(72.0, {"emergency": 4.0, "urgent": 24.0, "fault:urgent": 12.0, "complaint": 120.0})


def test_due_time_takes_the_most_specific_rule() -> None:
    assert RULES.hours("fault", "urgent") == 12.0
    assert RULES.hours("inquiry", "urgent") == 24.0
    assert RULES.hours("complaint", "routine") == 120.0
    assert RULES.hours("fault", "emergency") == 4.0
    assert RULES.hours(None, "routine") == 72.0


def test_status_requests_and_references_are_recognised() -> None:
    assert asks_for_status("我想查一下工单进度")
    assert asks_for_status("我的工单123456现在处理得怎么样了")
    assert asks_for_status("What's the status of my work order?")
    assert asks_for_status("can you check on my report please")
    assert not asks_for_status("How do I pay my water bill?")
    assert not asks_for_status("我家停水了")
    assert not asks_for_status("我想查询社保办理进度")
    assert asks_for_status("我上周报修的路灯，现在进度怎么样")
    assert six_digits("编号是一二三四五六") == "123456"
    assert six_digits("it's 2 0 4 5 1 8") == "204518"
    assert six_digits("my number is 13812345678") is None
    assert six_digits("123456") == "123456"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'followup.db'}")
    return Store(request.getfixturevalue("postgres_url"))


def _order(store: Store, hours_ago: float, tag: str, **fields: object) -> WorkOrder:
    order = store.create_work_order(f"{tag} burst main", "bot", **fields)
    with store.session() as s:
        row = s.get(WorkOrder, order.id)
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(hours=hours_ago)
        s.commit()
    return store.get_work_order(order.id)


def test_overdue_orders_are_urged_once_to_supervisors_and_the_team(store: Store) -> None:
    bus = EventBus()
    seen: list[dict[str, object]] = []
    bus.publish = lambda topic, **data: seen.append({"bus": topic, **data})  # type: ignore[method-assign]
    followup = FollowUp(store, bus, RULES)
    tag = uuid.uuid4().hex[:8]
    late = _order(store, 13, tag, request_type="fault", urgency="urgent", assigned_to="team-water")
    _order(store, 11, tag, request_type="fault", urgency="urgent")  # due in an hour
    _order(store, 30, tag, request_type="complaint", urgency="routine")  # 120 h for complaints
    done = _order(store, 200, tag, urgency="routine")
    store.update_work_order(done.id, "agent", status="resolved")
    mine = [o for o in followup.overdue() if o.summary.startswith(tag)]
    assert [o.id for o in mine] == [late.id]
    assert [o.id for o in followup.overdue(assigned_to="team-water") if o.summary.startswith(tag)] == [
        late.id
    ]
    urged = [o.id for o in followup.urge_overdue() if o.summary.startswith(tag)]
    assert urged == [late.id]
    assert not [o for o in followup.urge_overdue() if o.summary.startswith(tag)]  # once only
    events = [e for e in seen if e["order"]["work_order_id"] == late.id]  # type: ignore[index]
    assert len(events) == 1 and events[0]["bus"] == "workorder.overdue"
    order = events[0]["order"]
    assert order["assigned_to"] == "team-water" and order["overdue_h"] == pytest.approx(1.0, abs=0.1)  # type: ignore[index]
    assert "urged" in store.get_work_order(late.id).notes[-1].text
    assert followup.find(work_order_reference(late.id)).id == late.id  # type: ignore[union-attr]


async def _status_call(tmp_path: Path, followup: FollowUp, texts: list[str], keys: str = "") -> FakeCall:
    call = FakeCall(tmp_path, silence_timeout_s=60, store=followup.store, bus=followup.bus)
    call.services.followup = followup
    call.session.keypad.timeout_s = 0.3
    await call.session.open()
    for text in texts:
        n = len(call.said())
        await call.session.text(text, "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en")
        await call.wait_for(lambda m, n=n: m["type"] == "bot_text" and len(call.said()) > n)
    for k in keys:
        await call.session.dtmf(k)
    if keys:
        await call.wait_for(lambda m: m["type"] == "bot_text" and "WORKORDER_STATUS " in m["text"])
    await call.session.close("caller_hung_up")
    return call


def test_a_caller_hears_the_status_of_their_work_order(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")
    followup = FollowUp(store, EventBus(), RULES)
    order = _order(store, 2, "x", request_type="fault", urgency="urgent")
    store.update_work_order(order.id, "agent", status="in_progress")
    ref = work_order_reference(order.id)
    spoken = " ".join(ref)

    one_turn = asyncio.run(_status_call(tmp_path, followup, [f"我的工单{ref}处理得怎么样了"]))
    said = one_turn.said()[1]
    assert said.startswith("WORKORDER_STATUS") and f"reference={ref}" in said and "status=正在处理中" in said
    assert "due=预计" in said

    asked = asyncio.run(
        _status_call(tmp_path, followup, ["What's the status of my work order?", f"it is {spoken}"])
    )
    assert asked.said()[1] == "WORKORDER_ASK_REFERENCE"
    assert "status=being worked on" in asked.said()[2]

    keyed = asyncio.run(
        _status_call(tmp_path, followup, ["What's the status of my work order?"], keys=ref + "#")
    )
    assert keyed.said()[1] == "WORKORDER_ASK_REFERENCE" and f"reference={ref}" in keyed.said()[2]

    unknown = "000000" if ref != "000000" else "111111"
    missing = asyncio.run(_status_call(tmp_path, followup, [f"status of work order {unknown}"]))
    assert missing.said()[1] == f"WORKORDER_NOT_FOUND reference={unknown}"

    other = asyncio.run(_status_call(tmp_path, followup, ["how do I pay my bill"]))
    assert other.said()[1].startswith("You can pay online")
