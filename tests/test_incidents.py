"""Incident storms and notices: the Poisson tail test, the baseline from recorded history, storm
alerts on SQLite and PostgreSQL, and the notice inside a call (scripted fake stages): a caller
about the incident's topic and place hears it first, an unrelated caller does not, and a caller
who heard it can still ask for a person."""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from session_fakes import FakeCall, FakeUnderstander

from nlu.details import extract_details
from pipeline.bus import EventBus
from pipeline.db import Decision
from pipeline.incidents import IncidentBook, fix_time_words
from pipeline.store import Store
from pipeline.storms import StormConfig, districts_in, hourly_baseline, judge, place_key, poisson_tail
from pipeline.turns import Understanding


def test_poisson_tail_matches_the_sum_of_the_mass_function() -> None:
    for mu in (0.25, 1.0, 3.5, 10.0):
        for k in (0, 1, 3, 5, 12, 25):
            below = sum(math.exp(-mu) * mu**i / math.factorial(i) for i in range(k))
            assert poisson_tail(k, mu) == pytest.approx(1 - below, abs=1e-12)
    assert poisson_tail(80, 10.0) < 1e-30  # tiny tails stay accurate (no 1 - 0.999... cancellation)


def test_a_new_line_uses_the_floor_and_a_busy_topic_needs_a_bigger_burst() -> None:
    cfg = StormConfig()  # 15 min window, floor 2 calls an hour, alpha 1e-3, at least 5 calls
    now = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
    assert not judge(4, "water", now, {}, cfg).storm  # below the minimum, however unusual
    five = judge(5, "water", now, {}, cfg)
    assert five.storm and five.expected == pytest.approx(0.5) and five.p_value < 2e-4
    busy = {("water", 9): 40.0}  # 40 calls an hour usually at 9:00: 10 expected in the window
    assert not judge(12, "water", now, busy, cfg).storm
    assert judge(25, "water", now, busy, cfg).storm
    assert not judge(12, "water", now.replace(hour=3), busy, StormConfig(floor_per_hour=60)).storm


def test_baseline_is_calls_per_hour_of_day_over_the_days_recorded() -> None:
    since = datetime(2026, 3, 1, tzinfo=UTC)
    until = since + timedelta(days=4)
    rows = [("water", since + timedelta(days=d, hours=9, minutes=m)) for d in range(4) for m in (1, 20, 40)]
    rows += [("power", since + timedelta(days=1, hours=14))]
    base = hourly_baseline(rows, since, until)
    assert base[("water", 9)] == pytest.approx(3.0)
    assert base[("power", 14)] == pytest.approx(0.25)
    assert hourly_baseline(rows, since, until, utc_offset_min=480)[("water", 17)] == pytest.approx(3.0)


def test_districts_are_read_from_extracted_details_and_compared_loosely() -> None:
    said = asdict(extract_details("There is no water in Chaoyang district since this morning"))
    assert [place_key(d) for d in districts_in(said)] == ["chaoyang"]
    assert districts_in(asdict(extract_details("朝阳区停水了"))) == ["朝阳区"]
    assert place_key(" Chaoyang  District") == place_key("chaoyang")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'incidents.db'}")
    return Store(request.getfixturevalue("postgres_url"))


def _calls(store: Store, n: int) -> list[str]:
    return [store.start_call(f"1380000{i:04d}", "zh").id for i in range(n)]


def test_a_burst_from_one_district_raises_one_alert_on_the_bus(store: Store) -> None:
    bus = EventBus()
    book = IncidentBook(store, bus, StormConfig())
    seen: list[dict[str, object]] = []
    bus.publish = lambda topic, **data: seen.append({"bus": topic, **data})  # type: ignore[method-assign]
    topic, now = f"water-{uuid.uuid4().hex[:6]}", datetime.now(UTC)
    calls = _calls(store, 7)
    results = [
        book.report(c, topic, "Chaoyang District", now + timedelta(seconds=30 * i))
        for i, c in enumerate(calls)
    ]
    assert results[:4] == [None] * 4  # four calls are not a storm
    alert = results[4]
    assert alert is not None and alert.calls == 5 and alert.district == "chaoyang" and alert.p_value < 1e-3
    assert results[5] is None and results[6] is None  # one alert per burst (cooldown)
    assert [e["bus"] for e in seen] == ["storm.detected"] and seen[0]["storm"]["calls"] == 5  # type: ignore[index]
    assert book.report(calls[0], topic, "Haidian District", now) is None  # another district: its own count
    assert [a.id for a in book.storms()] == [alert.id]


