"""SIP parts without the network: message parsing (and fuzzing), SDP answers, RTP, A-law."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.codec import alaw_decode, alaw_encode
from transport.sip import message as sip
from transport.sip.rtp import DtmfReceiver, JitterBuffer, RtpError, RtpPacket, parse_rtp
from transport.sip.sdp import SdpError, answer, choose, parse_offer

INVITE = (
    "INVITE sip:triage@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKabc;rport\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Ann" <sip:13800138000@pbx.example>;tag=111\r\n'
    "To: <sip:12345@triage>\r\n"
    "Call-ID: c1@pbx\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:13800138000@10.0.0.5:5060>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: {n}\r\n\r\n{body}"
)
SDP = (
    "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
)


def invite(body: str = SDP) -> bytes:
    return INVITE.format(n=len(body.encode()), body=body).encode()


def test_invite_parses_and_the_response_copies_what_it_must() -> None:
    msg = sip.parse(invite())
    assert msg.method == "INVITE" and msg.call_id == "c1@pbx" and msg.cseq == (1, "INVITE")
    assert msg.branch == "z9hG4bKabc" and msg.from_tag == "111" and msg.to_tag == ""
    assert sip.uri_user(sip.header_uri(msg.get("from"))) == "13800138000"
    out = sip.parse(sip.response(msg, 200, "OK", to_tag="xyz").to_bytes())
    assert out.status == 200 and out.to_tag == "xyz" and out.from_tag == "111"
    assert out.get("via") == msg.get("via") and out.cseq == (1, "INVITE")


def test_compact_headers_and_folding_are_read() -> None:
    raw = (
        b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\n"
        b"t: <sip:a@b>\r\ni: abc\r\nCSeq: 2\r\n OPTIONS\r\nl: 0\r\n\r\n"
    )
    msg = sip.parse(raw)
    assert msg.call_id == "abc" and msg.cseq == (2, "OPTIONS")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"garbage\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n",  # missing headers
        invite().replace(b"Content-Length: ", b"Content-Length: 9"),  # more than the body
        invite().replace(b"CSeq: 1 INVITE", b"CSeq: x INVITE"),
        invite().replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"),
        invite().replace(b"Via: SIP/2.0/UDP", b"Via: HTTP/1.1"),
        b"INVITE sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 200 + b"\r\n",
        b"X" * 70_000,
    ],
)
def test_malformed_messages_raise_the_parse_error_only(raw: bytes) -> None:
    with pytest.raises(sip.SipParseError):
        sip.parse(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes_never_raise_anything_else(data: bytes) -> None:
    with contextlib.suppress(sip.SipParseError):
        sip.parse(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 600), st.integers(0, 600), st.binary(max_size=8))
def test_fuzz_mutated_invites_never_raise_anything_else(cut: int, at: int, junk: bytes) -> None:
    raw = invite()
    mutated = raw[:at] + junk + raw[at + cut % 40 :]
    try:
        msg = sip.parse(mutated)
        msg.to_bytes()
        _ = msg.cseq, msg.branch, msg.to_tag
    except sip.SipParseError:
        pass


def test_sdp_answer_takes_the_offers_first_codec_and_telephone_event() -> None:
    choice = choose(parse_offer(SDP.encode()))
    assert (choice.codec, choice.payload_type, choice.dtmf_payload_type) == ("PCMA", 8, 101)
    assert (choice.address, choice.port) == ("10.0.0.5", 4000)
    text = answer(choice, "192.0.2.1", 30000).decode()
    assert "m=audio 30000 RTP/AVP 8 101" in text and "c=IN IP4 192.0.2.1" in text
    pcmu_first = SDP.replace("RTP/AVP 8 0 101", "RTP/AVP 0 8 101")
    assert choose(parse_offer(pcmu_first.encode())).codec == "PCMU"


def test_sdp_without_a_usable_codec_or_audio_is_refused() -> None:
    with pytest.raises(SdpError):
        choose(parse_offer(SDP.replace("RTP/AVP 8 0 101", "RTP/AVP 18 101").encode()))
    with pytest.raises(SdpError):
        parse_offer(b"v=0\r\nc=IN IP4 1.2.3.4\r\n")


def _pkt(seq: int, ts: int = 0, pt: int = 0, payload: bytes = b"\xff" * 160) -> RtpPacket:
    return RtpPacket(pt, seq & 0xFFFF, ts, 1, payload)


def test_rtp_round_trip_and_bad_packets() -> None:
    p = _pkt(65535, 1234, 8, b"abc")
    assert parse_rtp(p.to_bytes()) == p
    for bad in (b"\x80\x00", b"\x40" + bytes(20), b"\x8f" + bytes(12)):
        with pytest.raises(RtpError):
            parse_rtp(bad)


def test_jitter_buffer_orders_across_the_wrap_and_drops_late_and_duplicates() -> None:
    jb = JitterBuffer(depth=3)
    order = [65534, 0, 65535, 1, 1, 2, 65533]
    out = [p.sequence for s in order for p in jb.push(_pkt(s), now=0.0)]
    assert out == [65534, 65535, 0, 1, 2]
    assert jb.late == 2
    # a lost packet is skipped once three packets wait behind it
    out = [p.sequence for s in (4, 5, 6) for p in jb.push(_pkt(s), now=0.0)]
    assert out == [4, 5, 6] and jb.lost == 1


def test_telephone_event_digits_are_reported_once() -> None:
    rx = DtmfReceiver()
    digits: list[str] = []
    for ts, event, end in [
        (100, 0, 0),
        (100, 0, 0),
        (100, 0, 1),
        (100, 0, 1),
        (100, 0, 1),
        (900, 11, 0),
        (1700, 10, 1),
    ]:
        digits += rx.push(RtpPacket(101, 1, ts, 1, bytes([event, 0x80 if end else 0, 0, 160])))
    assert digits == ["0", "#", "*"]


def test_alaw_round_trip_is_close() -> None:
    t = np.arange(8000) / 8000
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    y = alaw_decode(alaw_encode(x))
    assert np.max(np.abs(y - x)) < 0.02
    assert alaw_encode(np.zeros(1, np.float32)) == b"\xd5"
