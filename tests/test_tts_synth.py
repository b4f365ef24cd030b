"""The speech-synthesis stage on the real espeak-ng engine (pyttsx3 over espeak-ng), asked for
explicitly for both languages (the default Mandarin voice is the neural one: test_tts_voices.py)."""

from __future__ import annotations

import dataclasses
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.codec import mulaw_decode
from tts import (
    TELEPHONE_MULAW,
    TELEPHONE_PCM16,
    WEB_PCM16_16K,
    WEB_PCM16_22K,
    Synthesizer,
    TtsEngineError,
    TtsOptions,
)
from tts.engine import EspeakEngine

EN_TEXTS = [
    "Your bin is collected on Monday.",
    "The service centre opens at nine in the morning and closes at five in the afternoon.",
    "Please bring your identity card, your residence permit and a recent photo when you come to renew "
    "your documents at the district office.",
]
ESPEAK = {"en": "espeak", "zh": "espeak"}
ZH_TEXTS = [
    "垃圾每周一收运。",
    "政务服务中心早上九点开门，下午五点关门。",
    "办理续签时，请带好身份证、居住证和近期照片，到区政务服务中心窗口办理。",
]


@pytest.fixture(scope="module")
def synth() -> Iterator[Synthesizer]:
    with Synthesizer(TtsOptions(engines=ESPEAK)) as s:
        s.start()
        yield s


def _voiced_fraction(samples: np.ndarray, rate: int) -> float:
    """Share of 20 ms frames louder than -40 dBFS: speech, not silence or a click."""
    frame = rate // 50
    n = len(samples) // frame
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1))
    return float(np.mean(rms > 0.01))


@pytest.mark.parametrize("text", EN_TEXTS)
def test_english_duration_is_plausible_for_the_words(synth: Synthesizer, text: str) -> None:
    audio = synth.synthesize(text, "en", WEB_PCM16_16K)
    words_per_s = len(text.split()) / audio.duration_s
    # Conversational English is about 2.5 words per second; a telephone voice is a bit slower.
    assert 1.5 <= words_per_s <= 4.0, (audio.duration_s, words_per_s)
    assert _voiced_fraction(audio.samples(), 16000) > 0.4


@pytest.mark.parametrize("text", ZH_TEXTS)
def test_mandarin_duration_is_plausible_for_the_characters(synth: Synthesizer, text: str) -> None:
    audio = synth.synthesize(text, "zh", WEB_PCM16_16K)
    hanzi = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    chars_per_s = hanzi / audio.duration_s
    # Mandarin is read at about 3 to 5 characters per second. The plain 'cmn' voice, which spells
    # characters out as English pinyin with tone digits, is much slower than this.
    assert 2.0 <= chars_per_s <= 6.5, (audio.duration_s, chars_per_s)
    assert _voiced_fraction(audio.samples(), 16000) > 0.4


def test_the_mandarin_voice_reads_characters_not_spelled_pinyin(synth: Synthesizer) -> None:
    text = "您好欢迎致电市民服务热线"
    ours = synth.synthesize(text, "zh").duration_s
    spelled = Synthesizer(dataclasses.replace(synth.options, voices={"zh": "sit/cmn"}), engine=synth.engine)
    assert ours < 0.85 * spelled.synthesize(text, "zh").duration_s
    assert "sit/cmn-latn-pinyin" in {v.lower() for v in synth.voice_ids()}


def test_empty_and_blank_text_give_empty_audio(synth: Synthesizer) -> None:
    for text in ("", "   ", "\n\t", "。。！", "..."):
        for lang in ("en", "zh"):
            audio = synth.synthesize(text, lang, TELEPHONE_MULAW)
            assert audio.audio == b"" and audio.duration_s == 0.0 and audio.sample_rate == 8000
            assert list(synth.stream(text, lang, TELEPHONE_PCM16)) == []


@pytest.mark.parametrize(
    "text", ["emoji 😀 and ☎ symbols", "nul\x00 bell\x07 tab\t", "lone \ud800 surrogate", "مرحبا بكم", "🙂🙂"]
)
def test_unsupported_characters_never_crash(synth: Synthesizer, text: str) -> None:
    for lang in ("en", "zh"):
        audio = synth.synthesize(text, lang, TELEPHONE_PCM16)
        assert audio.duration_s < 15
        assert len(audio.audio) == 2 * audio.num_samples


def test_mixed_language_text_is_spoken_in_full(synth: Synthesizer) -> None:
    audio = synth.synthesize("请在APP里点击“我的”，然后选择 WiFi 设置。", "zh")
    assert 2.0 < audio.duration_s < 12.0


def test_telephone_and_web_formats_have_the_right_rate_and_length(synth: Synthesizer) -> None:
    text = EN_TEXTS[1]
    reference = synth.synthesize(text, "en", WEB_PCM16_22K)
    for fmt in (TELEPHONE_PCM16, TELEPHONE_MULAW, WEB_PCM16_16K):
        audio = synth.synthesize(text, "en", fmt)
        assert audio.sample_rate == fmt.sample_rate and audio.encoding == fmt.encoding
        assert len(audio.audio) == audio.num_samples * fmt.bytes_per_sample
        assert audio.num_samples == pytest.approx(audio.duration_s * fmt.sample_rate, abs=1)
        assert audio.duration_s == pytest.approx(reference.duration_s, rel=0.01)


