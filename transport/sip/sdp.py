"""SDP offer/answer for one audio stream (RFC 3264, RFC 4566 subset).

The service speaks G.711 only: PCMU (payload type 0) and PCMA (8), plus telephone-event (RFC 4733)
for keypad digits. The answer takes the offer's first codec the service supports, so the PBX's
preference wins, and echoes the offer's telephone-event payload type when it has one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

Codec = Literal["PCMU", "PCMA"]
STATIC_CODECS: dict[int, Codec] = {0: "PCMU", 8: "PCMA"}


class SdpError(ValueError):
    """An offer the service cannot answer (no audio, no supported codec, unreadable)."""


@dataclass
class SdpOffer:
    address: str
    port: int
    payload_types: list[int]
    rtpmap: dict[int, str] = field(default_factory=dict)
    """payload type -> 'NAME/rate' from a=rtpmap, lower-case name."""
    direction: str = "sendrecv"


@dataclass(frozen=True)
class MediaChoice:
    """What the answer agreed: the remote RTP address, the codec and the telephone-event type."""

    address: str
    port: int
    payload_type: int
    codec: Codec
    dtmf_payload_type: int | None


def parse_offer(body: bytes) -> SdpOffer:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SdpError("the SDP is not UTF-8") from e
    session_address = ""
    audio: SdpOffer | None = None
    in_audio = False
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            in_audio = False
            parts = value.split()
            if audio is None and len(parts) >= 4 and parts[0] == "audio":
                if not parts[1].split("/")[0].isdigit():
                    raise SdpError(f"bad audio port {parts[1]!r}")
                port = int(parts[1].split("/")[0])
                types = [int(p) for p in parts[3:] if p.isdigit() and int(p) < 128]
                audio = SdpOffer(session_address, port, types)
                in_audio = True
        elif kind == "c":
            parts = value.split()
            if len(parts) < 3 or parts[1] not in ("IP4", "IP6"):
                raise SdpError(f"bad connection line {value!r}")
            address = parts[2].split("/")[0]
            if audio is None:
                session_address = address
            elif in_audio:
                audio.address = address
        elif kind == "a" and in_audio and audio is not None:
            name, _, rest = value.partition(":")
            if name == "rtpmap":
                pt, _, encoding = rest.partition(" ")
                if pt.isdigit():
                    audio.rtpmap[int(pt)] = encoding.strip().lower()
            elif name in ("sendrecv", "sendonly", "recvonly", "inactive"):
                audio.direction = name
    if audio is None:
        raise SdpError("the offer has no audio stream")
    if not audio.address:
        raise SdpError("the offer has no connection address")
    if not 0 < audio.port < 65536:
        raise SdpError(f"audio port {audio.port} is not usable")
    return audio


def choose(offer: SdpOffer) -> MediaChoice:
    """The offer's first G.711 codec, and its telephone-event type if it offers one."""
    dtmf = next(
        (pt for pt in offer.payload_types if offer.rtpmap.get(pt, "").startswith("telephone-event/8000")),
        None,
    )
    for pt in offer.payload_types:
        name = offer.rtpmap.get(pt, "")
        codec = STATIC_CODECS.get(pt) if not name else _by_name(name)
        if codec is not None:
            return MediaChoice(offer.address, offer.port, pt, codec, dtmf)
    raise SdpError("no supported codec: the service speaks PCMU (0) and PCMA (8)")


def _by_name(rtpmap: str) -> Codec | None:
    name, _, rate = rtpmap.partition("/")
    if rate.split("/")[0] != "8000":
        return None
    return {"pcmu": "PCMU", "pcma": "PCMA"}.get(name)  # type: ignore[return-value]


def answer(choice: MediaChoice, address: str, port: int, session_id: int | None = None) -> bytes:
    """Our answer: one audio stream on ``address:port`` with the chosen codec (and telephone-event)."""
    sid = session_id if session_id is not None else secrets.randbelow(2**31)
    family = "IP6" if ":" in address else "IP4"
    types = [choice.payload_type] + (
        [choice.dtmf_payload_type] if choice.dtmf_payload_type is not None else []
    )
    lines = [
        "v=0",
        f"o=hotline-triage {sid} {sid} IN {family} {address}",
        "s=hotline-triage",
        f"c=IN {family} {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(t) for t in types)}",
        f"a=rtpmap:{choice.payload_type} {choice.codec}/8000",
    ]
    if choice.dtmf_payload_type is not None:
        lines += [
            f"a=rtpmap:{choice.dtmf_payload_type} telephone-event/8000",
            f"a=fmtp:{choice.dtmf_payload_type} 0-15",
        ]
    lines += ["a=ptime:20", "a=sendrecv"]
    return ("\r\n".join(lines) + "\r\n").encode()


def offer(address: str, port: int, session_id: int | None = None) -> bytes:
    """Our offer when the service calls out (an agent's phone): PCMU, PCMA and telephone-event 101."""
    sid = session_id if session_id is not None else secrets.randbelow(2**31)
    lines = [
        "v=0",
        f"o=hotline-triage {sid} {sid} IN IP4 {address}",
        "s=hotline-triage",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()
