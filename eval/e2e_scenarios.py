"""`triage eval e2e`: scenario calls through the live service over its caller WebSocket.

Each scenario is one call. A turn is spoken (text synthesised by the service's own voice in the
turn's language, the neural Mandarin voice for Mandarin, or a recording) in real time followed by
silence until the bot decides. Two modes for ``text`` turns: ``speak`` (default: Mandarin calls are
measured from audio, like English ones) and ``inject`` (sent as text, what speech recognition would
have heard: understanding and policy alone). ``line='phone'`` sends the caller's audio as 8 kHz
mu-law, as a phone trunk does. The next turn follows as soon as the bot has decided and started
speaking, as an impatient caller would (it may barge in over a long answer). Scoring is in
eval/scenarios.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from core.settings import Settings
from eval.call_client import CallClient
from eval.scenarios import ESCALATIONS, Scenario, ScenarioResult, Turn, TurnOutcome, cause, check

DECISION_TIMEOUT_S = 60.0
AUDIO_WAIT_S = 15.0


class _Padder:
    """Keeps the line open with real-time silence, as a phone line does, until stopped."""

    def __init__(self, call: CallClient) -> None:
        self.call, self.done = call, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.done.is_set():
                self.call.send_silence(0.02)
                time.sleep(0.02)
        except Exception:  # the bot hung up: nothing left to keep open
            pass

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


TEXT_TURNS = ("speak", "inject")
LINES = ("wideband", "phone")


def turn_pcm(turn: Turn, synthesize: Callable[[str, str], bytes], line: str = "wideband") -> bytes:
    """The turn's audio as the caller sends it: 16 kHz PCM16, or 8 kHz mu-law on a phone line."""
    from asr.audio import load_audio
    from core.codec import float_to_pcm16_bytes, mulaw_encode, pcm16_bytes_to_float, resample
    from eval.e2e_bench import _trim

    said = turn.say or turn.text
    if said:
        pcm = _trim(synthesize(said, turn.language))
    else:
        assert turn.audio is not None
        pcm = float_to_pcm16_bytes(load_audio(turn.audio))
    if line == "phone":
        return mulaw_encode(resample(pcm16_bytes_to_float(pcm), 16000, 8000))
    return pcm


def play_turn(call: CallClient, turn: Turn, pcm: bytes | None, realtime: bool) -> TurnOutcome:
    mark = call.mark()
    if pcm is None:
        call.ws.send(json.dumps({"type": "text", "text": turn.text, "language": turn.language}))
    else:
        call.send_audio(pcm, realtime=realtime)
    end = time.monotonic()
    # The line stays open with silence while the bot works, as a phone line does.
    padder = _Padder(call)
    out = TurnOutcome()
    try:
        out.decision = call.wait_for(
            lambda e: e["type"] == "decision", after=mark, timeout=DECISION_TIMEOUT_S
        )
        deadline = time.monotonic() + AUDIO_WAIT_S
        first = None
        while first is None and time.monotonic() < deadline:
            with call._cond:
                first = next((r.at for r in call.received[mark:] if r.audio and r.at >= end), None)
                ended = any(r.event and r.event["type"] == "ended" for r in call.received[mark:])
            if ended:
                break
            time.sleep(0.005)
        if first is not None:
            if pcm is None:
                out.text_to_voice_s = first - end
            else:
                out.voice_to_voice_s = first - end
        if out.decision["action"] == "handoff":
            out.handoff = call.wait_for(lambda e: e["type"] == "handoff", after=mark, timeout=10)
        if pcm is not None:
            _settle(call, mark)
    except TimeoutError as e:
        out.error = str(e)
    finally:
        padder.stop()
    events = [r.event for r in call.received[mark:] if r.event]
    out.heard = " ".join(e["text"] for e in events if e["type"] == "final")
    out.hung_up = any(e["type"] in ("hangup", "ended") for e in events)
    return out


