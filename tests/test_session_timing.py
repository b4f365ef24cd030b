"""Call timing with scripted fake stages: the silence timer never fires while the caller's turn is
still being recognised or understood, and does fire after real silence."""

from __future__ import annotations

import asyncio
from pathlib import Path

from session_fakes import FakeCall

from pipeline.turns import Understanding


def test_no_are_you_still_there_while_a_slow_decoder_works(tmp_path: Path) -> None:
    async def run() -> list[str]:
        call = FakeCall(tmp_path, decode_s=2.5, silence_timeout_s=1.0)
        await call.session.open()
        await asyncio.sleep(0.3)
        await call.session.audio(b"S|")
        await call.session.audio(b"E:how do i pay my bill|")
        await call.wait_for(lambda m: m["type"] == "decision", timeout=10)
        said = call.said()
        await call.session.close("caller_hangup")
        return said

    said = asyncio.run(run())
    assert "STILL_THERE" not in said, said


def test_a_slow_turn_is_not_silence_either(tmp_path: Path) -> None:
    async def run() -> list[str]:
        call = FakeCall(tmp_path, silence_timeout_s=1.0)
        original = call.services.understander.understand

        def slow(text: str, language: str) -> Understanding:
            import time

            time.sleep(2.0)
            return original(text, language)

        call.services.understander.understand = slow  # type: ignore[method-assign]
        await call.session.open()
        await call.session.text("how do i pay my bill", "en")
        await call.wait_for(lambda m: m["type"] == "decision", timeout=10)
        said = call.said()
        await call.session.close("caller_hangup")
        return said

    assert "STILL_THERE" not in asyncio.run(run())


def test_real_silence_gets_one_prompt(tmp_path: Path) -> None:
    async def run() -> list[str]:
        call = FakeCall(tmp_path, silence_timeout_s=1.0)
        await call.session.open()
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"] == "STILL_THERE", timeout=6)
        said = call.said()
        await call.session.close("caller_hangup")
        return said

    said = asyncio.run(run())
    assert said[0] == "GREETING" and said.count("STILL_THERE") == 1
