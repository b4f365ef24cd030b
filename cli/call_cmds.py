"""`triage call`: play a recording into the live service as a caller would, and show what happens."""

from __future__ import annotations

import json
import threading
import time
import wave
from pathlib import Path

import typer

from cli.groups import CommandGroups

FRAME_MS = 20


def register(groups: CommandGroups) -> None:
    @groups.bench.command("e2e")
    def bench_e2e(
        json_out: Path | None = typer.Option(None, "--json", help="Write the figures here as flat JSON."),
        repeats: int = typer.Option(1, help="Times each scripted call is repeated."),
        levels: str = typer.Option("1,2,4,8,12,16", help="Simultaneous callers per load level."),
        capacity: int | None = typer.Option(
            None,
            help="Bot capacity for this run (default: the settings', TRIAGE_MAX_BOT_CALLS or two per core).",
        ),
        plot: Path | None = typer.Option(None, help="Load plot PNG (default: next to --json)."),
        transport: str = typer.Option(
            "ws", help="ws, or sip: also ask the routine questions over SIP/RTP (voice_to_voice_sip_*)."
        ),
    ) -> None:
        """Whole calls over the WebSocket: voice-to-voice and emergency-to-agent latency, barge-in,
        and how many simultaneous real-time calls this machine sustains."""
        from core.settings import get_settings
        from eval.e2e_bench import run

        settings = get_settings()
        if capacity is not None:
            settings = settings.model_copy(update={"max_bot_calls": capacity})
        wanted = tuple(int(x) for x in levels.split(",") if x.strip())
        if transport not in ("ws", "sip"):
            raise typer.BadParameter("use ws or sip", param_hint="--transport")
        result = run(settings, repeats=repeats, progress=typer.echo, levels=wanted, transport=transport)
        if result["load_levels"] and (plot or json_out):
            from eval.load_bench import plot as plot_levels

            target = plot or (json_out.with_suffix(".png") if json_out else Path("bench-e2e.png"))
            result["plot"] = str(plot_levels(result["load_levels"], target, result["realtime_bound_s"]))
        typer.echo("")
        for key, value in result.items():
            if key not in ("definitions", "load_levels"):
                typer.echo(f"{key:<28} {value}")
        if result["load_levels"]:
            cols = ["calls", "admitted_share", "voice_to_voice_p50_s", "voice_to_voice_p95_s"]
            cols += ["first_partial_p50_s", "false_silence_prompts", "cpu_share", "peak_rss_mb"]
            typer.echo("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
            for row in result["load_levels"]:
                typer.echo("| " + " | ".join(str(row[c]) for c in cols) + " |")
        if json_out:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
            typer.echo(f"wrote {json_out}")

    @groups.bench.command("bridge")
    def bench_bridge(
        json_out: Path | None = typer.Option(None, "--json", help="Write the figures here as JSON."),
        levels: str = typer.Option("1,2,4,8", help="Simultaneous bridged calls per load level."),
        bursts: int = typer.Option(8, help="Tone bursts each way per bridged call."),
        bot_calls: int = typer.Option(2, help="Bot conversations running beside the bridged calls."),
    ) -> None:
        """Agent <-> caller mouth-to-ear delay over the softphone bridge (aiortc peer as the agent's
        browser, the caller WebSocket as the caller), and how many bridged calls this machine carries
        while bot calls go on."""
        from core.settings import get_settings
        from eval.bridge_bench import run

        wanted = tuple(int(x) for x in levels.split(",") if x.strip())
        result = run(get_settings(), wanted, bursts, bot_calls, progress=typer.echo)
        typer.echo("")
        for key, value in result.items():
            if key not in ("definitions", "levels"):
                typer.echo(f"{key:<36} {value}")
        cols = list(result["levels"][0]) if result["levels"] else []
        if cols:
            typer.echo("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
            for row in result["levels"]:
                typer.echo("| " + " | ".join(str(row[c]) for c in cols) + " |")
        if json_out:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
            typer.echo(f"wrote {json_out}")

    @groups.root.command()
    def call(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Caller audio: wav, flac, mp3."),
        realtime: bool = typer.Option(
            False, help="Send audio at the pace it was spoken (default: as fast as read)."
        ),
        out: Path | None = typer.Option(None, help="Save the bot's audio to this WAV file."),
        url: str = typer.Option(
            "ws://127.0.0.1:8000/v1/calls/stream", help="The service's caller WebSocket."
        ),
        language: str = typer.Option("en", help="Greeting language (zh or en); the bot follows the caller."),
        caller_number: str | None = typer.Option(None, help="Caller's number, for history and work orders."),
        wait: float = typer.Option(
            4.0, help="Seconds of quiet from the bot after which the call is hung up."
        ),
    ) -> None:
        """Play FILE into the caller WebSocket; print what the bot hears, decides and says."""
        from websockets.sync.client import connect

        from asr.audio import load_audio
        from core.codec import float_to_pcm16_bytes

        pcm = float_to_pcm16_bytes(load_audio(file))
        pcm += b"\x00\x00" * 16000 * 2  # two seconds of silence so the last utterance ends
        frame = 16000 * 2 * FRAME_MS // 1000
        bot_audio = bytearray()
        t0 = time.monotonic()
        last_event = [time.monotonic()]

        def stamp() -> str:
            return f"[{time.monotonic() - t0:6.2f}s]"

        with connect(url, max_size=None, open_timeout=10) as ws:
            start = {"type": "start", "sample_rate": 16000, "encoding": "pcm16", "language": language}
            if caller_number:
                start["caller_number"] = caller_number
            ws.send(json.dumps(start))

            def send_audio() -> None:
                for i in range(0, len(pcm), frame):
                    ws.send(pcm[i : i + frame])
                    if realtime:
                        time.sleep(FRAME_MS / 1000)

            sender = threading.Thread(target=send_audio, daemon=True)
            sender.start()
            hung_up = False
            while True:
                try:
                    message = ws.recv(timeout=0.5)
                except TimeoutError:
                    if not sender.is_alive() and time.monotonic() - last_event[0] > wait and not hung_up:
                        ws.send(json.dumps({"type": "hangup"}))
                        hung_up = True
                    continue
                except Exception:
                    break
                last_event[0] = time.monotonic()
                if isinstance(message, bytes):
                    bot_audio.extend(message)
                    continue
                event = json.loads(message)
                kind = event.get("type")
                if kind == "final":
                    typer.echo(f"{stamp()} caller ({event['language']}): {event['text']}")
                elif kind == "decision":
                    typer.echo(
                        f"{stamp()} decision: {event['action']} urgency={event['urgency']} "
                        f"topic={event['topic']} ({event['reason']})"
                    )
                elif kind == "bot_text":
                    typer.echo(f"{stamp()} bot: {event['text']}")
                elif kind in (
                    "handoff",
                    "playback_stopped",
                    "latency",
                    "hangup",
                    "started",
                    "error",
                    "rated",
                ):
                    typer.echo(
                        f"{stamp()} {kind}: {json.dumps({k: v for k, v in event.items() if k != 'type'})}"
                    )
                elif kind == "ended":
                    typer.echo(
                        f"{stamp()} call ended: {event.get('reason')} (call id {event.get('call_id')})"
                    )
                    break
        if out:
            with wave.open(str(out), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(16000)
                wav.writeframes(bytes(bot_audio))
            typer.echo(f"bot audio: {len(bot_audio) / 32000:.1f} s -> {out}")
