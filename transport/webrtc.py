"""One browser over WebRTC (aiortc): microphone in, bot or agent audio out, JSON both ways.

The browser makes the offer (its microphone track and a data channel), the service answers::

    peer = RtcPeer(on_audio=handle_pcm, on_json=handle_message)
    answer = await peer.accept(offer_sdp)          # RtcOfferError: a bad offer, say why to the browser
    ...                                            # give answer.sdp / answer.type to the browser
    await peer.send_audio(pcm16_16k_mono)          # plays at real time, after what is queued
    peer.clear_audio()                             # barge-in: drop what has not played yet
    await peer.send_json({"type": "bot_text", ...})
    await peer.closed.wait()                       # remote hang-up, ICE failure, no connection
    await peer.close()                             # idempotent; peer.close_reason says why

Non-trickle: ``accept`` returns once ICE gathering is complete, so the answer carries every
candidate and one HTTP request sets the call up. No STUN server is used unless one is configured:
host candidates (and loopback, for a browser on the same machine with no network) are enough on
a LAN or one host; across NAT give ``RtcOptions.ice_servers``.

Audio both ways is PCM16 mono 16 kHz (``pipeline.legs.BRIDGE_RATE``); see transport/rtc_audio.py.
Data channel: the first channel the browser opens (the pages call it "events") carries one JSON
object per message; messages sent before it opens are kept (up to ``max_pending_json``) and sent
when it does. A message that is not a JSON object gets ``{"type": "error", "code": "bad_json", ...}``
back and is otherwise ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdatachannel import RTCDataChannel
from av import AudioFrame

from transport.rtc_audio import SAMPLE_RATE, InboundAudio, PacedAudioTrack

log = logging.getLogger(__name__)

OnAudio = Callable[[bytes], Awaitable[None]]
"""Receives the remote microphone as PCM16 mono 16 kHz, in order, frame by frame (about 20 ms)."""
OnJson = Callable[[dict[str, Any]], Awaitable[None]]
"""Receives each JSON object the remote side sends on the data channel, in order."""


class RtcOfferError(ValueError):
    """The browser's offer cannot be answered; the message says why and what to send instead."""


@dataclass(frozen=True)
class RtcOptions:
    ice_servers: tuple[str, ...] = ()
    """STUN/TURN URLs (``stun:host:port``). None by default: host candidates only, nothing is
    contacted while answering (aiortc alone would ask a public STUN server)."""
    loopback: bool = True
    """Also offer 127.0.0.1, so a browser on the same machine connects with no network up."""
    connect_timeout_s: float = 20.0
    """Close when ICE and DTLS have not connected this long after the answer."""
    max_queued_audio_s: float = 600.0
    """Outbound audio beyond this much queued is dropped with a warning."""
    live_latency_s: float | None = None
    """For a live voice (an agent's softphone, a listen-in): outbound audio queued beyond this is
    late and the oldest is dropped, keeping mouth-to-ear delay bounded when the service is busy.
    None for the bot's speech, which is queued ahead of playback on purpose."""
    max_pending_json: int = 256
    """Messages kept for the data channel before it opens (the oldest go first)."""


@dataclass(frozen=True)
class RtcAnswer:
    sdp: str
    type: str = "answer"


@dataclass
class RtcStats:
    """What went through the peer, for logs and tests."""

    received_audio_s: float = 0.0
    """Seconds of remote microphone delivered to ``on_audio``."""
    json_in: int = 0
    json_out: int = 0
    bad_json: int = 0
    dropped_audio_s: float = 0.0
    """Seconds of queued outbound audio dropped by ``clear_audio``."""
    states: list[str] = field(default_factory=list)
    """Connection states in the order they were reached."""


async def _ignore_audio(_: bytes) -> None:
    return None


async def _ignore_json(_: dict[str, Any]) -> None:
    return None


