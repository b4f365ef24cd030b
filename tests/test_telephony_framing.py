"""Media-stream (Twilio format) and AudioSocket framing: the messages as the providers publish them
parse to what they say; malformed input raises the protocol's own error and nothing else."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import struct
import uuid

import pytest

from transport import audiosocket as au
from transport import media_stream as ms

# Shaped as in Twilio's "Media Streams - WebSocket Messages" page.
START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"caller": "+8613800001111", "language": "zh"},
    },
    "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
}


def test_provider_messages_parse() -> None:
    assert ms.parse('{"event": "connected", "protocol": "Call", "version": "1.0.0"}') == ms.Connected(
        "Call", "1.0.0"
    )
    start = ms.parse(json.dumps(START))
    assert isinstance(start, ms.Start)
    assert start.stream_sid.startswith("MZ") and start.call_sid.startswith("CA")
    assert (start.caller_number, start.language) == ("+8613800001111", "zh")
    media = {
        "event": "media",
        "sequenceNumber": "3",
        "media": {
            "track": "inbound",
            "chunk": "1",
            "timestamp": "5",
            "payload": base64.b64encode(b"\xff" * 160).decode(),
        },
        "streamSid": "MZ1",
    }
    assert ms.parse(json.dumps(media)) == ms.Media(b"\xff" * 160, "inbound", 1, 5)
    dtmf = {
        "event": "dtmf",
        "streamSid": "MZ1",
        "sequenceNumber": "5",
        "dtmf": {"track": "inbound_track", "digit": "1"},
    }
    assert ms.parse(json.dumps(dtmf)) == ms.Dtmf("1")
    assert ms.parse('{"event": "mark", "streamSid": "MZ1", "mark": {"name": "bot-3"}}') == ms.Mark("bot-3")
    stop = {
        "event": "stop",
        "sequenceNumber": "5",
        "stop": {"accountSid": "AC1", "callSid": "CA1"},
        "streamSid": "MZ1",
    }
    assert isinstance(ms.parse(json.dumps(stop)), ms.Stop)


def test_the_caller_number_travels_in_custom_parameters_under_common_names() -> None:
    for name in ("caller", "From", "caller_number"):
        start = dict(START, start=dict(START["start"], customParameters={name: "+15550100"}))  # type: ignore[arg-type]
        assert ms.parse(json.dumps(start)).caller_number == "+15550100"  # type: ignore[union-attr]
    start = dict(START, start=dict(START["start"], customParameters={}))  # type: ignore[arg-type]
    assert ms.parse(json.dumps(start)).caller_number is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"event": "hello"}', "unknown event"),
        ('{"event": "media"}', "'media' object"),
        ('{"event": "media", "media": {"payload": "@@@"}}', "base64"),
        ('{"event": "media", "media": {"payload": 5}}', "base64 string"),
        ('{"event": "dtmf", "dtmf": {"digit": "x"}}', "dtmf.digit"),
        ('{"event": "start", "start": {}}', "streamSid"),
        (
            '{"event": "start", "streamSid": "MZ1", "start": {"mediaFormat": {"encoding": "audio/x-l16", '
            '"sampleRate": 16000}}}',
            "only mu-law",
        ),
        ('{"event": "mark", "mark": {}}', "mark.name"),
    ],
)
def test_malformed_messages_say_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ms.MediaStreamError, match=why):
        ms.parse(text)


def test_random_input_raises_only_the_protocol_error() -> None:
    rng = random.Random(12)
    valid = [
        json.dumps(START),
        '{"event": "mark", "mark": {"name": "a"}}',
        '{"event": "dtmf", "dtmf": {"digit": "5"}}',
    ]
    for _ in range(3000):
        text = rng.choice(valid)
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            chars[rng.randrange(len(chars))] = chr(rng.randrange(32, 127))
        with contextlib.suppress(ms.MediaStreamError):
            ms.parse("".join(chars))


def test_messages_to_the_provider() -> None:
    assert ms.clear_message("MZ1") == {"event": "clear", "streamSid": "MZ1"}
    assert ms.mark_message("MZ1", "bot-1") == {"event": "mark", "streamSid": "MZ1", "mark": {"name": "bot-1"}}
    media = ms.media_message("MZ1", b"\x01\x02")
    assert media["event"] == "media" and base64.b64decode(media["media"]["payload"]) == b"\x01\x02"
    assert [len(f) for f in ms.frames(b"\xff" * 400)] == [160, 160, 80]
    twiml = ms.connect_stream_twiml("wss://h/v1/telephony/twilio", {"caller": '+1"<5>', "language": ""})
    assert '<Stream url="wss://h/v1/telephony/twilio">' in twiml
    assert '<Parameter name="caller" value="+1&quot;&lt;5&gt;"/>' in twiml
    assert "language" not in twiml


def test_audiosocket_messages_as_asterisk_frames_them() -> None:
    call = uuid.uuid4()
    stream = (
        struct.pack(">BH", 0x01, 16)
        + call.bytes
        + struct.pack(">BH", 0x10, 320)
        + b"\x01\x00" * 160
        + struct.pack(">BH", 0x03, 1)
        + b"#"
        + struct.pack(">BH", 0x00, 0)
    )
    reader = au.Reader()
    got = []
    for i in range(0, len(stream), 7):  # TCP may cut anywhere
        got += reader.feed(stream[i : i + 7])
    assert [m.kind for m in got] == [0x01, 0x10, 0x03, 0x00]
    assert got[0].call_uuid == str(call) and got[1].payload == b"\x01\x00" * 160 and got[2].digit == "#"
    assert au.uuid_message(str(call)) == struct.pack(">BH", 0x01, 16) + call.bytes
    assert [len(f) for f in au.audio_frames(b"\x00" * 500)] == [323, 323]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"GET / HTTP/1.1\r\n", "unknown message kind"),
        (struct.pack(">BH", 0x10, 3) + b"abc", "odd length"),
    ],
)
def test_audiosocket_rejects_what_is_not_audiosocket(data: bytes, why: str) -> None:
    with pytest.raises(au.AudioSocketError, match=why):
        au.Reader().feed(data)


def test_audiosocket_bad_uuid_and_dtmf_payloads() -> None:
    with pytest.raises(au.AudioSocketError, match="16 bytes"):
        _ = au.Message(0x01, b"short").call_uuid
    with pytest.raises(au.AudioSocketError, match="one key"):
        _ = au.Message(0x03, b"x").digit


def test_telnyx_start_is_read_in_its_own_names_and_answered_in_them() -> None:
    # Shaped as in Telnyx's "Stream call media over WebSocket" AsyncAPI page.
    telnyx = {
        "event": "start",
        "sequence_number": "1",
        "stream_id": "32DE0DEA-53CB-4B21-89A4-9E1819C043BC",
        "start": {
            "user_id": "3E6F995F-85F7-4705-9741-53B116D28237",
            "call_control_id": "v2:T02llQxIyaRkhfRKxgAP8nY511EhFLizdvdUKJiSw8d6A9BborherQ",
            "from": "+13122010094",
            "to": "+13122123456",
            "custom_parameters": {"language": "en"},
            "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1},
        },
    }
    start = ms.parse(json.dumps(telnyx))
    assert isinstance(start, ms.Start) and start.dialect == "telnyx"
    assert (start.stream_sid, start.caller_number, start.language) == (
        telnyx["stream_id"],
        "+13122010094",
        "en",
    )
    assert ms.clear_message(start.stream_sid, start.sid_key) == {
        "event": "clear",
        "stream_id": telnyx["stream_id"],
    }
    pcma = dict(telnyx, start=dict(telnyx["start"], media_format={"encoding": "PCMA", "sample_rate": 8000}))  # type: ignore[arg-type]
    with pytest.raises(ms.MediaStreamError, match="only mu-law"):
        ms.parse(json.dumps(pcma))
