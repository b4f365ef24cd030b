"""Phone calls over SIP from baresip (Debian's package, an independent SIP phone) to the service
with the real models, sharing one runtime: the phone's microphone plays a spoken question, the bot
answers, and what the phone heard is the bot's voice saying its answer; an emergency said over SIP
is handed to a second, auto-answering baresip standing in for the agent's phone, by REFER and by
bridging, and the console shows the handoff as that agent's."""

from __future__ import annotations

import re
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from baresip import Phone
from live_runtime import live_runtime

from api.server_thread import running_server
from asr.batch import BatchTranscriber
from core.codec import float_to_pcm16_bytes, pcm16_bytes_to_float, resample
from core.settings import SipTransferRoute
from pipeline.runtime import Runtime
from tts.interface import WEB_PCM16_16K

pytestmark = pytest.mark.slow

QUESTION = "Hello, how can I pay my electricity bill?"
LEAD_S = 7.0
"""Silence before the caller speaks: the greeting plays first, as most callers let it."""
TURN_S = 90
"""How long the bot may take to answer: recognition and the answer share two slow CPU cores."""
SIP_SETTINGS: dict[str, Any] = {
    "sip_enabled": True,
    "sip_listen": "127.0.0.1",
    "sip_port": 0,
    "sip_rtp_port_min": 0,
    "sip_rtp_port_max": 0,
    "greeting_language": "en",  # the whole call in English: Whisper then hears one language
}


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path
) -> Iterator[tuple[Runtime, str, Any]]:
    """One runtime for the module: (runtime, base URL, the SIP endpoint)."""
    import serve

    with live_runtime(tmp_path_factory.mktemp("sip-baresip"), model_cache_dir) as rt:
        rt.settings = rt.settings.model_copy(update=SIP_SETTINGS)
        app = serve.create_app(rt)
        with running_server(app) as url:
            yield rt, url, app.state.sip


def microphone(runtime: Runtime, text: str, path: Path, tail_s: float = 60.0) -> Path:
    """``text`` spoken by the English voice as an 8 kHz WAV, with silence before and after."""
    speech = pcm16_bytes_to_float(bytes(runtime.loaded["tts"].synthesize(text, "en", WEB_PCM16_16K).audio))
    pcm = float_to_pcm16_bytes(resample(speech, 16000, 8000))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * int(8000 * LEAD_S) + pcm + b"\x00\x00" * int(8000 * tail_s))
    return path


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        return pcm16_bytes_to_float(w.readframes(w.getnframes())), w.getframerate()


