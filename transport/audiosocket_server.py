"""The AudioSocket TCP server (transport/audiosocket.py): each connection from Asterisk is the
caller leg of a call session. Started from the service's lifespan when TRIAGE_AUDIOSOCKET_PORT is set.

The caller's 8 kHz signed linear audio goes to the recogniser; the bot's voice (pcm16-8k) is sent
paced at real time in 20 ms frames, and dropped when the caller barges in; keys go to the keypad.
When the bot ends the call, its last words play out, then a hangup message ends Asterisk's side.
AudioSocket carries no caller number: the call's UUID is logged beside the call id (the dialplan
can put ${CALLERID(num)} beside the same UUID in its own log or CDR).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from pipeline.runtime import Runtime
from pipeline.session import CallSession, CallStart
from transport import audiosocket as au

log = logging.getLogger(__name__)

FIRST_MESSAGE_TIMEOUT_S = 10.0
GOODBYE_DRAIN_S = 15.0
FRAME_S = au.FRAME_BYTES / 2 / au.SAMPLE_RATE


class AudioSocketServer:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.server: asyncio.Server | None = None
        self.calls: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> AudioSocketServer:
        self.server = await asyncio.start_server(self._connection, host, port)
        log.info("AudioSocket server listening on %s:%d", host, self.port)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.calls):
            task.cancel()
        for task in list(self.calls):
            with contextlib.suppress(BaseException):
                await task

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.calls.add(task)
        try:
            await AudioSocketCall(self.runtime, reader, writer).run()
        except asyncio.CancelledError:
            pass  # the service is stopping; the call's records were closed on the way out
        except Exception:
            log.exception("AudioSocket connection failed")
        finally:
            self.calls.discard(task)
            with contextlib.suppress(Exception):
                writer.close()


class AudioSocketCall:
    def __init__(self, runtime: Runtime, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.runtime = runtime
        self.reader = reader
        self.writer = writer
        self.parser = au.Reader()
        self.pending: list[au.Message] = []
        self.outbound = bytearray()
        """Bot audio not yet sent (dropped on barge-in)."""

    async def _next(self, timeout: float | None = None) -> au.Message | None:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(4096), timeout)
            if not data:
                return None
            self.pending += self.parser.feed(data)
        return self.pending.pop(0)

    async def run(self) -> None:
        services = self.runtime.services_for_new_call()  # None: not loaded, or draining
        try:
            first = await self._next(FIRST_MESSAGE_TIMEOUT_S)
            if first is None or first.kind != au.KIND_UUID:
                raise au.AudioSocketError("the first message must be the call's UUID (kind 0x01)")
            call_uuid = first.call_uuid
        except (au.AudioSocketError, TimeoutError) as e:
            log.warning("AudioSocket connection refused: %s", e or "no UUID message in time")
            await self._send(au.encode(au.KIND_HANGUP))
            return
        if services is None:
            log.warning("AudioSocket call %s refused: %s", call_uuid, self.runtime.refusal())
            await self._send(au.encode(au.KIND_HANGUP))
            return
        session = CallSession(
            services,
            CallStart(
                8000, "pcm16", self.runtime.settings.greeting_language, None, "audiosocket", "pcm16-8k"
            ),
            self._on_event,
            self._on_audio,
        )
        await session.open()
        log.info("AudioSocket call %s is call %s", call_uuid, session.call_id)
        pacer = asyncio.create_task(self._pace())
        reason, status = "service_stopped", "dropped"
        try:
            reason, status = await self._serve(session)
        finally:
            if status == "ended" and reason != "caller_hung_up":
                with contextlib.suppress(TimeoutError):  # the goodbye plays out first
                    await asyncio.wait_for(self._drained(), GOODBYE_DRAIN_S)
                await self._send(au.encode(au.KIND_HANGUP))
            pacer.cancel()
            await session.close(reason, status)

    async def _serve(self, session: CallSession) -> tuple[str, str]:
        hangup = asyncio.create_task(session.hangup.wait())
        try:
            while True:
                read = asyncio.create_task(self._next())
                done, _ = await asyncio.wait({read, hangup}, return_when=asyncio.FIRST_COMPLETED)
                if hangup in done:
                    read.cancel()
                    return session.end_reason or "bot_ended", "ended"
                try:
                    message = read.result()
                except au.AudioSocketError as e:
                    log.warning("call %s: not AudioSocket (%s); ending the call", session.call_id, e)
                    return "protocol_error", "dropped"
                except (ConnectionError, OSError):
                    return "caller_dropped", "dropped"
                if message is None:
                    return "caller_dropped", "dropped"
                if message.kind == au.KIND_AUDIO:
                    await session.audio(message.payload)
                elif message.kind == au.KIND_DTMF:
                    try:
                        await session.dtmf(message.digit)
                    except (au.AudioSocketError, ValueError) as e:
                        log.warning("call %s: %s", session.call_id, e)
                elif message.kind == au.KIND_HANGUP:
                    return "caller_hung_up", "ended"
                elif message.kind == au.KIND_ERROR:
                    log.warning("call %s: Asterisk reported error %r", session.call_id, message.payload)
                    return "caller_dropped", "dropped"
        finally:
            hangup.cancel()

    async def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "playback_stopped":
            self.outbound.clear()

    async def _on_audio(self, pcm: bytes) -> None:
        self.outbound += pcm

    async def _pace(self) -> None:
        """One 20 ms frame of bot audio per 20 ms, on a clock that does not drift."""
        next_at = time.monotonic()
        while True:
            if self.outbound:
                frame = bytes(self.outbound[: au.FRAME_BYTES])
                del self.outbound[: au.FRAME_BYTES]
                await self._send(au.audio_frames(frame)[0])
                next_at = max(next_at + FRAME_S, time.monotonic() - FRAME_S)
            else:
                next_at = time.monotonic() + FRAME_S
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _drained(self) -> None:
        while self.outbound:
            await asyncio.sleep(FRAME_S)

    async def _send(self, data: bytes) -> None:
        with contextlib.suppress(Exception):  # a dropped connection must not break the call's records
            self.writer.write(data)
            await self.writer.drain()


async def start_audiosocket(runtime: Runtime) -> AudioSocketServer | None:
    """The AudioSocket server when TRIAGE_AUDIOSOCKET_PORT is set, else None."""
    port = runtime.settings.audiosocket_port
    if port is None:
        return None
    return await AudioSocketServer(runtime).start(runtime.settings.audiosocket_host, port)
