"""A synthetic call history: realistic calls, turns, decisions, handoffs, work orders and ratings.

Calls follow a daily profile (quiet at night, peaks mid-morning and mid-afternoon) and a weekly one
(Monday busiest, Sunday quietest); topics, request types, urgency, language and district follow
fixed weights; agents answer handoffs after a wait that grows with the hour's load, and callers
whose patience runs out hang up (abandoned). An optional storm adds many 'no water' calls from one
district within minutes. The same seed gives the same history, row for row.

Rows are produced one day at a time (:func:`day_rows`) and written in bulk by eval/history_write.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

HOUR_PROFILE = [
    0.1, 0.05, 0.05, 0.05, 0.1, 0.2, 0.5, 1.2, 2.4, 3.0, 3.0, 2.6,
    1.8, 2.0, 2.7, 2.8, 2.5, 2.0, 1.5, 1.2, 1.0, 0.7, 0.4, 0.2,
]  # fmt: skip
WEEKDAY_FACTOR = [1.2, 1.1, 1.05, 1.0, 1.0, 0.8, 0.7]  # Monday .. Sunday

# topic -> (weight, request types with weights, chance of handoff, chance of emergency, chance of urgent)
TOPICS: dict[str, tuple[float, dict[str, float], float, float, float]] = {
    "water": (12, {"fault": 6, "inquiry": 3, "complaint": 1}, 0.25, 0.005, 0.12),
    "power": (12, {"fault": 5, "inquiry": 4, "complaint": 1}, 0.25, 0.01, 0.12),
    "heating": (6, {"fault": 5, "inquiry": 3, "complaint": 2}, 0.3, 0.0, 0.1),
    "gas": (5, {"fault": 4, "inquiry": 4, "tip_off": 1}, 0.4, 0.12, 0.15),
    "roads": (6, {"fault": 6, "suggestion": 2, "complaint": 2}, 0.2, 0.01, 0.05),
    "transport": (8, {"inquiry": 6, "complaint": 3, "praise": 1}, 0.15, 0.0, 0.02),
    "environment": (8, {"complaint": 6, "tip_off": 3, "suggestion": 1}, 0.3, 0.0, 0.04),
    "housing": (8, {"complaint": 5, "fault": 3, "inquiry": 2}, 0.35, 0.005, 0.06),
    "social": (10, {"inquiry": 8, "complaint": 2}, 0.3, 0.0, 0.02),
    "health": (5, {"inquiry": 6, "complaint": 3}, 0.3, 0.03, 0.05),
    "documents": (10, {"inquiry": 9, "complaint": 1}, 0.12, 0.0, 0.01),
    "market": (5, {"complaint": 7, "tip_off": 3}, 0.35, 0.0, 0.02),
    "public_order": (3, {"tip_off": 6, "complaint": 4}, 0.5, 0.15, 0.2),
    "other": (2, {"inquiry": 1}, 0.5, 0.0, 0.0),
}
DISTRICTS = {
    "和平区": 14,
    "河西区": 16,
    "南开区": 16,
    "河东区": 12,
    "红桥区": 8,
    "滨海新区": 22,
    "西青区": 12,
}
LANGUAGES = {"zh": 88, "en": 12}
QUESTIONS = {
    "zh": {
        "water": "我家停水了，什么时候来水？",
        "power": "我们小区停电了，请问什么时候恢复？",
        "heating": "暖气不热，能派人来看看吗？",
        "gas": "厨房里有燃气味，怎么办？",
        "roads": "路上有个大坑，路灯也坏了。",
        "transport": "公交车改线了，怎么坐到医院？",
        "environment": "楼下工地晚上施工太吵了。",
        "housing": "物业不修电梯，我要投诉。",
        "social": "社保卡丢了怎么补办？",
        "health": "医保报销需要什么材料？",
        "documents": "身份证到期了去哪里换？",
        "market": "商家不给退预付卡的钱。",
        "public_order": "有人在小区门口打架。",
        "other": "我想问一下别的事情。",
    },
    "en": {
        "water": "There is no water at my flat, when will it come back?",
        "power": "The power is out in our building, when will it be fixed?",
        "heating": "The radiators are cold, can someone come?",
        "gas": "I can smell gas in the kitchen.",
        "roads": "There is a pothole and the streetlight is broken.",
        "transport": "The bus route changed, how do I get to the hospital?",
        "environment": "The building site is too noisy at night.",
        "housing": "The property manager will not repair the lift.",
        "social": "How do I replace a lost social security card?",
        "health": "What do I need for a medical insurance claim?",
        "documents": "Where do I renew my ID card?",
        "market": "The shop will not refund my prepaid card.",
        "public_order": "People are fighting outside my building.",
        "other": "I have another question.",
    },
}
ANSWER = {"zh": "好的，我来为您解答。", "en": "Here is what you need to know."}
HANDOFF_SAY = {"zh": "正在为您转接人工，请稍候。", "en": "I am putting you through to a person, please hold."}


@dataclass(frozen=True)
class Storm:
    """Many 'no water' calls from one district within minutes (a burst main)."""

    at: datetime
    district: str = "滨海新区"
    calls: int = 300
    minutes: float = 30.0
    topic: str = "water"

    @classmethod
    def parse(cls, spec: str, default_day: date, utc_offset_min: int) -> Storm:
        """'at=2026-11-20T09:00,district=滨海新区,calls=300,minutes=30' (every key optional; at is local
        time, default 09:00 on the last day)."""
        fields: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, value = part.partition("=")
            if not sep or name not in ("at", "district", "calls", "minutes", "topic"):
                raise ValueError(f"Storm part {part!r}: write at=, district=, calls=, minutes= or topic=.")
            fields[name] = value.strip()
        local = (
            datetime.fromisoformat(fields["at"])
            if "at" in fields
            else datetime.combine(default_day, datetime.min.time()) + timedelta(hours=9)
        )
        at = (local - timedelta(minutes=utc_offset_min)).replace(tzinfo=UTC)
        return cls(
            at=at,
            district=fields.get("district", cls.district),
            calls=int(fields.get("calls", cls.calls)),
            minutes=float(fields.get("minutes", cls.minutes)),
            topic=fields.get("topic", cls.topic),
        )


@dataclass
class HistoryPlan:
    """What to generate. Local days start at midnight ``utc_offset_min`` minutes from UTC."""

    start: date
    days: int
    calls_per_day: int
    seed: int = 14
    agents: int = 0  # 0: one per 150 calls a day, at least 3
    utc_offset_min: int = 480
    storms: list[Storm] = field(default_factory=list)

    def agent_ids(self) -> list[str]:
        n = self.agents or max(3, self.calls_per_day // 150)
        return [f"synth{self.seed:04d}a{i:04d}" for i in range(n)]


@dataclass
class DayRows:
    """One day's rows, as dicts keyed by column name, table by table."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    utterances: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    handoffs: list[dict[str, Any]] = field(default_factory=list)
    work_orders: list[dict[str, Any]] = field(default_factory=list)


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class HistoryGenerator:
    """Deterministic: the whole history is drawn from one seeded random generator, day by day."""

    def __init__(self, plan: HistoryPlan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.agents = plan.agent_ids()
        self.recent_numbers: list[str] = []
        self.counter = 0
        self.start_utc = datetime.combine(plan.start, datetime.min.time(), UTC) - timedelta(
            minutes=plan.utc_offset_min
        )
        self.end = self.start_utc + timedelta(days=plan.days)

    def _id(self) -> str:
        self.counter += 1
        return f"{self.plan.seed:06x}{self.counter:026x}"

    def _number(self) -> str:
        if self.recent_numbers and self.rng.random() < 0.12:  # calls again about the same thing
            return self.rng.choice(self.recent_numbers[-5000:])
        number = f"1{self.rng.randint(3, 9)}{self.rng.randint(0, 999_999_999):09d}"
        self.recent_numbers.append(number)
        if len(self.recent_numbers) > 20000:
            del self.recent_numbers[:10000]
        return number

    def day_rows(self, day_index: int) -> DayRows:
        plan, rng = self.plan, self.rng
        day = plan.start + timedelta(days=day_index)
        midnight = datetime.combine(day, datetime.min.time(), UTC) - timedelta(minutes=plan.utc_offset_min)
        expected = plan.calls_per_day * WEEKDAY_FACTOR[day.weekday()]
        n = max(0, round(rng.gauss(expected, math.sqrt(expected))))
        hours = rng.choices(range(24), weights=HOUR_PROFILE, k=n)
        load = [h * 24 / sum(HOUR_PROFILE) for h in HOUR_PROFILE]  # busy hours wait longer
        rows = DayRows()
        for hour in sorted(hours):
            start = midnight + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
            self._call(rows, start, load[hour])
        for storm in plan.storms:
            if midnight <= storm.at < midnight + timedelta(days=1):
                for _ in range(storm.calls):
                    start = storm.at + timedelta(minutes=rng.uniform(0, storm.minutes))
                    self._call(rows, start, 3.0, storm)
        rows.calls.sort(key=lambda c: c["started_at"])
        return rows

    def _call(self, rows: DayRows, start: datetime, load: float, storm: Storm | None = None) -> None:
        rng = self.rng
        call_id = self._id()
        lang = _pick(rng, LANGUAGES)
        if storm is None:
            topic = _pick(rng, {t: v[0] for t, v in TOPICS.items()})
            district = _pick(rng, DISTRICTS)
        else:
            topic, district = storm.topic, storm.district
        _, types, p_handoff, p_emergency, p_urgent = TOPICS.get(topic, TOPICS["other"])
        request_type = "fault" if storm else _pick(rng, types)
        roll = rng.random()
        urgency = (
            "emergency" if roll < p_emergency else "urgent" if roll < p_emergency + p_urgent else "routine"
        )
        if storm:
            urgency = "urgent" if rng.random() < 0.3 else "routine"
        confidence = round(rng.betavariate(8, 2), 3)
        handoff = urgency == "emergency" or rng.random() < p_handoff + (0.2 if confidence < 0.6 else 0)
        bot_s = rng.uniform(20, 90) if handoff else rng.uniform(40, 180)
        t_bot = start + timedelta(seconds=bot_s)
        call: dict[str, Any] = {
            "id": call_id, "caller_number": self._number(), "language": lang, "channel": "synthetic",
            "status": "ended", "end_reason": "caller_hung_up", "rating": None, "started_at": start,
            "ended_at": t_bot, "topic": topic, "request_type": request_type, "urgency": urgency,
            "district": district,
        }  # fmt: skip
        question = QUESTIONS[lang][topic]
        said = [("caller", question, 0.0), ("bot", HANDOFF_SAY[lang] if handoff else ANSWER[lang], 4.0)]
        for seq, (speaker, words, at) in enumerate(said):
            rows.utterances.append({
                "call_id": call_id, "seq": seq, "speaker": speaker, "text": words, "language": lang,
                "start_s": at, "end_s": at + 3.5, "confidence": confidence if speaker == "caller" else None,
                "created_at": start + timedelta(seconds=at + 3.5),
            })  # fmt: skip
        rows.decisions.append({
            "call_id": call_id, "utterance_seq": 0, "action": "handoff" if handoff else "answer",
            "reason": "synthetic history", "topic": topic, "request_type": request_type, "urgency": urgency,
            "confidence": confidence, "kb_entry_id": None if handoff else f"{topic}-faq",
            "created_at": start + timedelta(seconds=4),
        })  # fmt: skip
        outcome = "answered"
        if handoff:
            outcome = self._handoff(rows, call, t_bot, load, confidence)
        rated_p = 0.45 if outcome != "abandoned" else 0.1
        if rng.random() < rated_p:
            good = {"answered": 0.8, "person": 0.75, "abandoned": 0.15}[outcome]
            call["rating"] = rng.choice((4, 5)) if rng.random() < good else rng.choice((1, 2, 3))
        if (
            request_type in ("fault", "complaint", "tip_off")
            and outcome != "abandoned"
            and rng.random() < 0.5
        ):
            self._work_order(rows, call, topic, request_type, urgency, question)
        rows.calls.append(call)

    def _handoff(
        self, rows: DayRows, call: dict[str, Any], t: datetime, load: float, confidence: float
    ) -> str:
        rng = self.rng
        emergency = call["urgency"] == "emergency"
        wait = rng.expovariate(1 / (6.0 if emergency else 8.0 * load))
        patience = rng.expovariate(1 / 150.0)
        h = {
            "id": self._id(), "call_id": call["id"], "status": "resolved", "urgency": call["urgency"],
            "topic": call["topic"], "request_type": call["request_type"], "language": call["language"],
            "confidence": confidence, "reason": "synthetic history",
            "details": {"district": call["district"]},
            "answers_tried": [], "agent_id": None, "resolution": None, "created_at": t, "accepted_at": None,
            "resolved_at": None, "transfer_note": None, "transfer_to_agent_id": None,
            "transfer_topic": None, "transferred_by": None,
        }  # fmt: skip
        rows.handoffs.append(h)
        if wait > patience and not emergency:  # one in six asks to be called back instead of hanging up
            h["status"] = "callback" if rng.random() < 1 / 6 else "abandoned"
            call["ended_at"] = t + timedelta(seconds=patience)
            return "abandoned"
        accepted = t + timedelta(seconds=wait)
        resolved = accepted + timedelta(seconds=rng.expovariate(1 / 240.0) + 30)
        h.update(
            agent_id=rng.choice(self.agents), accepted_at=accepted, resolved_at=resolved, resolution="handled"
        )
        call["ended_at"] = resolved
        return "person"

    def _work_order(
        self, rows: DayRows, call: dict[str, Any], topic: str, rtype: str, urgency: str, summary: str
    ) -> None:
        rng = self.rng
        created = call["ended_at"]
        took = timedelta(hours=rng.expovariate(1 / 40.0))
        done = created + took <= self.end
        status = "resolved" if done else rng.choice(("new", "assigned", "in_progress"))
        rows.work_orders.append({
            "id": self._id(), "call_id": call["id"], "caller_number": call["caller_number"], "topic": topic,
            "request_type": rtype, "urgency": urgency, "summary": summary,
            "details": {"district": call["district"]}, "status": status,
            "assigned_to": None if status == "new" else rng.choice(self.agents), "created_at": created,
            "updated_at": created + took if done else created,
        })  # fmt: skip