class RtcPeer:
    """One remote WebRTC party (answerer side). Create it, ``accept`` the offer, then talk.

    ``on_audio`` and ``on_json`` may be given later (set the attributes) as long as it is before
    the answer reaches the browser: nothing arrives earlier.
    """

    def __init__(
        self,
        on_audio: OnAudio | None = None,
        on_json: OnJson | None = None,
        options: RtcOptions | None = None,
    ) -> None:
        self.on_audio: OnAudio = on_audio or _ignore_audio
        self.on_json: OnJson = on_json or _ignore_json
        self.options = options or RtcOptions()
        self.stats = RtcStats()
        self.connected = asyncio.Event()
        """Set once ICE and DTLS are up: audio and the data channel can flow."""
        self.closed = asyncio.Event()
        """Set when the call's transport is gone, for whatever reason (see ``close_reason``)."""
        self.close_reason: str | None = None
        """'remote_closed', 'channel_closed', 'ice_failed', 'connection_failed', 'connect_timeout',
        or what ``close(reason)`` was given."""
        servers = [RTCIceServer(urls=url) for url in self.options.ice_servers]
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self._out = PacedAudioTrack(self.options.max_queued_audio_s, self.options.live_latency_s)
        self._channel: RTCDataChannel | None = None
        self._pending: deque[str] = deque(maxlen=self.options.max_pending_json)
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepted = False
        self._shutdown: asyncio.Future[None] | None = None
        self._pc.on("track", self._on_track)
        self._pc.on("datachannel", self._on_datachannel)
        self._pc.on("connectionstatechange", self._on_connection_state)
        self._pc.on("iceconnectionstatechange", self._on_ice_state)

    # --- setting up ------------------------------------------------------------------------------
    async def accept(self, sdp: str, sdp_type: str = "offer") -> RtcAnswer:
        """Answer the browser's offer. Returns once ICE gathering is complete (non-trickle).

        Raises RtcOfferError (and closes the peer) when the offer is not a usable SDP offer with audio.
        """
        if self._accepted:
            raise RtcOfferError("This peer has already answered an offer; create a new one per call.")
        self._accepted = True
        if sdp_type != "offer":
            await self.close("bad_offer")
            raise RtcOfferError(f'Expected an SDP of type "offer", got {sdp_type!r}.')
        if not sdp.lstrip().startswith("v=0"):
            await self.close("bad_offer")
            raise RtcOfferError(
                "The offer is not SDP (it must start with 'v=0'): send pc.localDescription.sdp."
            )
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as e:  # aiortc raises ValueError, KeyError, InvalidStateError... on bad SDP
            await self.close("bad_offer")
            raise RtcOfferError(f"The offer could not be read: {type_name(e)}: {e}") from e
        if not any(t.kind == "audio" for t in self._pc.getTransceivers()):
            await self.close("bad_offer")
            raise RtcOfferError("The offer has no audio: add the microphone track before creating it.")
        self._pc.addTrack(self._out)
        try:
            with extra_host_addresses(*(("127.0.0.1",) if self.options.loopback else ())):
                await self._pc.setLocalDescription(await self._pc.createAnswer())
        except Exception as e:
            await self.close("bad_offer")
            raise RtcOfferError(f"No answer could be made for this offer: {type_name(e)}: {e}") from e
        local = self._pc.localDescription
        self._out.stereo = first_audio_codec(local.sdp) == "opus"
        self._spawn(self._dispatch_json())
        self._spawn(self._watch_connect())
        return RtcAnswer(sdp=local.sdp, type=local.type)

    # --- audio -----------------------------------------------------------------------------------
    async def send_audio(self, pcm: bytes) -> None:
        """Queue PCM16 mono 16 kHz audio for the remote side; it plays at real time after what is
        already queued. Returns at once (audio sent before the connection is up waits for it)."""
        if not self.closed.is_set():
            self._out.push(pcm)

    def clear_audio(self) -> float:
        """Drop the queued outbound audio at once (barge-in); returns the seconds dropped."""
        dropped = self._out.clear()
        self.stats.dropped_audio_s += dropped
        return dropped

    @property
    def queued_audio_s(self) -> float:
        """Outbound audio not yet played."""
        return self._out.queued_s

    @property
    def played_audio_s(self) -> float:
        """Outbound audio (not counting the silence between) handed to the encoder so far."""
        return self._out.played_s

    async def drain(self, timeout_s: float) -> bool:
        """Wait until the queued outbound audio has played (e.g. a goodbye before hanging up)."""
        if not self.connected.is_set() or self.closed.is_set():
            return self._out.queued_s == 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._out.drained.wait(), timeout_s)
        return self._out.queued_s == 0

    # --- data channel ----------------------------------------------------------------------------
    async def send_json(self, payload: dict[str, Any]) -> None:
        """Send one JSON object on the data channel (kept until the channel opens)."""
        if self.closed.is_set():
            return
        text = json.dumps(payload, ensure_ascii=False)
        channel = self._channel
        if channel is None or channel.readyState != "open" or self._pc.connectionState != "connected":
            self._pending.append(text)
            return
        channel.send(text)
        self.stats.json_out += 1

    # --- closing ---------------------------------------------------------------------------------
    async def close(self, reason: str = "closed") -> None:
        """End the peer: stop the tracks and tasks, close the connection. Safe to call twice, and
        from a callback of this peer: the shutdown runs once, in its own task, never cancelled."""
        if self.close_reason is None:
            self.close_reason = reason
        self.closed.set()
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._shut_down())
        await asyncio.shield(self._shutdown)

    async def _shut_down(self) -> None:
        self._inbox.put_nowait(None)
        self._out.stop()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self._pc.close()

    @property
    def connection_state(self) -> str:
        return str(self._pc.connectionState)

    # --- aiortc events ---------------------------------------------------------------------------
    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._read_audio(track))

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if self._channel is not None:
            log.info("ignoring extra data channel %r: the first one carries the events", channel.label)
            return
        self._channel = channel
        channel.on("message", self._on_message)
        channel.on("close", lambda: self._remote_gone("channel_closed"))
        if channel.readyState == "open":
            self._flush_pending()
        else:
            channel.on("open", self._flush_pending)

    def _flush_pending(self) -> None:
        channel = self._channel
        while channel is not None and channel.readyState == "open" and self._pending:
            channel.send(self._pending.popleft())
            self.stats.json_out += 1

    def _on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self._reply_error("bad_json", "Binary data channel messages are not accepted: send JSON text.")
            return
        try:
            payload = json.loads(message)
        except json.JSONDecodeError as e:
            self._reply_error(
                "bad_json", f'Data channel messages must be JSON, e.g. {{"type": "hangup"}} ({e}).'
            )
            return
        if not isinstance(payload, dict):
            self._reply_error(
                "bad_json", 'A data channel message must be a JSON object, e.g. {"type": "hangup"}.'
            )
            return
        self.stats.json_in += 1
        self._inbox.put_nowait(payload)

    def _reply_error(self, code: str, message: str) -> None:
        self.stats.bad_json += 1
        self._spawn(self.send_json({"type": "error", "code": code, "message": message}))

    def _on_connection_state(self) -> None:
        state = self._pc.connectionState
        self.stats.states.append(state)
        if state == "connected":
            self.connected.set()
            self._flush_pending()
        elif state == "failed":
            self._remote_gone("connection_failed")
        elif state == "closed":
            self._remote_gone("remote_closed")

    def _on_ice_state(self) -> None:
        if self._pc.iceConnectionState == "failed":
            self._remote_gone("ice_failed")

    def _remote_gone(self, reason: str) -> None:
        if self._shutdown is None:
            if self.close_reason is None:
                self.close_reason = reason
            self.closed.set()
            self._shutdown = asyncio.ensure_future(self._shut_down())

    # --- tasks -----------------------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        inbound = InboundAudio()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, AudioFrame):
                continue
            pcm = inbound.convert(frame)
            if not pcm:
                continue
            self.stats.received_audio_s += len(pcm) / 2 / SAMPLE_RATE
            try:
                await self.on_audio(pcm)
            except Exception:
                log.exception("the audio consumer failed on a WebRTC frame; the call goes on")

    async def _dispatch_json(self) -> None:
        while (payload := await self._inbox.get()) is not None:
            try:
                await self.on_json(payload)
            except Exception:
                log.exception("the message consumer failed on %r; the call goes on", payload.get("type"))
                await self.send_json(
                    {"type": "error", "code": "internal", "message": "That message could not be handled."}
                )

    async def _watch_connect(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), self.options.connect_timeout_s)
            return
        self._remote_gone("connect_timeout")


