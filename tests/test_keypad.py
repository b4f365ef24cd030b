"""The caller's keypad over a call session with scripted fake stages (tests/session_fakes.py):
0 asks for a person, * repeats, a number asked for may be keyed ending with #, a rating is one
key, stray digits get a short line saying what the keys do, bad keys are refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from session_fakes import FakeCall
from test_waiting_session import waiting_call

from pipeline.callbacks import Callbacks
from pipeline.keypad import number_in
from pipeline.policy import Decision


async def opened(tmp_path: Path, **kw: object) -> FakeCall:
    call = FakeCall(tmp_path, silence_timeout_s=60, **kw)  # type: ignore[arg-type]
    call.session.keypad.timeout_s = 0.3
    await call.session.open()
    return call


async def keys(call: FakeCall, digits: str) -> None:
    for d in digits:
        await call.session.dtmf(d)


def test_zero_asks_for_a_person(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await opened(tmp_path)
        await call.session.dtmf("0")
        await call.wait_for(lambda m: m["type"] == "handoff")
        await call.session.close("caller_hung_up")
        return call

    call = asyncio.run(run())
    handoff = call.store.get_handoff(call.session.handoff_id or "")
    assert handoff.reason == "caller pressed 0" and handoff.urgency == "routine"
    decisions = [(d.action, d.reason) for d in call.store.get_call(call.session.call_id).decisions]
    assert ("handoff", "caller pressed 0") in decisions
    assert any(t.startswith("CONNECTING_AGENT") or t == "NO_AGENT_CALLBACK" for t in call.said())


def test_star_repeats_what_the_bot_said_last_and_cuts_it_off(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await opened(tmp_path)
        await call.session.text("how do I pay my bill", "en")
        await call.wait_for(lambda m: m["type"] == "bot_text" and "pay online" in m["text"])
        await call.session.dtmf("*")
        await call.wait_for(lambda m: m["type"] == "decision" and m["action"] == "repeat")
        await asyncio.sleep(0.2)
        await call.session.close("caller_hung_up")
        return call

    call = asyncio.run(run())
    answer = "You can pay online. DID_THAT_HELP"
    assert call.said() == ["GREETING", answer, answer]
    decisions = [(d.action, d.reason) for d in call.store.get_call(call.session.call_id).decisions]
    assert ("repeat", "caller pressed *") in decisions
    assert call.session.handoff_id is None


def test_a_call_back_number_can_be_keyed_ending_with_hash(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await waiting_call(tmp_path)  # no caller id
        await call.session.text("please call me back", "en")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"] == "CALLBACK_ASK_NUMBER")
        await keys(call, "010")  # a 0 inside a number asked for is a digit, not "a person"
        await keys(call, "87654321#")
        await asyncio.wait_for(call.session.hangup.wait(), 5)
        await call.session.close(call.session.end_reason)
        return call

    call = asyncio.run(run())
    assert call.said()[-1] == "CALLBACK_CONFIRMED number=01087654321"
    [task] = Callbacks(call.store).tasks()
    assert task.caller_number == "01087654321" and task.trigger == "caller_asked"
    utterances = call.store.get_call(call.session.call_id).utterances
    caller_lines = [u.text for u in utterances if u.speaker == "caller"]
    assert caller_lines[-1] == "01087654321"  # the keyed answer is in the transcript as the turn


def test_a_number_asked_for_may_be_said_and_one_keyed_without_hash_is_taken(tmp_path: Path) -> None:
    async def run(said: bool) -> FakeCall:
        call = await waiting_call(tmp_path / str(said))
        call.session.keypad.timeout_s = 0.3
        await call.session.text("call me back please", "en")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"] == "CALLBACK_ASK_NUMBER")
        if said:
            await call.session.text("it is one three eight double zero one two three four five six", "en")
        else:
            await keys(call, "13800123456")  # no '#': taken when the keys stop
        await asyncio.wait_for(call.session.hangup.wait(), 5)
        await call.session.close(call.session.end_reason)
        return call

    for said in (True, False):
        (tmp_path / str(said)).mkdir()
        call = asyncio.run(run(said))
        assert call.said()[-1] == "CALLBACK_CONFIRMED number=13800123456", said


def test_a_caller_with_caller_id_is_not_asked_for_a_number(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await waiting_call(tmp_path, caller_number="13800001111")
        await call.session.text("please call me back", "en")
        await asyncio.wait_for(call.session.hangup.wait(), 5)
        await call.session.close(call.session.end_reason)
        return call

    assert asyncio.run(run()).said()[-1] == "CALLBACK_CONFIRMED number=13800001111"


def test_one_key_is_the_rating(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await opened(tmp_path)
        await call.session.conversation.act(Decision("end", "caller said goodbye"))  # "please rate"
        assert call.said()[-1] == "RATE_CALL"
        await call.session.dtmf("4")
        await asyncio.wait_for(call.session.hangup.wait(), 5)
        await call.session.close(call.session.end_reason)
        return call

    call = asyncio.run(run())
    assert call.store.get_call(call.session.call_id).rating == 4
    assert call.said()[-1] == "GOODBYE"


def test_stray_digits_get_the_keypad_help_and_digits_with_hash_are_a_turn(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await opened(tmp_path)
        await keys(call, "12")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"] == "KEYPAD_HELP", 3)
        await keys(call, "4455#")
        await call.wait_for(lambda m: m["type"] == "final" and m["text"] == "4455", 3)
        await keys(call, "AB#")  # not on a phone keypad, and '#' with nothing keyed: nothing happens
        await asyncio.sleep(0.5)
        await call.session.close("caller_hung_up")
        return call

    call = asyncio.run(run())
    assert call.said().count("KEYPAD_HELP") == 1
    finals = [m["text"] for m in call.sent if m["type"] == "final"]
    assert finals == ["4455"]


def test_zero_while_waiting_says_where_the_caller_stands(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await waiting_call(tmp_path)
        before = len(call.store.waiting())
        await call.session.dtmf("0")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"].startswith("WAITING_UPDATE"), 3)
        assert len(call.store.waiting()) == before  # no second handoff
        await call.session.close("caller_hung_up")
        return call

    asyncio.run(run())


def test_bad_keys_are_refused_and_channels_without_a_keypad_are_not_told_about_keys(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await opened(tmp_path, channel="web")
        for bad in ("", "11", "x", "E"):
            with pytest.raises(ValueError, match="keypad key"):
                await call.session.dtmf(bad)
        await call.session.close("caller_hung_up")
        return call

    assert asyncio.run(run()).said() == ["GREETING_NO_KEYPAD"]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("13800001111", "13800001111"),
        ("my number is 138 0000 1111", "13800001111"),
        ("幺三八零零零零幺幺幺幺", "13800001111"),
        ("01087654321", "01087654321"),
        ("55123", "55123"),
        ("1234", None),
        ("I don't have a phone", None),
    ],
)
def test_number_in(text: str, number: str | None) -> None:
    assert number_in(text) == number
