"""Transfer to a person over the phone system: an emergency said over SIP by a baresip caller is
handed to a second, auto-answering baresip standing in for the agent's phone, by REFER and by
bridging; the console shows the handoff as that agent's. Real models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from baresip import Phone
from live_runtime import live_runtime
from test_sip_baresip import SIP_SETTINGS, microphone, wait_for, words

from api.server_thread import running_server
from core.settings import SipTransferRoute
from pipeline.runtime import Runtime

pytestmark = pytest.mark.slow

EMERGENCY = "Help! There is a fire in my kitchen and the smoke is everywhere."
AGENT_SAYS = "This is the fire emergency desk. Leave the building now, help is coming."


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path
) -> Iterator[tuple[Runtime, str, Any]]:
    import serve

    with live_runtime(tmp_path_factory.mktemp("sip-transfer"), model_cache_dir) as rt:
        rt.settings = rt.settings.model_copy(update=SIP_SETTINGS)
        app = serve.create_app(rt)
        with running_server(app) as url:
            yield rt, url, app.state.sip


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


def _ended(runtime: Runtime, call_id: str) -> Any:
    from sqlalchemy.orm import selectinload

    from pipeline.db import Call

    with runtime.store.session() as s:
        call = s.get(Call, call_id, options=[selectinload(Call.decisions)])
        return call if call is not None and call.status != "active" else None


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