def test_a_topic_that_is_always_busy_at_this_hour_is_no_storm(store: Store) -> None:
    book = IncidentBook(store, EventBus(), StormConfig())
    topic, now = f"water-{uuid.uuid4().hex[:6]}", datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    with store.session() as s:  # 60 calls in this hour of the day on each of the last 3 days
        for day in (1, 2, 3):
            for i, c in enumerate(_calls(store, 60)):
                at = hour - timedelta(days=day) + timedelta(minutes=i % 50)
                s.add(Decision(call_id=c, action="answer", reason="seed", topic=topic, created_at=at))
        s.commit()
    assert book.baseline(now)[(topic, hour.hour)] >= 45  # 180 calls over 3 or 4 such hours
    calls = _calls(store, 6)
    assert all(book.report(c, topic, "朝阳区", now) is None for c in calls)


def test_notices_are_published_matched_counted_and_ended(store: Store) -> None:
    book = IncidentBook(store, EventBus())
    topic = f"water-{uuid.uuid4().hex[:6]}"
    notice = book.publish(topic, "朝阳区", "停水", "water cut", "朝阳区", "Chaoyang District")
    assert book.live_for(topic, ["朝阳区"]) is not None
    assert book.live_for(topic, [], "no water in chaoyang district today").id == notice.id  # type: ignore[union-attr]
    assert book.live_for(topic, ["海淀区"], "海淀区停水") is None
    assert book.live_for("power", ["朝阳区"]) is None
    call = _calls(store, 1)[0]
    assert book.count_call(notice.id, call) and not book.count_call(notice.id, call)
    assert book.calls_of(notice.id) == 1
    book.end(notice.id)
    assert book.live_for(topic, ["朝阳区"]) is None
    with pytest.raises(ValueError, match="both languages"):
        book.publish(topic, "朝阳区", "停水", "")


def test_fix_time_is_said_as_a_clock_time_today_or_with_the_date() -> None:
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert fix_time_words(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), "zh", 480, now) == "18:00"
    assert fix_time_words(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), "zh", 480, now) == "3月3日18:00"
    assert fix_time_words(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), "en", 480, now) == "18:00 on 3 March"


class PlaceUnderstander(FakeUnderstander):
    """The fake classifier (topic water) with the real detail extractor (districts)."""

    def understand(self, text: str, language: str) -> Understanding:
        u = super().understand(text, language)
        return Understanding(u.facts, asdict(extract_details(text)))


async def _call(tmp_path: Path, store: Store, book: IncidentBook, *turns: str) -> FakeCall:
    call = FakeCall(tmp_path, silence_timeout_s=60, store=store, bus=book.bus)
    call.services.understander = PlaceUnderstander()
    call.services.incidents = book
    await call.session.open()
    for text in turns:
        n = len([m for m in call.sent if m["type"] == "decision"])
        await call.session.text(text, "en")
        await call.wait_for(
            lambda m, n=n: (
                m["type"] == "decision" and len([x for x in call.sent if x["type"] == "decision"]) > n
            )
        )
        await asyncio.sleep(0.05)
    await call.session.close("caller_hung_up")
    return call


def test_a_matching_caller_hears_the_notice_first_and_can_still_ask_for_a_person(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")
    book = IncidentBook(store, EventBus())
    fix_by = datetime.now(UTC) + timedelta(hours=3)
    notice = book.publish(
        "water", "Chaoyang District", "停水", "water cut", "朝阳区", "Chaoyang District", fix_by
    )

    matching = asyncio.run(
        _call(tmp_path, store, book, "my water bill, and no water in Chaoyang district", "a person please")
    )
    said = matching.said()
    assert (
        said[1].startswith("INCIDENT_NOTICE")
        and "what=water cut" in said[1]
        and "where=Chaoyang District" in said[1]
    )
    actions = [m["action"] for m in matching.sent if m["type"] == "decision"]
    assert actions == ["incident_notice", "handoff"]  # heard before the bill answer; a person on request
    assert book.calls_of(notice.id) == 1

    other = asyncio.run(_call(tmp_path, store, book, "my water bill, and no water in Haidian district"))
    assert not any(t.startswith("INCIDENT_NOTICE") for t in other.said())
    assert other.said()[1].startswith("You can pay online")
    assert book.calls_of(notice.id) == 1

    again = asyncio.run(
        _call(
            tmp_path,
            store,
            book,
            "no water in Chaoyang district",
            "still no water in Chaoyang district, my bill",
        )
    )
    assert [t.split(" ")[0] for t in again.said()[1:3]] == ["INCIDENT_NOTICE", "You"]  # heard once per call
