"""`triage speak` and `triage bench tts`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer

from cli.groups import CommandGroups


def register(groups: CommandGroups) -> None:
    @groups.root.command()
    def speak(
        text: str = typer.Argument("", help="What to say (or use --prompt)."),
        lang: str = typer.Option("en", "--lang", help="en or zh."),
        out: Path | None = typer.Option(None, "--out", help="WAV file to write."),
        audio_format: str = typer.Option(
            "pcm16-22k",
            "--format",
            help="pcm16-8k | mulaw-8k (telephone) | pcm16-16k | pcm16-22k (web). mu-law is written "
            "as a G.711 WAV.",
        ),
        prompt: str | None = typer.Option(None, "--prompt", help="Say a fixed prompt by key instead."),
        rate: int | None = typer.Option(None, "--rate", help="Words per minute (TRIAGE_TTS_RATE_WPM)."),
        list_voices: bool = typer.Option(False, "--list-voices", help="List espeak-ng voices and exit."),
    ) -> None:
        """Synthesise speech to a WAV file, as the bot would say it."""
        from core.settings import get_settings
        from tts import PROMPTS, Synthesizer, TtsOptions, parse_audio_format

        options = TtsOptions.from_settings(get_settings())
        if rate is not None:
            options = dataclasses.replace(options, rate_wpm=rate)
        with Synthesizer(options) as synth:
            if list_voices:
                for voice in synth.engine.voices():
                    langs = ",".join(voice["languages"])
                    typer.echo(f"{voice['id']:<28} {langs:<14} {voice['name']}")
                return
            if out is None:
                raise typer.BadParameter("say where to write the audio: --out FILE.wav", param_hint="--out")
            try:
                fmt = parse_audio_format(audio_format)
                if prompt is not None:
                    audio = synth.prompt(prompt, lang, fmt)
                elif text.strip():
                    audio = synth.synthesize(text, lang, fmt)
                else:
                    raise typer.BadParameter(
                        f"give the text to say, or --prompt with one of: {', '.join(PROMPTS)}"
                    )
            except (ValueError, KeyError) as e:
                raise typer.BadParameter(str(e)) from e
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(audio.wav_bytes())
            typer.echo(f"{out}: {audio.duration_s:.2f} s, {audio.sample_rate} Hz {audio.encoding}")

    @groups.bench.command("tts")
    def bench_tts(
        json_out: Path | None = typer.Option(None, "--json", help="Write the figures as flat JSON here."),
        repeats: int = typer.Option(3, min=1, help="Times each of the 5 answers per language is timed."),
        zh: str = typer.Option(
            "", help="Mandarin engines to compare, comma-separated (default: configured, espeak)."
        ),
        en: str = typer.Option("", help="English engines to compare (default: the configured one)."),
        limit: int | None = typer.Option(
            None, min=1, help="Only the first N round-trip sentences per language."
        ),
        asr: bool = typer.Option(
            True, help="Transcribe the speech back with Whisper (--no-asr: timing only)."
        ),
    ) -> None:
        """Per language and voice: ASR round-trip error before and after an 8 kHz phone line, real-time
        factor, first-audio latency, start-up and memory (targets for the default Mandarin voice:
        CER <= 0.15, first audio <= 0.2 s)."""
        from core.settings import get_settings
        from eval.tts_bench import markdown_table, run_bench
        from tts.interface import Lang

        settings = get_settings()

        def engines(given: str, configured: str, extra: tuple[str, ...]) -> list[str]:
            names = [e.strip() for e in given.split(",") if e.strip()] or [configured, *extra]
            return list(dict.fromkeys(names))

        wanted: dict[Lang, list[str]] = {
            "zh": engines(zh, settings.tts_engine_zh, ("espeak",)),
            "en": engines(en, settings.tts_engine_en, ()),
        }
        rows, figures = run_bench(settings, wanted, limit, repeats, asr)
        typer.echo(markdown_table(rows))
        for row in rows:
            if row.fallback:
                typer.echo(f"{row.lang} {row.engine}: espeak-ng spoke instead ({row.fallback})")
            for worst in row.worst[:2] if row.error_wideband else []:
                typer.echo(f"  {row.lang} {row.engine} worst: {worst['text']} -> {worst['heard']}")
        zh_default = [r for r in rows if r.lang == "zh" and r.engine == settings.tts_engine_zh]
        if zh_default and zh_default[0].error_wideband is not None:
            r, cer = zh_default[0], zh_default[0].error_wideband
            ok = cer <= 0.15 and r.first_audio_p50_s <= 0.2
            typer.echo(
                f"default Mandarin voice: CER {cer:.3f} (target <= 0.15), first audio "
                f"{r.first_audio_p50_s:.3f} s (target <= 0.2): {'meets' if ok else 'MISSES'} the targets"
            )
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            rows_json = [dataclasses.asdict(r) for r in rows]
            json_out.write_text(
                json.dumps({**figures, "rows": rows_json}, indent=2, ensure_ascii=False) + "\n"
            )
