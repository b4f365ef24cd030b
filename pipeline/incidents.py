"""Incident storms and notices: the records, the live alert, and the notice callers hear first.

- Every caller turn with a topic and a district is a ``PlaceReport`` (once per call, topic and
  district). After each one the burst for that topic and district is judged (pipeline/storms.py);
  a storm opens a ``StormAlert`` and publishes ``storm.detected`` on the bus for the consoles.
- A supervisor (or a utility's outage system with a service token) publishes an ``Incident``
  notice: what, where, expected fix time, in Mandarin and English; ``incident.published`` /
  ``incident.ended`` go on the bus. While it is live, a caller whose topic matches and whose words
  name its place hears it before any answer, once per call; the call is counted against it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from pipeline.bus import EventBus
from pipeline.db import Decision, Incident, IncidentCall, PlaceReport, StormAlert, utcnow
from pipeline.store import NotFoundError, Store
from pipeline.storms import StormConfig, hourly_baseline, judge, place_key

OUTAGE_WORDS: dict[str, tuple[str, str]] = {
    "water": ("停水", "water cut"),
    "power": ("停电", "power cut"),
    "gas": ("停气", "gas supply cut"),
    "heating": ("停暖", "heating outage"),
    "roads": ("道路故障", "road problem"),
    "transport": ("公交停运", "transport disruption"),
}
"""How a storm's topic is prefilled as 'what' in a notice (the supervisor edits it freely)."""
BASELINE_TTL_S = 600.0


@dataclass(frozen=True)
class NoticeDraft:
    """A notice prefilled from a storm alert, for one-click publishing."""

    topic: str
    district: str
    where_zh: str
    where_en: str
    what_zh: str
    what_en: str
    fix_by: datetime
    storm_id: str | None = None


class IncidentBook:
    def __init__(self, store: Store, bus: EventBus, cfg: StormConfig | None = None) -> None:
        self.store = store
        self.bus = bus
        self.cfg = cfg or StormConfig()
        self._baseline: dict[tuple[str, int], float] = {}
        self._baseline_at = -1e9
        self._lock = threading.Lock()

    # --- storms --------------------------------------------------------------------------------
    def baseline(self, now: datetime | None = None) -> dict[tuple[str, int], float]:
        """Calls per hour by (topic, hour of day), from the decisions of the last baseline_days
        (the current window left out, so a storm does not raise its own bar); cached 10 minutes."""
        with self._lock:
            if time.monotonic() - self._baseline_at < BASELINE_TTL_S:
                return self._baseline
        now = now or utcnow()
        since = now - timedelta(days=self.cfg.baseline_days)
        until = now - timedelta(seconds=self.cfg.window_s)
        with self.store.session() as s:
            rows = s.execute(
                select(Decision.call_id, Decision.topic, func.min(Decision.created_at))
                .where(Decision.topic.is_not(None), Decision.created_at >= since, Decision.created_at < until)
                .group_by(Decision.call_id, Decision.topic)
            ).all()
        pairs = ((str(t), _aware(ts)) for _c, t, ts in rows)
        base = hourly_baseline(pairs, since, until, self.cfg.utc_offset_min)
        with self._lock:
            self._baseline, self._baseline_at = base, time.monotonic()
        return base

    def report(
        self, call_id: str, topic: str, district: str, now: datetime | None = None
    ) -> StormAlert | None:
        """Record that this call is about ``topic`` in ``district``; a new storm alert if the burst
        it completes is one (and none was raised for the pair within the cooldown)."""
        now = now or utcnow()
        key = place_key(district)
        if not key:
            return None
        with self.store.session() as s:
            seen = s.scalar(
                select(PlaceReport.id).where(
                    PlaceReport.call_id == call_id, PlaceReport.topic == topic, PlaceReport.district == key
                )
            )
            if seen is None:
                s.add(PlaceReport(call_id=call_id, topic=topic, district=key, created_at=now))
                s.commit()
            calls = int(
                s.scalar(
                    select(func.count(func.distinct(PlaceReport.call_id))).where(
                        PlaceReport.topic == topic,
                        PlaceReport.district == key,
                        PlaceReport.created_at > now - timedelta(seconds=self.cfg.window_s),
                    )
                )
                or 0
            )
        if calls < self.cfg.min_calls:
            return None
        verdict = judge(calls, topic, now, self.baseline(now), self.cfg)
        if not verdict.storm or self.live_for(topic, [district]) is not None:
            return None
        with self.store.session() as s:
            recent = s.scalar(
                select(StormAlert.id).where(
                    StormAlert.topic == topic,
                    StormAlert.district == key,
                    StormAlert.detected_at > now - timedelta(seconds=self.cfg.cooldown_s),
                )
            )
            if recent is not None:
                return None
            alert = StormAlert(
                topic=topic,
                district=key,
                calls=verdict.calls,
                expected=verdict.expected,
                p_value=verdict.p_value,
                window_s=self.cfg.window_s,
                detected_at=now,
            )
            s.add(alert)
            s.commit()
        self.bus.publish("storm.detected", storm=storm_view(alert))
        return alert

    def storms(self, status: str | None = "open", limit: int = 50) -> list[StormAlert]:
        with self.store.session() as s:
            q = select(StormAlert)
            if status:
                q = q.where(StormAlert.status == status)
            return list(s.scalars(q.order_by(StormAlert.detected_at.desc()).limit(limit)))

    def get_storm(self, storm_id: str) -> StormAlert:
        with self.store.session() as s:
            alert = s.get(StormAlert, storm_id)
            if alert is None:
                raise NotFoundError(f"No storm alert with id {storm_id!r}.")
            return alert

    def dismiss(self, storm_id: str) -> StormAlert:
        with self.store.session() as s:
            alert = s.get(StormAlert, storm_id)
            if alert is None:
                raise NotFoundError(f"No storm alert with id {storm_id!r}.")
            alert.status = "dismissed"
            s.commit()
        self.bus.publish("storm.updated", storm=storm_view(alert))
        return alert

    def draft(self, storm_id: str, fix_hours: float = 4.0) -> NoticeDraft:
        alert = self.get_storm(storm_id)
        zh, en = OUTAGE_WORDS.get(alert.topic, (f"{alert.topic}问题", f"{alert.topic} problem"))
        where = alert.district
        where_en = where.title() if where.isascii() else where
        fix_by = (utcnow() + timedelta(hours=fix_hours)).replace(second=0, microsecond=0)
        return NoticeDraft(alert.topic, where, where, where_en, zh, en, fix_by, alert.id)

    # --- notices -------------------------------------------------------------------------------
    def publish(
        self,
        topic: str,
        district: str,
        what_zh: str,
        what_en: str,
        where_zh: str = "",
        where_en: str = "",
        fix_by: datetime | None = None,
        source: str = "supervisor",
        created_by: str | None = None,
        storm_id: str | None = None,
    ) -> Incident:
        if not topic.strip() or not place_key(district):
            raise ValueError("A notice needs a topic and a place (district).")
        if not what_zh.strip() or not what_en.strip():
            raise ValueError("Say what happened in both languages (what_zh and what_en).")
        with self.store.session() as s:
            incident = Incident(
                topic=topic.strip(),
                district=place_key(district),
                where_zh=(where_zh or district).strip(),
                where_en=(where_en or district).strip(),
                what_zh=what_zh.strip(),
                what_en=what_en.strip(),
                fix_by=fix_by,
                source=source,
                created_by=created_by,
                storm_id=storm_id,
            )
            s.add(incident)
            if storm_id:
                alert = s.get(StormAlert, storm_id)
                if alert is None:
                    raise NotFoundError(f"No storm alert with id {storm_id!r}.")
                s.flush()
                alert.status, alert.incident_id = "published", incident.id
            s.commit()
        self.bus.publish("incident.published", incident=incident_view(incident, 0))
        return incident

    def end(self, incident_id: str) -> Incident:
        with self.store.session() as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                raise NotFoundError(f"No incident with id {incident_id!r}.")
            if incident.status == "live":
                incident.status, incident.ended_at = "ended", utcnow()
                s.commit()
        self.bus.publish("incident.ended", incident=incident_view(incident, self.calls_of(incident_id)))
        return incident

    def incidents(self, live_only: bool = True, limit: int = 50) -> list[Incident]:
        with self.store.session() as s:
            q = select(Incident)
            if live_only:
                q = q.where(Incident.status == "live")
            return list(s.scalars(q.order_by(Incident.created_at.desc()).limit(limit)))

    def calls_of(self, incident_id: str) -> int:
        with self.store.session() as s:
            n = s.scalar(select(func.count()).where(IncidentCall.incident_id == incident_id))
            return int(n or 0)

    def live_for(self, topic: str | None, places: list[str], text: str = "") -> Incident | None:
        """The live notice about ``topic`` whose place is among ``places`` or named in ``text``."""
        if not topic:
            return None
        keys = {place_key(p) for p in places}
        said = place_key(text)
        for incident in self.incidents(live_only=True):
            if incident.topic != topic:
                continue
            names = {incident.district, place_key(incident.where_zh), place_key(incident.where_en)}
            if names & keys or any(n and n in said for n in names):
                return incident
        return None

    def count_call(self, incident_id: str, call_id: str) -> bool:
        """Count the call against the incident (once); True when it was not counted before."""
        with self.store.session() as s:
            seen = s.scalar(
                select(IncidentCall.id).where(
                    IncidentCall.incident_id == incident_id, IncidentCall.call_id == call_id
                )
            )
            if seen is not None:
                return False
            s.add(IncidentCall(incident_id=incident_id, call_id=call_id))
            s.commit()
        self.bus.publish(
            "incident.call", incident_id=incident_id, call_id=call_id, calls=self.calls_of(incident_id)
        )
        return True


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite gives naive datetimes back


def _iso(ts: datetime | None) -> str | None:
    return _aware(ts).isoformat() if ts else None


def storm_view(a: StormAlert) -> dict[str, Any]:
    return {
        "storm_id": a.id,
        "topic": a.topic,
        "district": a.district,
        "calls": a.calls,
        "expected": round(a.expected, 3),
        "p_value": a.p_value,
        "window_s": a.window_s,
        "status": a.status,
        "incident_id": a.incident_id,
        "detected_at": _iso(a.detected_at),
    }


def incident_view(i: Incident, calls: int) -> dict[str, Any]:
    return {
        "incident_id": i.id,
        "topic": i.topic,
        "district": i.district,
        "where_zh": i.where_zh,
        "where_en": i.where_en,
        "what_zh": i.what_zh,
        "what_en": i.what_en,
        "fix_by": _iso(i.fix_by),
        "status": i.status,
        "source": i.source,
        "storm_id": i.storm_id,
        "calls": calls,
        "created_at": _iso(i.created_at),
        "ended_at": _iso(i.ended_at),
    }


def fix_time_words(fix_by: datetime, language: str, utc_offset_min: int, now: datetime | None = None) -> str:
    """'18:00' today, else '12月2日18:00' / '18:00 on 2 December', in local time."""
    shift = timedelta(minutes=utc_offset_min)
    local, today = _aware(fix_by) + shift, (now or utcnow()) + shift
    clock = local.strftime("%H:%M")
    if local.date() == today.date():
        return clock
    if language == "zh":
        return f"{local.month}月{local.day}日{clock}"
    return f"{clock} on {local.day} {local.strftime('%B')}"