def test_mulaw_decodes_back_to_the_same_speech(synth: Synthesizer, tmp_path: Path) -> None:
    mulaw = synth.synthesize(EN_TEXTS[1], "en", TELEPHONE_MULAW)
    decoded = mulaw_decode(mulaw.audio)
    assert len(decoded) == len(mulaw.audio) == round(mulaw.duration_s * 8000)
    pcm = synth.synthesize(EN_TEXTS[1], "en", TELEPHONE_PCM16).samples()
    # Same speech within G.711's quantisation: the loudness contours match (two espeak runs are
    # not sample-identical, so waveforms are not compared) and so does the overall level.
    n = min(len(pcm), len(decoded)) // 160
    contour_pcm = np.sqrt(np.mean(pcm[: n * 160].reshape(n, 160) ** 2, axis=1))
    contour_mulaw = np.sqrt(np.mean(decoded[: n * 160].reshape(n, 160) ** 2, axis=1))
    assert np.corrcoef(contour_pcm, contour_mulaw)[0, 1] > 0.9
    assert np.sqrt(np.mean(decoded**2)) == pytest.approx(np.sqrt(np.mean(pcm**2)), rel=0.15)
    # The WAV a telephony tool would read: G.711 mu-law, 8 kHz, every sample there.
    path = tmp_path / "mulaw.wav"
    path.write_bytes(mulaw.wav_bytes())
    info = sf.info(str(path))
    assert (info.samplerate, info.subtype, info.frames) == (8000, "ULAW", len(mulaw.audio))
    data, rate = sf.read(io.BytesIO(synth.synthesize("Hello.", "en", TELEPHONE_PCM16).wav_bytes()))
    assert rate == 8000 and len(data) > 2000


def test_fixed_prompts_are_cached_in_memory_and_on_disk(tmp_path: Path) -> None:
    options = TtsOptions(engines=ESPEAK, cache_dir=tmp_path / "tts-cache")
    with Synthesizer(options) as first:
        said = first.prompt("connecting_agent", "en", TELEPHONE_MULAW)
        submitted = first.engine.counts()["submitted"]
        again = first.prompt("connecting_agent", "en", TELEPHONE_MULAW)
        assert again.audio == said.audio and len(said.audio) > 8000
        assert first.engine.counts()["submitted"] == submitted  # nothing synthesised again
        zh = first.prompt("connecting_agent", "zh", TELEPHONE_MULAW)
        assert zh.audio != said.audio
    assert list((tmp_path / "tts-cache").rglob("*.raw"))
    # A restarted service reads the disk cache: the engine is never even started.
    with Synthesizer(options) as restarted:
        from_disk = restarted.prompt("connecting_agent", "en", TELEPHONE_MULAW)
        assert from_disk == said
        assert not restarted.engine.started
        # Another rate is another rendering, not a stale one.
        slower = Synthesizer(dataclasses.replace(options, rate_wpm=120), engine=restarted.engine)
        assert slower.prompt("connecting_agent", "en", TELEPHONE_MULAW).duration_s > said.duration_s * 1.15


def test_queue_position_prompt_says_the_number(synth: Synthesizer) -> None:
    third = synth.prompt("queue_position", "en", TELEPHONE_PCM16, n=3)
    twelfth = synth.prompt("queue_position", "en", TELEPHONE_PCM16, n=12)
    assert third.audio != twelfth.audio
    with pytest.raises(ValueError, match="needs n"):
        synth.prompt("queue_position", "zh", TELEPHONE_PCM16)


def test_concurrent_callers_each_get_their_own_audio() -> None:
    """pyttsx3's save_to_file race would hand one caller another caller's audio."""
    texts = [" ".join(["Please hold."] * k) for k in range(1, 7)] + ["请稍候。" * k for k in (1, 3, 5)]
    langs = ["en"] * 6 + ["zh"] * 3
    with Synthesizer(TtsOptions(engines=ESPEAK, processes=2)) as synth:
        expected = [synth.synthesize(t, lang).duration_s for t, lang in zip(texts, langs, strict=True)]
        got: dict[tuple[int, int], float] = {}
        errors: list[BaseException] = []

        def caller(worker: int) -> None:
            try:
                for round_ in range(3):
                    for i in range(worker % 3, len(texts), 2):
                        got[(worker, round_ * 100 + i)] = synth.synthesize(texts[i], langs[i]).duration_s
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=caller, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(got) > 40
        for (_, key), duration in got.items():
            # espeak's length varies by up to ~20 ms between runs; neighbouring texts differ by 0.5 s.
            assert duration == pytest.approx(expected[key % 100], abs=0.1), texts[key % 100]


