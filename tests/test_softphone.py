"""The agent's softphone and the supervisor's listen-in (api/softphone.py) on a real uvicorn server,
with scripted fake stages (no models, tests/session_fakes.py): the caller is eval/call_client.py over
the caller WebSocket, the agent's browser a real aiortc peer (ICE, DTLS, SRTP, Opus) in this process."""

from __future__ import annotations

import asyncio
import json
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from session_fakes import fake_services

from api.server_thread import running_server
from core.settings import Settings
from eval.browser_mic import BROWSER_RATE, BrowserMicrophone
from eval.call_client import CallClient
from pipeline.live_calls import LiveCalls
from pipeline.runtime import Runtime
from transport.webrtc import extra_host_addresses

RATE = 16000
MIC_RATE = BROWSER_RATE


def tone(hz: float, seconds: float, rate: int = RATE, amplitude: float = 0.4) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def band_share(x: np.ndarray, rate: int, hz: float) -> float:
    """Share of the signal's energy within 30 Hz of ``hz`` (a tone that got through: most of it)."""
    if x.size < rate // 10:
        return 0.0
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / rate)
    return float(spectrum[np.abs(freqs - hz) < 30].sum() / max(spectrum.sum(), 1e-12))


def loud(x: np.ndarray, threshold: float = 0.05) -> float:
    return float(np.sqrt((x**2).mean())) if x.size and float(np.sqrt((x**2).mean())) > threshold else 0.0


class Browser:
    """The console's side of the softphone: an offer with a microphone and an "events" channel, and
    everything the speaker plays kept with its arrival time."""

    def __init__(self, send_mic: bool = True) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = BrowserMicrophone()
        if send_mic:
            self.pc.addTrack(self.mic)
        else:  # a supervisor listening in: receive only
            self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.createDataChannel("events")
        self.heard: list[tuple[float, np.ndarray, int]] = []
        self._reader: asyncio.Future[None] | None = None
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        async def read() -> None:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                assert isinstance(frame, AudioFrame)
                x = frame.to_ndarray().astype(np.float32) / 32768.0
                mono = x.reshape(-1, len(frame.layout.channels)).mean(axis=1)
                self.heard.append((time.monotonic(), mono, frame.sample_rate))

        self._reader = asyncio.ensure_future(read())

    def heard_since(self, t: float) -> tuple[np.ndarray, int]:
        parts = [(x, r) for at, x, r in self.heard if at >= t]
        rate = parts[0][1] if parts else MIC_RATE
        return (np.concatenate([x for x, _ in parts]) if parts else np.zeros(0, np.float32)), rate

    async def offer(self) -> dict[str, str]:
        with extra_host_addresses("127.0.0.1"):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"sdp": self.pc.localDescription.sdp, "type": "offer"}

    async def answer(self, body: dict[str, str]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))

    async def connected(self, timeout_s: float = 10) -> None:
        await until(lambda: self.pc.connectionState == "connected", "the softphone to connect", timeout_s)

    async def close(self) -> None:
        await self.pc.close()


