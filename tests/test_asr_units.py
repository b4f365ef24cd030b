"""Pure logic of the ASR stage, no model: LocalAgreement, end-pointing, text units, metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from asr.agreement import LocalAgreement
from asr.decoder import Hypothesis, WhisperDecoder
from asr.endpoint import Endpointer
from asr.options import AsrOptions
from asr.text import build_prompt, join_units, split_units, to_simplified
from eval.metrics import EditCounts, cer, char_errors, corpus, wer, word_errors
from eval.normalise import basic, get_normaliser, zh


def _hyp(text: str) -> list[str]:
    return split_units(text)


def test_local_agreement_commits_what_two_hypotheses_share() -> None:
    la = LocalAgreement()
    assert la.update(_hyp("and so my")) == []  # one hypothesis alone commits nothing
    assert la.committed == []
    assert la.tentative == ["and", "so", "my"]
    assert la.update(_hyp("And so my fellow")) == ["And", "so", "my"]  # case does not disagree
    assert la.tentative == ["fellow"]
    assert la.update(_hyp("And so my fellow Americans,")) == ["fellow"]
    assert la.update(_hyp("And so my fellow Americans ask")) == ["Americans"]
    assert join_units(la.committed) == "And so my fellow Americans"


def test_local_agreement_never_changes_committed_words() -> None:
    la = LocalAgreement()
    la.update(_hyp("ask not what"))
    la.update(_hyp("ask not what your"))
    assert la.committed == ["ask", "not", "what"]
    # A hypothesis that rewrites committed words is ignored, and cannot seed agreement either.
    assert la.update(_hyp("asking what your country")) == []
    assert la.committed == ["ask", "not", "what"]
    assert la.update(_hyp("ask not what your country")) == []
    assert la.update(_hyp("ask not what your country can")) == ["your", "country"]
    assert la.committed == ["ask", "not", "what", "your", "country"]


def test_local_agreement_stops_at_the_first_disagreement() -> None:
    la = LocalAgreement()
    la.update(_hyp("what your country can do"))
    assert la.update(_hyp("watch your country can do")) == []
    assert la.update(_hyp("watch your country can do for you")) == ["watch", "your", "country", "can", "do"]


def test_local_agreement_on_mandarin_commits_characters() -> None:
    la = LocalAgreement()
    la.update(_hyp("近几年不当"))
    assert la.update(_hyp("近几年不但我用书")) == ["近", "几", "年", "不"]
    la.reset()
    assert la.committed == [] and la.tentative == []


def _endpointer(**kw: float) -> Endpointer:
    args: dict = dict(threshold=0.5, neg_threshold=0.35, frame_s=0.032, start_frames=2)
    args |= dict(speculative_s=0.192, end_s=0.608) | kw
    return Endpointer(**args)


def _run(ep: Endpointer, probs: list[float]) -> list[tuple[str, float, int]]:
    out: list[tuple[str, float, int]] = []
    for i, p in enumerate(probs):
        ev = ep.update(p)
        if ev is not None:
            out.append((ev.kind, round(ev.t_s, 3), i))
    return out


def test_endpointer_start_pause_end_with_times_of_speech() -> None:
    ep = _endpointer()
    probs = [0.1] * 5 + [0.9] * 20 + [0.1] * 30
    events = _run(ep, probs)
    # Onset is the first speech frame; emitted after 2 frames (64 ms) of speech.
    assert events[0] == ("start", 5 * 0.032, 6)
    # End of speech = end of frame 24; pause after 6 silent frames, end after 19.
    assert events[1] == ("pause", 25 * 0.032, 30)
    assert events[2] == ("end", 25 * 0.032, 43)
    assert len(events) == 3 and not ep.in_utterance


def test_endpointer_ignores_clicks_and_holds_through_the_hysteresis_band() -> None:
    ep = _endpointer()
    assert _run(ep, [0.1, 0.9, 0.1, 0.9, 0.1]) == []  # single-frame clicks never start speech
    ep = _endpointer()
    events = _run(ep, [0.9, 0.9] + [0.4] * 40)  # 0.4: between thresholds, stays speech
    assert [e[0] for e in events] == ["start"]
    assert ep.in_speech


def test_endpointer_resume_after_pause_cancels_the_end() -> None:
    ep = _endpointer()
    probs = [0.9] * 10 + [0.1] * 8 + [0.9] * 3 + [0.1] * 25
    kinds = [e[0] for e in _run(ep, probs)]
    assert kinds == ["start", "pause", "resume", "pause", "end"]


def test_endpointer_short_gap_continues_the_utterance_silently() -> None:
    ep = _endpointer()
    probs = [0.9] * 10 + [0.1] * 3 + [0.9] * 3 + [0.1] * 25
    assert [e[0] for e in _run(ep, probs)] == ["start", "pause", "end"]


def test_units_join_back_to_readable_text() -> None:
    assert split_units("我认为，跑步 OK。") == ["我", "认", "为，", "跑", "步", "OK。"]
    assert join_units(split_units("Call 12345 热线 now")) == "Call 12345 热线 now"
    assert join_units(split_units("And so, my fellow")) == "And so, my fellow"


def test_mandarin_prompt_is_simplified_and_carries_vocabulary() -> None:
    prompt = build_prompt("zh", ("滨海新区", "12345热线"), AsrOptions().zh_prompt)
    assert prompt is not None and "滨海新区" in prompt and "12345热线" in prompt
    assert to_simplified(prompt) == prompt
    assert build_prompt("en", (), "x") is None  # no Chinese nudging an English call
    assert build_prompt("en", ("Binhai New Area", "滨海新区"), "x") == "Binhai New Area."
    assert build_prompt("en", ("滨海新区",), "x") is None
    assert to_simplified("廣州市房地產") == "广州市房地产"


def test_options_from_settings_values() -> None:
    o = AsrOptions.from_values(
        language="", beam_size=3, vocabulary=[" 和平区 ", ""], end_of_speech_ms=150, vad_threshold=0.3
    )
    assert o.language is None and o.beam_size == 3 and o.vocabulary == ("和平区",)
    assert o.speculative_ms <= 150 and o.post_speech_ms <= o.speculative_ms
    assert o.vad_neg_threshold <= 0.3
    with pytest.raises(ValueError):
        AsrOptions(temperatures=())


def test_normalisers_are_named_and_do_what_they_say() -> None:
    assert basic("Ask NOT, what your country’s…") == "ask not what your countrys"
    assert zh("近几年， 不但我用書給女兒") == "近几年不但我用书给女儿"
    assert get_normaliser("zh") is zh
    with pytest.raises(KeyError, match="basic"):
        get_normaliser("nope")


def test_error_counts_are_corpus_level() -> None:
    c = word_errors("IT WAS THE FIRST", "it was a first.")
    assert (c.substitutions, c.hits, c.reference_length) == (1, 3, 4)
    total = corpus([word_errors("a b", "a c"), word_errors("x y z w", "x y z w")])
    assert total.rate == pytest.approx(1 / 6)  # not the mean of 0.5 and 0.0
    assert wer(["a b"], ["a b c"]) == pytest.approx(0.5)
    assert char_errors("广州市房地产", "廣州市佛地產").substitutions == 1
    assert cer(["广州市房地产中介协会分析"], ["广州市佛地产中间协会分析"]) == pytest.approx(2 / 12)
    assert word_errors("", "").rate == 0.0 and word_errors("", "hello").rate == 1.0
    assert word_errors("hello there", "").deletions == 2
    with pytest.raises(ValueError):
        _ = EditCounts(1, normaliser="basic") + EditCounts(1, normaliser="zh", unit="char")


@pytest.mark.parametrize(
    ("text", "repeats"),
    [
        ("And so my fellow Americans. And so my fellow Americans. Ask not!", True),  # seen at 6 s
        ("我家停电了我家停电了，什么时候来电", True),
        ("There is a fire, there is a fire in the kitchen", True),
        ("help me help me help me", False),  # two words: callers do say this
        ("救命救命", False),
        ("The long journey home took a year.", False),
        ("very very very bad", False),
        ("", False),
    ],
)
def test_a_phrase_said_twice_in_a_row_is_caught(text: str, repeats: bool) -> None:
    from asr.decoder import repeats_phrase

    assert repeats_phrase(text) is repeats


class _LoopingDecoder(WhisperDecoder):
    """Scripted decoder: audio holding more than one region loops on digits; one region alone is
    heard right. Each region's samples carry its number as their value."""

    def __init__(self) -> None:  # no model
        self.options = AsrOptions()
        self.calls: list[float] = []

    def decode(self, audio: np.ndarray, **_: Any) -> Hypothesis:
        marks = [int(m) for m in np.unique(np.round(audio[audio > 0] * 10))]
        self.calls.append(len(audio) / 16000)
        text = "1, 2, 3, 4, 5, " + ", ".join(["0"] * 60) if len(marks) > 1 else f"words of region {marks[0]}"
        return Hypothesis(text, "en", 1.0, -0.2, 0.0, 0.0, 0.01)


