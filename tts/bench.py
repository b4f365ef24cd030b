"""Timing for `triage bench tts`: time to the first audio chunk of a two-sentence answer, and
real-time factor (the ASR round trip and memory are measured in eval/tts_bench.py).

The answers are typical hotline answers of two sentences in each language. Every figure is
taken on a warm engine (a service starts it once at start-up); the start-up itself is reported
separately, as ``tts_engine_start_s``, and is also what starting a fresh engine per request
would add to every chunk.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass

from tts.interface import TELEPHONE_PCM16, AudioFormat, Lang
from tts.synthesizer import Synthesizer

ANSWERS: dict[Lang, list[str]] = {
    "en": [
        "Household rubbish is collected every Monday and Thursday morning. Please put your bin out "
        "before seven o'clock.",
        "You can renew your residence permit at any district service centre. Bring your identity card "
        "and a recent photo.",
        "The water outage on Park Road should end by six this evening. Bottled water is available at "
        "the community office.",
        "Street light repairs are usually done within three working days. We will send you a text "
        "message when the work is finished.",
        "Parking fines can be paid online or at any bank counter. You have fifteen days to pay before "
        "a late fee is added.",
    ],
    "zh": [
        "生活垃圾每周一和周四早上收运。请在早上七点前把垃圾桶放到门口。",
        "居住证可以在任何一个区政务服务中心办理续签。请带好身份证和近期照片。",
        "公园路的停水预计今天晚上六点前恢复。社区办公室可以领取瓶装水。",
        "路灯维修一般在三个工作日内完成。维修结束后我们会给您发短信。",
        "停车罚款可以在网上或者银行柜台缴纳。请在十五天内缴费，逾期会产生滞纳金。",
    ],
}


@dataclass(frozen=True)
class StreamTiming:
    first_chunk_s: float
    total_s: float
    audio_s: float


def time_stream(synth: Synthesizer, text: str, lang: Lang, audio_format: AudioFormat) -> StreamTiming:
    start = time.perf_counter()
    first = None
    audio_s = 0.0
    for chunk in synth.stream(text, lang, audio_format):
        if first is None:
            first = time.perf_counter() - start
        audio_s += chunk.duration_s
    total = time.perf_counter() - start
    return StreamTiming(first if first is not None else total, total, audio_s)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_tts_bench(
    synth: Synthesizer,
    repeats: int = 5,
    concurrency: int = 1,
    audio_format: AudioFormat = TELEPHONE_PCM16,
) -> dict[str, float | int | str]:
    """Flat figures: per language p50/p90 first chunk and RTF; overall keys take the worse language."""
    start = time.perf_counter()
    synth.start()
    result: dict[str, float | int | str] = {
        "tts_engine_start_s": round(time.perf_counter() - start, 4),
        "tts_format": audio_format.name,
        "tts_repeats": repeats,
        "tts_concurrency": concurrency,
    }
    for lang in ANSWERS:
        for key, value in time_language(synth, lang, repeats, concurrency, audio_format).items():
            result[f"{key}_{lang}"] = value
    result["tts_first_chunk_p50_s"] = max(float(result[f"tts_first_chunk_p50_s_{lang}"]) for lang in ANSWERS)
    result["tts_rtf"] = max(float(result[f"tts_rtf_{lang}"]) for lang in ANSWERS)
    cached = []
    synth.prompt("connecting_agent", "en", audio_format)
    for _ in range(20):
        t0 = time.perf_counter()
        synth.prompt("connecting_agent", "en", audio_format)
        cached.append(time.perf_counter() - t0)
    result["tts_prompt_cached_p50_s"] = round(statistics.median(cached), 6)
    return result


def time_language(
    synth: Synthesizer,
    lang: Lang,
    repeats: int = 5,
    concurrency: int = 1,
    audio_format: AudioFormat = TELEPHONE_PCM16,
) -> dict[str, float]:
    """First chunk p50/p90 and real-time factor of the language's answers, on a warm voice."""
    synth.synthesize(ANSWERS[lang][0], lang, audio_format)  # warm voice and resampler
    timings = _timed_runs(synth, lang, repeats, concurrency, audio_format)
    firsts = [t.first_chunk_s for t in timings]
    return {
        "tts_first_chunk_p50_s": round(statistics.median(firsts), 4),
        "tts_first_chunk_p90_s": round(_percentile(firsts, 0.9), 4),
        "tts_rtf": round(sum(t.total_s for t in timings) / sum(t.audio_s for t in timings), 4),
        "tts_answer_audio_s": round(statistics.mean(t.audio_s for t in timings), 3),
    }


def _timed_runs(
    synth: Synthesizer, lang: Lang, repeats: int, concurrency: int, audio_format: AudioFormat
) -> list[StreamTiming]:
    texts = ANSWERS[lang] * repeats
    timings: list[StreamTiming] = []
    lock = threading.Lock()

    def work(share: list[str]) -> None:
        for text in share:
            timing = time_stream(synth, text, lang, audio_format)
            with lock:
                timings.append(timing)

    threads = [threading.Thread(target=work, args=(texts[i::concurrency],)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings
