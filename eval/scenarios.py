"""End-to-end call scenarios: the file format, and scoring what the live service did (pure, no I/O).

A scenario file (YAML) holds one call, or a list of calls under ``scenarios:``::

    language: en                    # default for the calls below (greeting language, text turns)
    scenarios:
      - name: en-power-bill
        say: How can I pay my electricity bill?          # text synthesised by the bot's voice, spoken
        expect: {action: answer, kb_entry: power-bill-payment}
      - name: en-clarify-then-answer
        turns:
          - say: I have a question.
            expect: {action: clarify}
          - audio: clips/gas_bill.wav                      # a recording, relative to the file
            expect: {action: answer, kb_entry: gas-bill-payment}
      - name: zh-fire
        language: zh
        text: 厨房着火了，快来人！     # spoken with the Mandarin voice, or injected as if ASR had heard it
        expect: {action: handoff, urgency: emergency}

``expect`` keys: ``action`` (one policy action or a list of acceptable ones: answer, clarify,
handoff, work_order, repeat, anything_else, still_there, end), ``kb_entry``, ``urgency``, ``topic``.
A single-turn call may put ``say``/``text``/``audio`` and ``expect`` on the call itself.
``say`` is always spoken; ``text`` is spoken in the default mode (the Mandarin scenarios, with the
neural Mandarin voice) and injected as text in the second mode (``text_turns: inject``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ACTIONS = ("answer", "clarify", "handoff", "work_order", "repeat", "anything_else", "still_there", "end")
ESCALATIONS = ("handoff", "work_order")
_TURN_KEYS = {"say", "text", "audio", "language", "expect"}
_EXPECT_KEYS = {"action", "kb_entry", "urgency", "topic"}
_CALL_KEYS = {"name", "language", "turns", "tags", "note"} | _TURN_KEYS


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file, the call and the field."""


@dataclass(frozen=True)
class Expectation:
    actions: tuple[str, ...] = ()
    kb_entry: str | None = None
    urgency: str | None = None
    topic: str | None = None


@dataclass(frozen=True)
class Turn:
    language: str
    say: str | None = None
    text: str | None = None
    audio: Path | None = None
    expect: Expectation | None = None

    @property
    def kind(self) -> str:
        return "say" if self.say else "text" if self.text else "audio"

    @property
    def words(self) -> str:
        return self.say or self.text or str(self.audio)


@dataclass(frozen=True)
class Scenario:
    name: str
    language: str
    turns: tuple[Turn, ...]
    tags: tuple[str, ...] = ()
    source: str = ""


def _expectation(raw: Any, where: str) -> Expectation:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: 'expect' must be a mapping ({', '.join(sorted(_EXPECT_KEYS))})")
    unknown = set(raw) - _EXPECT_KEYS
    if unknown:
        raise ScenarioError(
            f"{where}: unknown expectation(s) {sorted(unknown)}; known: {sorted(_EXPECT_KEYS)}"
        )
    actions = raw.get("action") or ()
    actions = (actions,) if isinstance(actions, str) else tuple(actions)
    bad = [a for a in actions if a not in ACTIONS]
    if bad:
        raise ScenarioError(f"{where}: unknown action(s) {bad}; known: {', '.join(ACTIONS)}")
    return Expectation(actions, raw.get("kb_entry"), raw.get("urgency"), raw.get("topic"))


def _turn(raw: Any, language: str, base: Path, where: str) -> Turn:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: a turn must be a mapping with say, text or audio")
    unknown = set(raw) - _TURN_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown turn field(s) {sorted(unknown)}; known: {sorted(_TURN_KEYS)}")
    given = [k for k in ("say", "text", "audio") if raw.get(k)]
    if len(given) != 1:
        raise ScenarioError(f"{where}: give exactly one of say (text to synthesise), text or audio")
    lang = str(raw.get("language") or language)
    audio = None
    if raw.get("audio"):
        audio = (base / str(raw["audio"])).resolve()
        if not audio.is_file():
            raise ScenarioError(f"{where}: audio file {audio} not found")
    expect = _expectation(raw["expect"], where) if "expect" in raw else None
    return Turn(lang, raw.get("say"), raw.get("text"), audio, expect)


