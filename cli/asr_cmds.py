"""`triage transcribe` and `triage bench asr`."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from cli.groups import CommandGroups

DEFAULT_MANIFEST = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "asr" / "manifest.jsonl"
)


def _load() -> tuple[Any, Any]:
    """The configured Whisper model wrapped in a decoder, and the stage options."""
    from asr.decoder import WhisperDecoder
    from asr.options import options_from_settings
    from core.settings import get_settings
    from models.whisper import load_whisper

    s = get_settings()
    options = options_from_settings(s)
    model = load_whisper(s.asr_model, s.cache_dir, s.device, s.compute_type, s.cpu_threads)
    return WhisperDecoder(model, options), options


def _load_or_fail() -> tuple[Any, Any]:
    from models.errors import ModelUnavailableError

    try:
        return _load()
    except ModelUnavailableError as e:
        raise _fail(str(e)) from e


def _with_voices(use: Any) -> Any:
    """``use(synth)`` with the configured voices started, and stopped afterwards."""
    from core.settings import get_settings
    from tts import Synthesizer, TtsOptions

    synth = Synthesizer(TtsOptions.from_settings(get_settings()))
    synth.start()
    try:
        return use(synth)
    finally:
        synth.close()


def _write_json(path: Path | None, data: Any) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        typer.echo(f"wrote {path}")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def register(groups: CommandGroups) -> None:
    @groups.root.command()
    def transcribe(
        file: Path = typer.Argument(..., help="Audio file: wav (PCM or 8 kHz mu-law), flac, mp3."),
        as_json: bool = typer.Option(False, "--json", help="Print the transcript as JSON."),
        stream: bool = typer.Option(False, "--stream", help="Feed the file as a live call; print events."),
        speed: float = typer.Option(1.0, help="With --stream: X times real time (0 = as fast as possible)."),
    ) -> None:
        """Transcribe a recording, or (--stream) replay it as a live call and print each event."""
        from asr.audio import AudioDecodeError, load_audio
        from models.errors import ModelUnavailableError

        try:
            audio = load_audio(file)
            decoder, options = _load()
        except AudioDecodeError as e:
            raise _fail(str(e)) from e
        except ModelUnavailableError as e:
            raise _fail(str(e)) from e
        if stream:
            _stream(decoder, options, audio, speed, as_json)
            return
        from asr.batch import BatchTranscriber

        started = time.perf_counter()
        transcript = BatchTranscriber(decoder, options).transcribe(audio)
        compute = time.perf_counter() - started
        if as_json:
            out = asdict(transcript) | {"confidence": transcript.confidence, "compute_s": round(compute, 3)}
            typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
            return
        typer.echo(transcript.text)
        typer.echo(
            f"language={transcript.language or '-'} duration={transcript.duration_s:.2f}s "
            f"compute={compute:.2f}s rtf={compute / max(transcript.duration_s, 1e-9):.3f}",
            err=True,
        )
        for seg in transcript.segments:
            typer.echo(
                f"[{seg.start_s:7.2f} -> {seg.end_s:7.2f}] ({seg.confidence:.2f}) {seg.text}", err=True
            )

    @groups.bench.command("asr")
    def bench_asr(
        manifest: Path = typer.Option(
            DEFAULT_MANIFEST, help="Clip manifest (JSON lines; file relative to it)."
        ),
        json_out: Path | None = typer.Option(None, "--json", help="Write the flat summary JSON here."),
        speed: float = typer.Option(1.0, help="Streaming replay speed (1 = real time, needed for latency)."),
    ) -> None:
        """Accuracy (WER/CER), real-time factor and streaming latency on real clips."""
        from eval.asr_bench import TABLE_HEADER, format_row, run_bench

        if not manifest.is_file():
            raise _fail(
                f"manifest {manifest} not found: pass --manifest PATH (see shared/benchmarks/README.md)"
            )
        decoder, options = _load_or_fail()
        typer.echo(TABLE_HEADER)

        def show(r: Any) -> None:
            typer.echo(format_row(r))
            typer.echo(f"    ref:    {r.reference}")
            typer.echo(f"    batch:  {r.batch_text}")
            typer.echo(f"    stream: {r.stream_text}")

        _, summary = run_bench(decoder, options, manifest, speed=speed, progress=show)
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        _write_json(json_out, summary)

    @groups.bench.command("asr-batch")
    def bench_asr_batch(
        windows: str = typer.Option("10,6", help="Encoder windows to compare (seconds)."),
        beams: str = typer.Option("5,3", help="Beam sizes to compare."),
        clinc: Path = typer.Option(
            DEFAULT_MANIFEST.parent.parent / "clinc150" / "data_full.json", help="CLINC150 data_full.json."
        ),
        json_out: Path | None = typer.Option(None, "--json", help="Write the rows here as JSON."),
    ) -> None:
        """Batch decode time (1, 3, 8 calls finishing together) and error on short spoken requests,
        per encoder window and beam: what TRIAGE_ASR_MIN_WINDOW_S and TRIAGE_ASR_LOADED_BEAM_SIZE trade."""
        from eval.asr_batch_bench import run, speak, utterances

        if not clinc.is_file():
            raise _fail(f"{clinc} not found: pass --clinc PATH (see shared/benchmarks/README.md)")
        decoder, options = _load_or_fail()
        clips = _with_voices(lambda synth: speak(synth, utterances(clinc)))
        rows = run(
            decoder.model,
            options,
            clips,
            [float(w) for w in windows.split(",")],
            [int(b) for b in beams.split(",")],
            progress=typer.echo,
        )
        cols = list(rows[0])
        typer.echo("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for row in rows:
            typer.echo("| " + " | ".join(str(row[c]) for c in cols) + " |")
        _write_json(json_out, rows)

    @groups.bench.command("turns")
    def bench_turns(
        manifest: Path = typer.Option(DEFAULT_MANIFEST, help="Real clips (JSON lines), each one turn."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the figures here as JSON."),
        line: str = typer.Option(
            "wideband",
            help="wideband: 16 kHz PCM16; phone: through a simulated G.711 line, streamed as 8 kHz "
            "mu-law / 经模拟电话线路（8 kHz mu-law）送入.",
        ),
    ) -> None:
        """Turn-end wait and premature cut-offs, adaptive end of turn against the fixed silence, on
        scripted multi-sentence calls (numbers dictated in groups, addresses) and the real clips."""
        from eval.turn_bench import run

        if line not in ("wideband", "phone"):
            raise _fail("--line is wideband or phone / --line 只能是 wideband 或 phone")
        decoder, options = _load_or_fail()
        result = _with_voices(
            lambda synth: run(decoder, options, synth, manifest, progress=typer.echo, line=line)
        )
        typer.echo(json.dumps(result, indent=2))
        _write_json(json_out, result)


def _stream(decoder: Any, options: Any, audio: Any, speed: float, as_json: bool) -> None:
    from asr.streaming import StreamingTranscriber
    from core.codec import float_to_pcm16_bytes

    streamer = StreamingTranscriber(decoder, options)
    pcm = float_to_pcm16_bytes(audio)
    step = 640  # 20 ms of 16 kHz PCM16
    t0 = time.perf_counter()

    def show(events: list[Any]) -> None:
        wall = time.perf_counter() - t0
        for ev in events:
            if as_json:
                typer.echo(
                    json.dumps(
                        {"emitted_s": round(wall, 3), "event": type(ev).__name__} | asdict(ev),
                        ensure_ascii=False,
                    )
                )
                continue
            name = type(ev).__name__
            detail = getattr(ev, "text", "")
            if hasattr(ev, "committed_text"):
                detail = f"{ev.committed_text} | {ev.text[len(ev.committed_text) :].strip()}"
            times = (
                f"t={ev.t_s:.2f}" if hasattr(ev, "t_s") else f"{ev.start_s:.2f}-{ev.end_s:.2f} {ev.language}"
            )
            typer.echo(f"[{wall:7.2f}s] {name:<17} {times:<18} {detail}")

    for i in range(0, len(pcm), step):
        if speed > 0:
            delay = t0 + (i // step + 1) * 0.02 / speed - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        show(streamer.feed(pcm[i : i + step]))
    show(streamer.finish())