def type_name(e: BaseException) -> str:
    return type(e).__name__


def first_audio_codec(sdp: str) -> str | None:
    """The codec an SDP answer sends audio with: the first payload type of its audio m-line."""
    payload: str | None = None
    for line in sdp.splitlines():
        if payload is None and line.startswith("m=audio "):
            fields = line.split()
            payload = fields[3] if len(fields) > 3 else ""
        elif payload and line.startswith(f"a=rtpmap:{payload} "):
            return line.split(" ", 1)[1].split("/", 1)[0].lower()
    return None


# aioice leaves 127.0.0.1 out of the host candidates. A browser on the same machine with no network
# interface up would then have nothing to pair with, so ``accept`` adds loopback for its own
# gathering only: the addresses are a context variable, seen by the tasks that gathering starts.
_EXTRA_HOST_ADDRESSES: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "rtc_extra_host_addresses", default=()
)


@contextlib.contextmanager
def extra_host_addresses(*addresses: str) -> Iterator[None]:
    """Gather these addresses too (e.g. "127.0.0.1") in ICE gathering started inside the block:
    for another aiortc peer in the same process, such as a test's client."""
    token = _EXTRA_HOST_ADDRESSES.set(addresses)
    try:
        yield
    finally:
        _EXTRA_HOST_ADDRESSES.reset(token)


def _install_host_address_hook() -> None:
    import aioice.ice

    original = aioice.ice.get_host_addresses
    if getattr(original, "adds_context_addresses", False):
        return

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        found = original(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        extra = [a for a in _EXTRA_HOST_ADDRESSES.get() if a not in found and (use_ipv4 or ":" in a)]
        return found + extra

    get_host_addresses.adds_context_addresses = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = get_host_addresses


_install_host_address_hook()