def _settle(call: CallClient, mark: int, limit_s: float = 10.0) -> None:
    """Wait until every utterance the recogniser started in this turn has its final, so a second
    utterance of the same turn (a pause after a full stop) is not taken for the next turn's."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with call._cond:
            kinds = [r.event["type"] for r in call.received[mark:] if r.event]
        if "ended" in kinds or kinds.count("speech_started") <= kinds.count("final"):
            return
        time.sleep(0.05)


def _asr_error(turn: Turn, heard: str, spoken: bool) -> float | None:
    said = turn.say or (turn.text if spoken else None)
    if not said:
        return None
    from eval.metrics import char_errors, word_errors

    if turn.language == "zh":
        return char_errors(said, heard, "zh-spoken").rate
    return word_errors(said, heard, "en-spoken").rate


def run_scenario(
    url: str,
    scenario: Scenario,
    synthesize: Callable[[str, str], bytes],
    realtime: bool = True,
    text_turns: str = "speak",
    line: str = "wideband",
) -> ScenarioResult:
    if text_turns not in TEXT_TURNS or line not in LINES:
        raise ValueError(f"text_turns is one of {TEXT_TURNS} and line one of {LINES}")
    result = ScenarioResult(scenario)
    phone = line == "phone"
    call = CallClient(
        url + "/v1/calls/stream",
        language=scenario.language,
        sample_rate=8000 if phone else 16000,
        encoding="mulaw" if phone else "pcm16",
    )
    spoken = text_turns == "speak"
    try:
        for i, turn in enumerate(scenario.turns):
            if any(r.event and r.event["type"] in ("hangup", "ended") for r in call.received):
                result.failures.append(f"the bot ended the call before turn {i + 1} of {len(scenario.turns)}")
                break
            pcm = None if (turn.text and not spoken) else turn_pcm(turn, synthesize, line)
            outcome = play_turn(call, turn, pcm, realtime)
            result.outcomes.append(outcome)
            if turn.expect:
                missed = check(turn.expect, outcome)
                if missed:
                    result.failures.append(f"turn {i + 1}: " + "; ".join(missed))
                    asr_error = _asr_error(turn, outcome.heard, spoken)
                    result.causes.append(cause(turn, turn.expect, outcome, asr_error))
            if outcome.action in ESCALATIONS and i + 1 < len(scenario.turns):
                # A person (or a team) has the call now: the bot decides nothing more.
                result.failures.append(f"handed over at turn {i + 1} of {len(scenario.turns)}")
                break
            if outcome.action == "end":  # the bot closes: it asks for a rating, then says goodbye
                if i + 1 < len(scenario.turns):
                    result.failures.append(f"the bot closed the call at turn {i + 1}")
                break
            if outcome.hung_up or outcome.decision is None:
                if i + 1 < len(scenario.turns):
                    result.failures.append(f"call ended after turn {i + 1} of {len(scenario.turns)}")
                break
    finally:
        if not any(r.event and r.event["type"] == "ended" for r in call.received):
            try:
                call.hangup()
            except Exception:
                call.ws.close()
        else:
            call.ws.close()
    return result


def run_scenarios(
    settings: Settings,
    scenarios: list[Scenario],
    realtime: bool = True,
    progress: Callable[[ScenarioResult], None] | None = None,
    text_turns: str = "speak",
    line: str = "wideband",
) -> list[ScenarioResult]:
    """Start the service in-process (fresh data folder), run every scenario call, return results.
    Spoken turns are synthesised by the service's own voice for the turn's language."""
    from eval.e2e_bench import live_service
    from tts.interface import WEB_PCM16_16K

    with live_service(settings) as (url, runtime):
        synth = runtime.loaded["tts"]

        def synthesize(text: str, language: str) -> bytes:
            audio: bytes = synth.synthesize(text, language, WEB_PCM16_16K).audio
            return audio

        results = []
        for scenario in scenarios:
            results.append(run_scenario(url, scenario, synthesize, realtime, text_turns, line))
            if progress:
                progress(results[-1])
    return results


def result_rows(results: list[ScenarioResult]) -> list[dict[str, Any]]:
    """One row per call for the report table."""
    rows = []
    for r in results:
        last = r.outcomes[-1] if r.outcomes else TurnOutcome()
        d = last.decision or {}
        rows.append(
            {
                "scenario": r.scenario.name,
                "lang": r.scenario.language,
                "ok": "yes" if r.passed else "NO",
                "actions": ",".join(r.actions),
                "urgency": d.get("urgency", ""),
                "topic": d.get("topic", ""),
                "kb_entry": d.get("kb_entry_id") or "",
                "heard": " / ".join(o.heard for o in r.outcomes if o.heard),
                "failures": "; ".join(r.failures),
                "cause": "; ".join(r.causes),
                "reason": " / ".join(str((o.decision or {}).get("reason", "")) for o in r.outcomes),
            }
        )
    return rows