def _call(raw: Any, language: str, base: Path, where: str) -> Scenario:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: a call must be a mapping")
    unknown = set(raw) - _CALL_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown field(s) {sorted(unknown)}; known: {sorted(_CALL_KEYS)}")
    name = str(raw.get("name") or "")
    if not name:
        raise ScenarioError(f"{where}: every call needs a 'name'")
    where = f"{where} ({name})"
    lang = str(raw.get("language") or language)
    if "turns" in raw:
        if any(k in raw for k in _TURN_KEYS - {"language"}):
            raise ScenarioError(f"{where}: give either 'turns' or one turn's fields, not both")
        turns = raw["turns"]
        if not isinstance(turns, list) or not turns:
            raise ScenarioError(f"{where}: 'turns' must be a non-empty list")
        parsed = tuple(_turn(t, lang, base, f"{where} turn {i + 1}") for i, t in enumerate(turns))
    else:
        parsed = (_turn({k: v for k, v in raw.items() if k in _TURN_KEYS}, lang, base, where),)
    return Scenario(name, lang, parsed, tuple(raw.get("tags") or ()), where)


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Every call in a scenario file, or in every *.yaml file of a folder (sorted by file name)."""
    path = Path(path)
    files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise ScenarioError(f"{path}: no scenario files (*.yaml) found")
    out: list[Scenario] = []
    for f in files:
        try:
            data = yaml.safe_load(f.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ScenarioError(f"{f}: not valid YAML ({e})") from None
        if not isinstance(data, dict):
            raise ScenarioError(f"{f}: expected a mapping (one call, or 'scenarios:' with a list)")
        language = str(data.get("language") or "en")
        if "scenarios" in data:
            calls = data["scenarios"]
            if not isinstance(calls, list):
                raise ScenarioError(f"{f}: 'scenarios' must be a list of calls")
            out += [_call(c, language, f.parent, f"{f.name}[{i}]") for i, c in enumerate(calls)]
        else:
            out.append(_call(data, language, f.parent, f.name))
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ScenarioError(f"{path}: scenario names repeat: {dupes}")
    return out


@dataclass
class TurnOutcome:
    """What the service did with one caller turn, as seen on the caller's WebSocket."""

    heard: str = ""
    decision: dict[str, Any] | None = None
    handoff: dict[str, Any] | None = None
    hung_up: bool = False
    voice_to_voice_s: float | None = None
    """Audio turns: last caller frame sent -> first byte of bot audio after it."""
    text_to_voice_s: float | None = None
    """Text turns: text sent -> first byte of bot audio."""
    error: str = ""

    @property
    def action(self) -> str | None:
        return self.decision["action"] if self.decision else None