async def until(check: Callable[[], bool], what: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Service:
    runtime: Runtime
    url: str
    tokens: dict[str, str]
    ids: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    import serve

    data = tmp_path_factory.mktemp("softphone")
    runtime = Runtime.start(Settings(data_dir=data, emergency_accept_timeout_s=3600), load_models=False)
    runtime.session_services = fake_services(
        runtime.store,
        runtime.bus,
        data / "recordings",
        silence_timeout_s=3600,
        live_calls=LiveCalls(),
    )
    tokens, ids = {}, {}
    for name, role, topics in (
        ("ana", "agent", ["water"]),
        ("bo", "agent", ["water"]),
        ("cy", "agent", ["power"]),
        ("sam", "supervisor", []),
    ):
        agent, token = runtime.store.create_agent(name, role, topics=topics, languages=["en"])
        runtime.store.set_agent_status(agent.id, "available")
        tokens[name], ids[name] = token, agent.id
    with running_server(serve.create_app(runtime)) as url:
        yield Service(runtime, url, tokens, ids)


def caller(service: Service) -> tuple[CallClient, str]:
    """A caller who asks for a person: (the caller, their handoff id)."""
    call = CallClient(service.url.replace("http", "ws") + "/v1/calls/stream")
    call.ws.send(json.dumps({"type": "text", "text": "I want to talk to a person", "language": "en"}))
    handoff = call.wait_for(lambda e: e["type"] == "handoff", timeout=10)
    return call, handoff["handoff_id"]


def bot_said(call: CallClient, text: str, after: int = 0, timeout: float = 10) -> dict[str, Any]:
    return call.wait_for(
        lambda e: e["type"] == "bot_text" and e["text"] == text, timeout=timeout, after=after
    )


def caller_heard(call: CallClient, since: float) -> np.ndarray:
    return np.frombuffer(call.audio_after(since), "<i2").astype(np.float32) / 32768.0


async def connected_agent(
    http: httpx.AsyncClient, service: Service, handoff_id: str, who: str = "ana"
) -> Browser:
    r = await http.post(f"/v1/agents/handoffs/{handoff_id}/accept", headers=service.h(who))
    assert r.status_code == 200, r.text
    browser = Browser()
    r = await http.post(
        f"/v1/agents/handoffs/{handoff_id}/rtc", headers=service.h(who), json=await browser.offer()
    )
    assert r.status_code == 200, r.text
    await browser.answer(r.json())
    await browser.connected()
    return browser


def talk(service: Service, body: Callable[[httpx.AsyncClient], Any]) -> Any:
    async def run() -> Any:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            return await body(http)

    return asyncio.run(run())


def test_the_agent_and_the_caller_hear_each_other_and_the_agent_is_recorded(service: Service) -> None:
    call, handoff_id = caller(service)

    async def body(http: httpx.AsyncClient) -> tuple[np.ndarray, tuple[np.ndarray, int], dict[str, Any]]:
        browser = await connected_agent(http, service, handoff_id)
        bot_said(call, "AGENT_CONNECTED")
        await asyncio.sleep(0.5)
        t0 = time.monotonic()
        browser.mic.say(tone(1000, 1.5, MIC_RATE))  # the agent, while the caller speaks
        await asyncio.to_thread(call.send_audio, pcm16(tone(440, 1.5)), True)  # real time
        await asyncio.sleep(1.0)
        agent_heard = browser.heard_since(t0)
        to_caller = caller_heard(call, t0)
        await asyncio.to_thread(call.hangup)  # the caller hangs up first: the handoff stays Ana's
        await until(lambda: browser.pc.connectionState == "closed", "the call's end to close the softphone")
        detail = (await http.get(f"/v1/agents/handoffs/{handoff_id}", headers=service.h("ana"))).json()
        return to_caller, agent_heard, detail

    to_caller, (agent_heard, rate), detail = talk(service, body)
    assert band_share(agent_heard, rate, 440) > 0.5, "the caller's tone did not reach the agent's speaker"
    assert band_share(agent_heard, rate, 1000) < 0.05
    assert band_share(to_caller, RATE, 1000) > 0.5, "the agent's microphone did not reach the caller"
    assert np.sum(np.abs(to_caller) > 0.1) / RATE > 1.0  # about 1.5 s of the agent's tone
    record = service.runtime.store.get_call(call.call_id)
    assert record.agent_audio_path and Path(record.agent_audio_path).name == "agent.wav"
    with wave.open(record.agent_audio_path) as w:
        agent_wav = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    assert band_share(agent_wav, RATE, 1000) > 0.5
    assert detail["call"]["recordings"]["agent"].endswith("/recordings/agent")
    got = httpx.get(service.url + detail["call"]["recordings"]["agent"], headers=service.h("ana"))
    assert got.status_code == 200 and got.headers["content-type"] == "audio/wav"


def test_mute_and_hold_then_hang_up_ends_the_call_and_keeps_the_handoff_accepted(service: Service) -> None:
    call, handoff_id = caller(service)
    url = f"/v1/agents/handoffs/{handoff_id}"

    async def body(http: httpx.AsyncClient) -> dict[str, Any]:
        browser = await connected_agent(http, service, handoff_id)
        bot_said(call, "AGENT_CONNECTED")
        await asyncio.sleep(0.5)
        r = await http.post(url + "/mute", headers=service.h("ana"), json={"muted": True})
        assert r.json()["state"] == "muted"
        t0 = time.monotonic()
        browser.mic.say(tone(1000, 1.0, MIC_RATE))
        await asyncio.sleep(1.5)
        out["muted"] = caller_heard(call, t0)
        r = await http.post(url + "/mute", headers=service.h("ana"), json={"muted": False})
        assert r.json()["state"] == "connected"
        mark = call.mark()
        r = await http.post(url + "/hold", headers=service.h("ana"), json={"on": True})
        assert r.json() | {"state": "on_hold", "on_hold": True} == r.json()
        bot_said(call, "ON_HOLD", after=mark)
        await asyncio.sleep(0.3)
        t1 = time.monotonic()
        browser.mic.say(tone(1000, 1.0, MIC_RATE))
        await asyncio.to_thread(call.send_audio, pcm16(tone(440, 1.0)), True)
        await asyncio.sleep(0.5)
        out["held_caller"] = caller_heard(call, t1)
        out["held_agent"] = browser.heard_since(t1)
        r = await http.post(url + "/hold", headers=service.h("ana"), json={"on": False})
        assert r.json()["state"] == "connected"
        mark = call.mark()
        r = await http.post(url + "/hangup", headers=service.h("ana"))
        assert r.status_code == 200 and r.json()["state"] == "ended"
        out["goodbye"] = bot_said(call, "GOODBYE", after=mark)
        out["ended"] = call.wait_for(lambda e: e["type"] == "ended", after=mark)
        r = await http.post(url + "/hangup", headers=service.h("ana"))
        out["after"] = r.status_code
        await browser.close()
        return out

    out: dict[str, Any] = {}
    talk(service, body)
    assert band_share(out["muted"], RATE, 1000) < 0.05 and loud(out["muted"]) == 0.0
    assert band_share(out["held_caller"], RATE, 1000) < 0.05
    held_agent, rate = out["held_agent"]
    assert band_share(held_agent, rate, 440) < 0.05
    assert out["ended"]["reason"] == "agent_hung_up"
    assert out["after"] == 404  # the call is over
    handoff = service.runtime.store.get_handoff(handoff_id)
    assert handoff.status == "accepted" and handoff.agent_id == service.ids["ana"]


def test_warm_transfer_puts_the_caller_in_the_chosen_agents_queue_with_the_note(service: Service) -> None:
    call, handoff_id = caller(service)
    url = f"/v1/agents/handoffs/{handoff_id}"
    note = "Caller's water is off since noon at 5 Lake Road; wants a repair time."

    async def body(http: httpx.AsyncClient) -> dict[str, Any]:
        browser = await connected_agent(http, service, handoff_id)
        bot_said(call, "AGENT_CONNECTED")
        mark = call.mark()
        r = await http.post(
            url + "/transfer", headers=service.h("ana"), json={"to_agent_id": service.ids["bo"], "note": note}
        )
        assert r.status_code == 200, r.text
        out["summary"] = r.json()
        out["transferring"] = bot_said(call, "TRANSFERRING", after=mark)
        await until(lambda: browser.pc.connectionState in ("closed", "failed"), "the old peer to close", 5)
        for who in ("bo", "cy", "ana"):
            q = (await http.get("/v1/agents/queue", headers=service.h(who))).json()
            out[who] = {h["id"]: h for h in q["waiting"]}
        out["detail"] = (await http.get(url, headers=service.h("bo"))).json()
        out["ana_accept"] = (await http.post(url + "/accept", headers=service.h("ana"))).status_code
        second = await connected_agent(http, service, handoff_id, who="bo")
        out["connected_again"] = bot_said(call, "AGENT_CONNECTED", after=mark)
        await second.close()
        return out

    out: dict[str, Any] = {}
    talk(service, body)
    call.hangup()
    assert out["summary"]["status"] == "waiting" and out["summary"]["transfer_note"] == note
    assert out["bo"][handoff_id]["transfer_note"] == note  # shown in the queue item before accepting
    assert out["bo"][handoff_id]["transferred_by"] == service.ids["ana"]
    assert handoff_id not in out["cy"] and handoff_id not in out["ana"]  # for Bo only
    assert out["detail"]["transfer_note"] == note
    assert "I want to talk to a person" in [u["text"] for u in out["detail"]["transcript"]]
    assert out["ana_accept"] == 403


def test_transfer_to_a_topic_skill_routes_by_that_topic(service: Service) -> None:
    call, handoff_id = caller(service)

    async def body(http: httpx.AsyncClient) -> dict[str, Any]:
        browser = await connected_agent(http, service, handoff_id)
        r = await http.post(
            f"/v1/agents/handoffs/{handoff_id}/transfer",
            headers=service.h("ana"),
            json={"topic": "power", "note": "meter question"},
        )
        assert r.status_code == 200, r.text
        await browser.close()
        return {
            who: [
                h["id"]
                for h in (await http.get("/v1/agents/queue", headers=service.h(who))).json()["waiting"]
            ]
            for who in ("cy", "bo")
        }

    queues = talk(service, body)
    call.hangup()
    assert handoff_id in queues["cy"] and handoff_id not in queues["bo"]


def test_who_may_connect_and_what_is_no_longer_live(service: Service) -> None:
    call, handoff_id = caller(service)
    url = f"/v1/agents/handoffs/{handoff_id}"

    async def body(http: httpx.AsyncClient) -> dict[str, int]:
        offer = await Browser().offer()
        codes = {
            "before_accept": (await http.post(url + "/rtc", headers=service.h("ana"), json=offer)).status_code
        }
        await http.post(url + "/accept", headers=service.h("ana"))
        codes["other_agent"] = (
            await http.post(url + "/rtc", headers=service.h("bo"), json=offer)
        ).status_code
        codes["unknown"] = (
            await http.post("/v1/agents/handoffs/nope/rtc", headers=service.h("ana"), json=offer)
        ).status_code
        codes["mute_unconnected"] = (
            await http.post(url + "/mute", headers=service.h("ana"), json={"muted": True})
        ).status_code
        codes["agent_listens"] = (
            await http.post(f"/v1/agents/calls/{call.call_id}/listen", headers=service.h("ana"), json=offer)
        ).status_code
        codes["bad_offer"] = (
            await http.post(url + "/rtc", headers=service.h("ana"), json={"sdp": "hello", "type": "offer"})
        ).status_code
        await asyncio.to_thread(call.hangup)
        await until(lambda: service.runtime.session_services.live_calls.get(call.call_id) is None, "call end")  # type: ignore[union-attr]
        r = await http.post(url + "/rtc", headers=service.h("ana"), json=offer)
        codes["not_live"] = r.status_code
        codes["not_live_says"] = int("no longer live" in r.json()["detail"])
        return codes

    codes = talk(service, body)
    assert codes == {
        "before_accept": 409,
        "other_agent": 409,
        "unknown": 404,
        "mute_unconnected": 409,
        "agent_listens": 403,
        "bad_offer": 422,
        "not_live": 404,
        "not_live_says": 1,
    }


def test_a_supervisor_listens_in_to_both_sides(service: Service) -> None:
    call, handoff_id = caller(service)

    async def body(http: httpx.AsyncClient) -> tuple[np.ndarray, int]:
        agent = await connected_agent(http, service, handoff_id)
        listener = Browser(send_mic=False)
        r = await http.post(
            f"/v1/agents/calls/{call.call_id}/listen", headers=service.h("sam"), json=await listener.offer()
        )
        assert r.status_code == 200, r.text
        await listener.answer(r.json())
        await listener.connected()
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        agent.mic.say(tone(1000, 1.5, MIC_RATE))
        await asyncio.to_thread(call.send_audio, pcm16(tone(440, 1.5)), True)
        await asyncio.sleep(0.8)
        heard = listener.heard_since(t0)
        stop = await http.post(f"/v1/agents/calls/{call.call_id}/listen/stop", headers=service.h("sam"))
        assert stop.json() == {"stopped": True}
        await listener.close()
        await agent.close()
        return heard

    heard, rate = talk(service, body)
    call.hangup()
    assert band_share(heard, rate, 440) > 0.1 and band_share(heard, rate, 1000) > 0.1


def test_a_dropped_agent_puts_the_caller_back_at_their_place_and_they_hear_why(service: Service) -> None:
    call, handoff_id = caller(service)

    async def body(http: httpx.AsyncClient) -> dict[str, Any]:
        browser = await connected_agent(http, service, handoff_id)
        bot_said(call, "AGENT_CONNECTED")
        mark = call.mark()
        await browser.close()  # the agent's browser vanishes: no hang-up
        lost = await asyncio.to_thread(bot_said, call, "AGENT_LOST", mark, 40)
        q = (await http.get("/v1/agents/queue", headers=service.h("bo"))).json()
        return {"lost": lost, "waiting": [h["id"] for h in q["waiting"]]}

    out = talk(service, body)
    handoff = service.runtime.store.get_handoff(handoff_id)
    assert handoff.status == "waiting" and handoff.agent_id is None and handoff.accepted_at is None
    assert handoff_id in out["waiting"]  # any water agent may take it again
    assert service.runtime.session_services.live_calls.get(call.call_id) is not None  # type: ignore[union-attr]
    call.hangup()


def test_the_retention_purge_removes_the_agents_channel_too(tmp_path: Path) -> None:
    from datetime import timedelta

    from pipeline.db import utcnow
    from pipeline.retention import purge_recordings

    runtime = Runtime.start(Settings(data_dir=tmp_path), load_models=False)
    call = runtime.store.start_call("13800000000", "en")
    folder = tmp_path / "recordings" / "2020-01-01" / call.id
    folder.mkdir(parents=True)
    agent_wav = folder / "agent.wav"
    with wave.open(str(agent_wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm16(tone(300, 0.2)))
    runtime.store.update_call(call.id, agent_audio_path=str(agent_wav))
    runtime.store.end_call(call.id, "caller_hung_up")
    runtime.store.update_call(call.id, started_at=utcnow() - timedelta(days=400))
    report = purge_recordings(runtime.store, runtime.settings, older_than_days=30)
    assert (report.calls, report.files) == (1, 1)
    assert not agent_wav.exists() and runtime.store.get_call(call.id).agent_audio_path is None
