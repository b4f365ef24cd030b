"""A SIP caller for benchmarks: places a PCMU call to the service's SIP endpoint, speaks a clip as
RTP in real time, and times the bot's answer from the wire (``triage bench e2e --transport sip``).

voice_to_voice over SIP: the wall time the last RTP packet carrying the caller's clip was sent to
the first received RTP packet of bot speech (G.711 frames louder than ``SPEECH_RMS``) after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import numpy as np

from core.codec import mulaw_decode, mulaw_encode, pcm16_bytes_to_float, resample
from transport.sip import message as sip
from transport.sip.rtp import RtpStream, open_stream
from transport.sip.sdp import offer

SPEECH_RMS = 0.01
"""A received 20 ms frame louder than this is bot speech (G.711 silence decodes to ~0)."""


class _Signalling(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.responses: asyncio.Queue[sip.SipMessage] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        with contextlib.suppress(sip.SipParseError):
            message = sip.parse(data)
            if message.is_request:  # the service's BYE: answer it
                assert self.transport is not None
                self.transport.sendto(sip.response(message, 200, "OK").to_bytes(), addr)
            else:
                self.responses.put_nowait(message)


async def voice_to_voice_sip(host: str, port: int, clip_pcm16k: bytes, number: str = "13000000000") -> float:
    """One call: the clip (PCM16 16 kHz) spoken over SIP/RTP; seconds from its end to the bot's answer."""
    loop = asyncio.get_running_loop()
    heard: list[tuple[float, float]] = []  # (arrival, rms) of each received frame

    async def on_payload(payload: bytes) -> None:
        heard.append((time.monotonic(), float(np.sqrt(np.mean(mulaw_decode(payload) ** 2)))))

    async def no_digit(_: str) -> None:
        return None

    rtp = await open_stream(lambda: RtpStream(0, 0xFF, on_payload, no_digit), "127.0.0.1", 0, 0)
    transport, signalling = await loop.create_datagram_endpoint(_Signalling, local_addr=("127.0.0.1", 0))
    local = transport.get_extra_info("sockname")
    call_id, tag = sip.new_tag() + "@bench", sip.new_tag()
    target = f"sip:12345@{host}:{port}"

    def request(method: str, cseq: int, to: str, body: bytes = b"") -> sip.SipMessage:
        msg = sip.SipMessage(method=method, uri=target, body=body)
        msg.headers = [
            ("via", f"SIP/2.0/UDP {local[0]}:{local[1]};branch={sip.new_branch()}"),
            ("max-forwards", "70"),
            ("from", f"<sip:{number}@{local[0]}>;tag={tag}"),
            ("to", to),
            ("call-id", call_id),
            ("cseq", f"{cseq} {method}"),
            ("contact", f"<sip:{number}@{local[0]}:{local[1]}>"),
        ]
        if body:
            msg.headers.append(("content-type", "application/sdp"))
        return msg

    to = f"<{target}>"
    try:
        transport.sendto(
            request("INVITE", 1, f"<{target}>", offer("127.0.0.1", rtp.local_port)).to_bytes(), (host, port)
        )
        while (reply := await asyncio.wait_for(signalling.responses.get(), 30)).status < 200:
            pass
        if reply.status != 200:
            raise RuntimeError(f"the service answered {reply.status} {reply.reason}")
        to = reply.get("to")
        transport.sendto(request("ACK", 1, to).to_bytes(), (host, port))
        remote_rtp = _rtp_address(reply.body) or (host, 0)
        rtp.start(remote_rtp)
        speech = resample(pcm16_bytes_to_float(clip_pcm16k), 16000, 8000)
        rtp.push(mulaw_encode(speech))
        await rtp.drain(len(speech) / 8000 + 10)
        end = time.monotonic()
        deadline = end + 60
        while time.monotonic() < deadline:
            first = next((t for t, rms in heard if t >= end and rms > SPEECH_RMS), None)
            if first is not None:
                return first - end
            await asyncio.sleep(0.005)
        raise TimeoutError("no bot speech over SIP within 60 s of the question")
    finally:
        with contextlib.suppress(Exception):
            transport.sendto(request("BYE", 2, to).to_bytes(), (host, port))
            await asyncio.sleep(0.2)
        transport.close()
        await rtp.close()


def _rtp_address(sdp: bytes) -> tuple[str, int] | None:
    from transport.sip.sdp import SdpError, parse_offer

    try:
        parsed = parse_offer(sdp)
    except SdpError:
        return None
    return parsed.address, parsed.port
