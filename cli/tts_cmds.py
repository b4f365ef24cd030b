"""`triage speak` and `triage bench tts`."""

from __future__ import annotations

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
        import dataclasses

        from pipeline.settings import get_settings
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
        repeats: int = typer.Option(5, min=1, help="Times each of the 5 answers per language is spoken."),
        concurrency: int = typer.Option(1, min=1, help="Calls streaming at once."),
        audio_format: str = typer.Option("pcm16-8k", "--format", help="Output format measured."),
    ) -> None:
        """Time to the first audio chunk of a two-sentence answer (target <= 0.3 s) and real-time factor."""
        import dataclasses

        from pipeline.settings import get_settings
        from tts import Synthesizer, TtsOptions, parse_audio_format
        from tts.bench import run_tts_bench

        # No disk cache: the bench measures synthesis, the cached-prompt figure uses memory only.
        options = dataclasses.replace(TtsOptions.from_settings(get_settings()), cache_dir=None)
        with Synthesizer(options) as synth:
            figures = run_tts_bench(synth, repeats, concurrency, parse_audio_format(audio_format))
        typer.echo(f"{'figure':<32} value")
        for key, value in figures.items():
            typer.echo(f"{key:<32} {value}")
        verdict = "meets" if float(figures["tts_first_chunk_p50_s"]) <= 0.3 else "MISSES"
        typer.echo(f"first chunk p50 {figures['tts_first_chunk_p50_s']} s {verdict} the 0.3 s target")
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(figures, indent=2) + "\n")