@dataclass
class ScenarioResult:
    scenario: Scenario
    outcomes: list[TurnOutcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def actions(self) -> list[str]:
        return [o.action or "none" for o in self.outcomes]


def check(expect: Expectation, outcome: TurnOutcome) -> list[str]:
    """The ways ``outcome`` misses ``expect`` (empty when it meets it)."""
    if outcome.decision is None:
        return [f"no decision ({outcome.error or 'timed out'})"]
    d = outcome.decision
    missed = []
    if expect.actions and d["action"] not in expect.actions:
        missed.append(f"action {d['action']} not {'/'.join(expect.actions)}")
    if expect.kb_entry and d.get("kb_entry_id") != expect.kb_entry:
        missed.append(f"kb entry {d.get('kb_entry_id')} not {expect.kb_entry}")
    if expect.urgency and d.get("urgency") != expect.urgency:
        missed.append(f"urgency {d.get('urgency')} not {expect.urgency}")
    if expect.topic and d.get("topic") != expect.topic:
        missed.append(f"topic {d.get('topic')} not {expect.topic}")
    return missed


def cause(turn: Turn, expect: Expectation, outcome: TurnOutcome, asr_error: float | None) -> str:
    """Which stage most likely made a turn miss: a heuristic on the decision's recorded reason."""
    d = outcome.decision
    if d is None:
        return "no decision"
    reason = str(d.get("reason", ""))
    if asr_error is not None and asr_error > 0.3:
        return "asr"
    if expect.urgency == "emergency" and d.get("urgency") != "emergency":
        return "classifier/rules: emergency missed"
    if expect.urgency != "emergency" and d.get("urgency") == "emergency":
        return "classifier/rules: false emergency"
    if "answer" in expect.actions and d["action"] == "answer":
        return "kb retrieval: wrong entry"
    if "answer" in expect.actions and "knowledge-base" in reason:
        return "kb threshold: no confident answer"
    if "confidence" in reason or "out of scope" in reason:
        return "classifier: not understood / out of scope"
    if d["action"] == "answer":
        return "policy: answered (kb hit) instead"
    if "goes to a person" in reason or "work order" in reason or "urgent" in reason:
        return f"classifier request type/urgency -> policy ({reason})"
    return f"policy/other ({reason})"


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def summarise(results: list[ScenarioResult]) -> dict[str, Any]:
    """Flat figures over calls: routing, containment, escalation, emergencies, latency."""
    n = len(results)
    turns = [(t, o) for r in results for t, o in zip(r.scenario.turns, r.outcomes, strict=False) if t.expect]
    contained = [r for r in results if "answer" in r.actions and not any(a in ESCALATIONS for a in r.actions)]
    escalated = [r for r in results if any(a in ESCALATIONS for a in r.actions)]
    expects_contained = [
        r
        for r in results
        if any(t.expect and t.expect.actions == ("answer",) for t in r.scenario.turns)
        and not any(t.expect and set(t.expect.actions) & set(ESCALATIONS) for t in r.scenario.turns)
    ]
    emergency = [(t, o) for t, o in turns if t.expect and t.expect.urgency == "emergency"]
    not_emergency = [(t, o) for t, o in turns if t.expect and t.expect.urgency != "emergency"]

    def flagged(o: TurnOutcome) -> bool:
        return o.decision is not None and o.decision.get("urgency") == "emergency" and o.action == "handoff"

    v2v = [o.voice_to_voice_s for r in results for o in r.outcomes if o.voice_to_voice_s is not None]
    t2v = [o.text_to_voice_s for r in results for o in r.outcomes if o.text_to_voice_s is not None]
    out: dict[str, Any] = {
        "scenarios": n,
        "routing_accuracy": _rate(sum(r.passed for r in results), n),
        "turn_accuracy": _rate(sum(not check(t.expect, o) for t, o in turns if t.expect), len(turns)),
        "containment_rate": _rate(len(contained), n),
        "expected_containment_rate": _rate(len(expects_contained), n),
        "escalation_rate": _rate(len(escalated), n),
        "emergency_recall": _rate(sum(flagged(o) for _, o in emergency), len(emergency)),
        "emergency_false_alarm_rate": _rate(sum(flagged(o) for _, o in not_emergency), len(not_emergency)),
        "emergency_turns": len(emergency),
        "voice_to_voice_p50_s": _pct(v2v, 50),
        "voice_to_voice_p95_s": _pct(v2v, 95),
        "text_to_voice_p50_s": _pct(t2v, 50),
        "voice_turns": len(v2v),
        "text_turns": len(t2v),
    }
    for lang in sorted({r.scenario.language for r in results}):
        sub = [r for r in results if r.scenario.language == lang]
        out[f"routing_accuracy_{lang}"] = _rate(sum(r.passed for r in sub), len(sub))
        out[f"scenarios_{lang}"] = len(sub)
        lang_emergency = [(t, o) for t, o in emergency if t.language == lang]
        out[f"emergency_recall_{lang}"] = _rate(
            sum(flagged(o) for _, o in lang_emergency), len(lang_emergency)
        )
        lang_v2v = [o.voice_to_voice_s for r in sub for o in r.outcomes if o.voice_to_voice_s is not None]
        out[f"voice_to_voice_p50_s_{lang}"] = _pct(lang_v2v, 50)
        out[f"voice_turns_{lang}"] = len(lang_v2v)
    causes: dict[str, int] = {}
    for r in results:
        for c in r.causes:
            key = c.split(" (")[0]
            causes[key] = causes.get(key, 0) + 1
    out["failure_causes"] = causes
    return out