def test_a_window_that_decodes_to_a_loop_is_decoded_region_by_region(monkeypatch: pytest.MonkeyPatch) -> None:
    import asr.batch
    from asr.batch import BatchTranscriber

    regions = [(0, 16000), (32000, 48000), (64000, 80000)]
    audio = np.zeros(96000, dtype=np.float32)
    for n, (s, e) in enumerate(regions, 1):
        audio[s:e] = n / 10
    monkeypatch.setattr(asr.batch, "speech_regions", lambda *a, **k: regions)
    decoder = _LoopingDecoder()
    transcript = BatchTranscriber(decoder).transcribe(audio)
    assert transcript.text == "words of region 1 words of region 2 words of region 3"
    assert [(s.start_s, s.end_s) for s in transcript.segments] == [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0)]
    assert decoder.calls == [5.0, 1.0, 1.0, 1.0]  # the whole window once, then each region


def test_a_window_that_decodes_cleanly_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import asr.batch
    from asr.batch import BatchTranscriber

    monkeypatch.setattr(asr.batch, "speech_regions", lambda *a, **k: [(0, 16000), (32000, 48000)])
    decoder = _LoopingDecoder()
    audio = np.zeros(64000, dtype=np.float32)
    audio[:16000] = 0.1
    audio[32000:48000] = 0.1  # the same mark: the scripted decoder hears one region's words
    transcript = BatchTranscriber(decoder).transcribe(audio)
    assert transcript.text == "words of region 1" and decoder.calls == [3.0]
