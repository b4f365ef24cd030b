"""Both G.711 laws end to end against baresip's own codecs, with scripted call stages: the bot's
voice is a 440 Hz tone, the phone's microphone a 1 kHz tone; the phone must hear 440 Hz and the
call's caller recording must hold 1 kHz, over PCMU and over PCMA (A-law encoded and decoded here)."""

from __future__ import annotations

import asyncio
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from baresip import Phone
from session_fakes import fake_services
from sqlalchemy import select

from pipeline.bus import EventBus
from pipeline.db import Call
from pipeline.store import Store
from transport.sip.server import SipConfig, SipServer


class ToneVoice:
    """The bot speaks a 440 Hz tone (1.5 s per sentence) in the format the call asked for."""

    sample_rate = 8000

    def __init__(self, output_format: str) -> None:
        self.encoding = "mulaw" if output_format.startswith("mulaw") else "pcm16"

    def speak(self, text: str, language: str) -> Iterator[bytes]:
        from core.codec import encode_frame

        t = np.arange(int(1.5 * 8000)) / 8000
        yield encode_frame((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), self.encoding)  # type: ignore[arg-type]

    def prompt_text(self, key: str, language: str, **values: Any) -> str:
        return key


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


def read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
        return data, w.getframerate()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SipServer, Store]]:
    tmp = tmp_path_factory.mktemp("sip-media")
    store = Store(f"sqlite:///{tmp / 'calls.db'}")
    services = fake_services(
        store, EventBus(), tmp / "recordings", voice_for=lambda fmt: ToneVoice(fmt), silence_timeout_s=60
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = SipServer(
        SipConfig(listen="127.0.0.1", port=0, rtp_port_min=0, rtp_port_max=0), lambda: services
    )
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    yield server, store
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_both_laws_carry_audio_both_ways(endpoint: Any, tmp_path: Path, codec: str) -> None:
    server, store = endpoint
    mic = tmp_path / "mic.wav"
    t = np.arange(8000 * 6) / 8000
    with wave.open(str(mic), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((0.3 * np.sin(2 * np.pi * 1000 * t) * 32767).astype("<i2").tobytes())
    number = "1350000" + ("0001" if codec == "PCMU" else "0008")
    phone = Phone(tmp_path / "phone", number, mic, codecs=codec)
    try:
        phone.command("dial", f"sip:12345@127.0.0.1:{server.port}")
        phone.wait_event("CALL_ESTABLISHED", 20)
        time.sleep(3)
        phone.command("hangup")
        phone.wait_event("CALL_CLOSED", 10)
    finally:
        phone.stop()
    heard, rate = read(phone.heard())
    loud = heard[np.abs(heard) > 0.05]
    assert loud.size > 8000 * 0.5, "the phone heard almost nothing of the bot"
    assert abs(dominant_hz(heard, rate) - 440) < 15
    for _ in range(200):
        with store.session() as s:
            call = s.scalars(select(Call).where(Call.caller_number == number)).first()
        if call is not None and call.status != "active":
            break
        time.sleep(0.1)
    assert call is not None and call.status == "ended" and call.caller_audio_path, call and call.status
    said, said_rate = read(Path(call.caller_audio_path))
    assert said_rate == 8000 and said.size > 8000
    assert abs(dominant_hz(said, said_rate) - 1000) < 15