def wait_for(what: str, check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while (found := check()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s:.0f} s")
        time.sleep(0.3)
    return found


def test_a_question_over_sip_is_heard_answered_and_the_answer_heard(service: Any, tmp_path: Path) -> None:
    runtime, _, sip = service
    port = sip.port
    store = runtime.store
    phone = Phone(tmp_path / "phone", "13812345678", microphone(runtime, QUESTION, tmp_path / "mic.wav"))
    try:
        phone.command("dial", f"sip:12345@127.0.0.1:{port}")
        phone.wait_event("CALL_ESTABLISHED", 20)
        started = time.monotonic()
        call_id = wait_for("SIP call record", lambda: _sip_call(runtime, "13812345678"), 20)

        def answered() -> Any:
            lines = store.transcript(call_id)
            asked = [u for u in lines if u.speaker == "caller" and {"electricity", "bill"} <= words(u.text)]
            if not asked:
                return None
            after = [u for u in lines if u.speaker == "bot" and u.seq > asked[0].seq]
            return after or None

        answer = wait_for("bot answer to the question", answered, TURN_S)
        # the answer plays at real time: give it its length (espeak ~14 characters a second) and a margin
        time.sleep(min(len(" ".join(u.text for u in answer)) / 12 + 3, 40))
        assert time.monotonic() - started < LEAD_S + TURN_S + 60
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED", 10)
    finally:
        phone.stop()

    call = wait_for("the call's end", lambda: _ended(runtime, call_id), 30)
    assert call.channel == "sip" and call.caller_number == "13812345678"
    assert call.end_reason == "caller_hung_up"
    assert call.decisions, "no decision was recorded for the call"
    bot_text = " ".join(u.text for u in store.transcript(call_id) if u.speaker == "bot")

    heard, rate = read_wav(phone.heard())
    assert rate == 8000 and heard.size > 8000 * 5
    rms = float(np.sqrt(np.mean(heard**2)))
    assert rms > 0.01, f"the phone heard near silence (rms {rms:.4f})"
    text = BatchTranscriber(runtime.loaded["asr"]).transcribe(resample(heard, 8000, 16000)).text
    keys = {w for w in words(bot_text) if len(w) >= 5}
    found = keys & words(text)
    assert len(found) >= max(3, len(keys) // 3), f"heard {text!r}; bot said {bot_text!r}"


def _sip_call(runtime: Runtime, number: str) -> str | None:
    from sqlalchemy import select

    from pipeline.db import Call

    with runtime.store.session() as s:
        row = s.scalars(select(Call.id).where(Call.caller_number == number, Call.channel == "sip")).first()
        return row


def _ended(runtime: Runtime, call_id: str) -> Any:
    from sqlalchemy.orm import selectinload

    from pipeline.db import Call

    with runtime.store.session() as s:
        call = s.get(Call, call_id, options=[selectinload(Call.decisions)])
        return call if call is not None and call.status != "active" else None


def test_the_bench_sip_caller_hears_the_bots_answer(service: Any) -> None:
    """eval/sip_caller.py (triage bench e2e --transport sip) places a call and hears an answer."""
    import asyncio

    from eval.sip_caller import voice_to_voice_sip

    runtime, _, sip = service
    port = sip.port
    question = bytes(
        runtime.loaded["tts"].synthesize("How can I pay my water bill?", "en", WEB_PCM16_16K).audio
    )
    waited = asyncio.run(voice_to_voice_sip("127.0.0.1", port, question, number="13000000001"))
    assert 0 < waited < 60
    call_id = wait_for("the bench call", lambda: _sip_call(runtime, "13000000001"), 5)
    said = [u.text for u in runtime.store.transcript(call_id) if u.speaker == "caller"]
    assert any("water" in words(t) for t in said), said


# --- transfer to a person's phone ----------------------------------------------------------------
EMERGENCY = "Help! There is a fire in my kitchen and the smoke is everywhere."
AGENT_SAYS = "This is the fire emergency desk. Leave the building now, help is coming."


@pytest.mark.parametrize("mode", ["refer", "bridge"])
def test_an_emergency_over_sip_goes_to_the_agents_phone(service: Any, tmp_path: Path, mode: str) -> None:
    runtime, url, sip = service
    store = runtime.store
    agent, token = store.create_agent(f"Fire desk ({mode})", topics=[], languages=["en", "zh"])
    number = "1390000" + ("1111" if mode == "refer" else "2222")
    agent_mic = microphone(runtime, AGENT_SAYS, tmp_path / "agent-mic.wav", tail_s=30)
    agent_phone = Phone(tmp_path / "agent", f"fire{mode}", agent_mic, auto_answer=True)
    sip.config.transfers[:] = [
        SipTransferRoute(destination=agent_phone.address, mode=mode, urgency="emergency", agent_id=agent.id)
    ]
    caller = Phone(tmp_path / "caller", number, microphone(runtime, EMERGENCY, tmp_path / "caller-mic.wav"))
    try:
        caller.command("dial", f"sip:12345@127.0.0.1:{sip.port}")
        caller.wait_event("CALL_ESTABLISHED", 20)
        answered = agent_phone.wait_event("CALL_ESTABLISHED", 120)
        call_id = wait_for("the call", lambda: _call_id(runtime, number), 10)
        handoff = wait_for("the handoff", lambda: _handoff(runtime, call_id), 10)
        assert handoff.urgency == "emergency"
        if mode == "refer":  # the caller's phone called the agent itself: the service left the call
            assert answered["peeruri"].startswith(f"sip:{number}@"), answered
        else:  # the service called the agent and bridges the two
            assert answered["peeruri"].startswith("sip:triage@"), answered
            said = wait_for(
                "the agent's words in the transcript",
                lambda: next(
                    (
                        u
                        for u in store.transcript(call_id)
                        if u.speaker == "agent"
                        and len(words(u.text) & {"fire", "emergency", "building", "help"}) >= 2
                    ),
                    None,
                ),
                90,
            )
            assert said
            agent_phone.command("hangup")
            caller.wait_event("CALL_CLOSED", 40)  # the bot says goodbye and hangs up

        queue = httpx.get(url + "/v1/agents/queue", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        accepted = {h["id"]: h for h in queue.json()["accepted"]}
        assert handoff.id in accepted, queue.json()
        assert accepted[handoff.id]["agent_id"] == agent.id
    finally:
        caller.stop()
        agent_phone.stop()
        sip.config.transfers[:] = []
    call = wait_for("the call's end", lambda: _ended(runtime, call_id), 40)
    expected = "transferred" if mode == "refer" else "agent_hung_up"
    assert call.end_reason == expected and call.channel == "sip"
    if mode == "bridge":
        assert call.agent_audio_path and Path(call.agent_audio_path).stat().st_size > 8000
    actions = [d.action for d in call.decisions]
    assert "transferred" in actions, actions


def _call_id(runtime: Runtime, number: str) -> str | None:
    from sqlalchemy import select

    from pipeline.db import Call

    with runtime.store.session() as s:
        return s.scalars(select(Call.id).where(Call.caller_number == number)).first()


def _handoff(runtime: Runtime, call_id: str) -> Any:
    from sqlalchemy import select

    from pipeline.db import Handoff

    with runtime.store.session() as s:
        return s.scalars(select(Handoff).where(Handoff.call_id == call_id)).first()


def test_routes_pick_by_urgency_then_skill() -> None:
    from transport.sip.transfer import pick_route

    emergency = SipTransferRoute(destination="sip:119@pbx", urgency="emergency", mode="bridge")
    water = SipTransferRoute(destination="sip:8100@pbx", skill="water", mode="refer")
    anyone = SipTransferRoute(destination="sip:8000@pbx")
    routes = [emergency, water, anyone]
    assert pick_route(routes, "emergency", "water") is emergency
    assert pick_route(routes, "urgent", "water") is water
    assert pick_route(routes, "routine", "power") is anyone
    assert pick_route([emergency], "routine", None) is None