def test_streaming_yields_the_first_sentence_before_the_rest_is_synthesised() -> None:
    sentences = [f"This is sentence number {w}." for w in ("one", "two", "three", "four", "five", "six")]
    text = " ".join(sentences)
    with Synthesizer(TtsOptions(lookahead=1)) as synth:
        whole = synth.synthesize(text, "en", TELEPHONE_PCM16)
        before = synth.engine.counts()["submitted"]
        stream = synth.stream(text, "en", TELEPHONE_PCM16)
        first = next(stream)
        asked = synth.engine.counts()["submitted"] - before
        assert first.index == 0 and first.text == sentences[0] and not first.is_last
        assert asked <= 2 < len(sentences)  # the tail is not synthesised yet
        assert first.duration_s < whole.duration_s / 3
        rest = list(stream)
        assert [c.text for c in rest] == sentences[1:] and rest[-1].is_last
        assert sum(c.duration_s for c in [first, *rest]) == pytest.approx(whole.duration_s, rel=0.02)
        # A caller who talks over the bot: closing the stream stops the remaining synthesis.
        before = synth.engine.counts()["submitted"]
        interrupted = synth.stream(text, "en", TELEPHONE_PCM16)
        next(interrupted)
        interrupted.close()
        assert synth.engine.counts()["submitted"] - before <= 2


def test_mandarin_streams_sentence_by_sentence(synth: Synthesizer) -> None:
    chunks = list(synth.stream(ZH_TEXTS[1] + ZH_TEXTS[0], "zh", TELEPHONE_MULAW))
    assert [c.text for c in chunks] == [ZH_TEXTS[1], ZH_TEXTS[0]]
    assert all(c.encoding == "mulaw" and c.sample_rate == 8000 and c.duration_s > 0.8 for c in chunks)


def test_the_engine_survives_its_process_dying() -> None:
    engine = EspeakEngine()
    try:
        first = engine.synthesize("Before the crash.", "gmw/en-us", 165, 1.0)
        proc = engine._workers[0].proc
        assert proc is not None
        proc.kill()
        proc.wait()
        after = engine.synthesize("After the crash.", "gmw/en-us", 165, 1.0)
        assert len(after) == pytest.approx(len(first), rel=0.2)
        assert engine.counts()["restarts"] == 1
    finally:
        engine.close()


def test_a_missing_voice_is_reported_with_what_to_do() -> None:
    with Synthesizer(TtsOptions(engines=ESPEAK, voices={"en": "gmw/en-us", "zh": "no-such-voice"})) as synth:
        with pytest.raises(ValueError, match="list-voices"):
            synth.start()
        with pytest.raises(TtsEngineError, match="no-such-voice"):
            synth.synthesize("你好。", "zh")
        assert synth.synthesize("Still speaking English.", "en").duration_s > 1.0


def test_every_rate_change_is_applied(synth: Synthesizer) -> None:
    """pyttsx3 drops a rate change that meets espeak still busy; each request must get its rate."""
    text = EN_TEXTS[1]
    slow = Synthesizer(dataclasses.replace(synth.options, rate_wpm=120), engine=synth.engine)
    fast = Synthesizer(dataclasses.replace(synth.options, rate_wpm=240), engine=synth.engine)
    durations = [
        (s.synthesize(text, "en").duration_s, s.synthesize(ZH_TEXTS[1], "zh").duration_s)
        for s in (slow, fast) * 3
    ]
    for (slow_en, slow_zh), (fast_en, fast_zh) in zip(durations[::2], durations[1::2], strict=True):
        assert slow_en > 1.5 * fast_en and slow_zh > 1.3 * fast_zh
    with pytest.raises(ValueError, match="80 to 450"):
        TtsOptions(rate_wpm=1000)


def test_every_mandarin_prompt_and_answer_is_read_as_mandarin() -> None:
    """espeak-ng switches to English for what its Mandarin voice cannot read ('(en)' in its
    phoneme output); with 'sit/cmn' that is most characters. Our voice reads them all."""
    import shutil
    import subprocess

    from tts.bench import ANSWERS
    from tts.prompts import PROMPTS, prompt_fields
    from tts.text import chunk_text

    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is not installed (scripts/bootstrap.sh installs it)"
    voice = TtsOptions().voices["zh"]
    values = {
        "n": 3,
        "topic": "供水",
        "reference": "204518",
        "number": "13812345678",
        "minutes": 3,
        "a": "居民用水",
        "b": "企业用水",
        "where": "朝阳区",
        "what": "停水",
        "fix_by": "18点",
        "status": "正在处理",
        "due": "预计明天18点前办结。",
    }
    texts = [p["zh"].format(**{f: values[f] for f in prompt_fields(k)}) for k, p in PROMPTS.items()]
    for text in [*texts, *ANSWERS["zh"], "请立刻拨打110。"]:
        spoken = " ".join(chunk_text(text, "zh", 30))
        phonemes = subprocess.run(
            [espeak, "-q", "-x", "-v", voice, spoken], capture_output=True, text=True, check=True
        ).stdout
        assert phonemes.strip() and "(en)" not in phonemes, (text, phonemes)
    spelled = subprocess.run(
        [espeak, "-q", "-x", "-v", "sit/cmn", "您好，欢迎致电市民服务热线"], capture_output=True, text=True
    ).stdout
    assert "(en)" in spelled  # the check can tell the two voices apart
