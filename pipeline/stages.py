"""Adapters from the real stages (asr/, nlu/, kb/, tts/) to the narrow views a call session uses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from asr.decoder import WhisperDecoder
from asr.options import AsrOptions, options_from_settings
from asr.scheduler import DecodeScheduler, SchedulerOptions
from asr.streaming import StreamingTranscriber
from core.codec import Encoding
from core.settings import Settings
from pipeline.admission import Admission, auto_capacity
from pipeline.input_limits import limits_from_settings
from pipeline.live_calls import LiveCalls
from pipeline.policy import PolicyConfig, TurnFacts
from pipeline.retention import recordings_dir
from pipeline.session import SessionServices
from pipeline.turns import KnowledgeOption, KnowledgeReply, Understanding
from tts.interface import AUDIO_FORMATS
from tts.prompts import render_prompt
from tts.synthesizer import Synthesizer


class WhisperRecognizers:
    """Makes one StreamingTranscriber per call over the shared, loaded Whisper model."""

    def __init__(self, model: Any, options: AsrOptions, scheduler: SchedulerOptions | None = None) -> None:
        self.model = model
        self.options = options
        # Every call's decodes go through one queue: finals first, finals of several calls batched,
        # partials only with spare capacity (asr/scheduler.py).
        self.scheduler = DecodeScheduler(WhisperDecoder(model, options), scheduler)

    def __call__(self, sample_rate: int, encoding: Encoding) -> StreamingTranscriber:
        return StreamingTranscriber(self.model, self.options, sample_rate, encoding, self.scheduler)


class SynthVoice:
    """The bot's voice in one output format; fixed prompts come from the synthesizer's cache."""

    def __init__(self, synth: Synthesizer, format_name: str) -> None:
        if format_name not in AUDIO_FORMATS:
            raise ValueError(f"Unknown audio format {format_name!r}; use one of {', '.join(AUDIO_FORMATS)}.")
        self.synth = synth
        self.format = AUDIO_FORMATS[format_name]
        self.sample_rate = self.format.sample_rate
        self.encoding = self.format.encoding
        self._prompt_texts: set[str] = set()

    def prompt_text(self, key: str, language: str, **values: Any) -> str:
        text = render_prompt(key, "zh" if language == "zh" else "en", **values)
        if not values:
            self._prompt_texts.add(text)
        return text

    def speak(self, text: str, language: str) -> Iterator[bytes]:
        if text in self._prompt_texts:
            yield self.synth.cached(text, language, self.format).audio
            return
        stream = self.synth.stream(text, language, self.format)
        try:
            for chunk in stream:
                yield chunk.audio
        finally:
            stream.close()  # cancels the sentences not yet synthesised (barge-in)


class ClassifierUnderstander:
    """The intent classifier's result, reduced to what the policy and the agent screen need."""

    def __init__(self, classifier: Any, topic_filter_min: float = 0.8, max_chars: int = 500) -> None:
        self.classifier = classifier
        self.max_chars = max_chars
        self.topic_filter_min = topic_filter_min

    def understand(self, text: str, language: str) -> Understanding:
        # Bounded before the shared encoder: one huge turn must not hold it for every call.
        text = text[: self.max_chars]
        r = self.classifier.predict(text, language)
        main = r.intent or r.topic
        facts = TurnFacts(
            text=text,
            language=r.language,
            topic=r.topic.code if r.topic else None,
            request_type=r.request_type.code if r.request_type else None,
            intent=r.intent.code if r.intent else None,
            urgency=r.urgency,
            confidence=main.confidence if main else 0.0,
            out_of_scope=r.out_of_scope,
            emergency=r.emergency.flagged,
            emergency_reason=r.emergency.reason if r.emergency.flagged else "",
        )
        labels = {}
        if r.topic:
            labels["topic"] = r.topic.label(r.language)
        if r.request_type:
            labels["request_type"] = r.request_type.label(r.language)
        return Understanding(facts, asdict(r.details), labels)


class KbKnowledge:
    """The best knowledge-base match with its calibrated confidence; the policy applies the threshold."""

    def __init__(self, kb: Any, max_chars: int = 500) -> None:
        self.kb = kb
        self.max_chars = max_chars

    @property
    def threshold(self) -> float:
        return float(self.kb.threshold)

    def lookup(self, text: str, language: str, topic: str | None) -> KnowledgeReply | None:
        from kb.narrowing import choose

        choice = choose(self.kb, text[: self.max_chars], language, topic)  # the shared encoder, bounded
        if choice.top is None:
            return None
        top = choice.top
        options: tuple[KnowledgeOption, ...] = ()
        if choice.action == "narrow":
            options = tuple(KnowledgeOption(o.entry_id, o.label, o.answer, o.keys) for o in choice.options)
        return KnowledgeReply(top.entry_id, top.answer, float(choice.confidence), options, choice.lacks)


def open_knowledge_base(
    settings: Settings, kb_path: Path | None = None, encoder: str | None = None, persisted: bool = True
) -> Any:
    """The configured knowledge base (persisted index under settings.kb_index_dir)."""
    from kb import KbOptions, KnowledgeBase

    index_dir = settings.resolved_kb_index_dir()
    options = KbOptions(
        answer_threshold=settings.kb_answer_threshold,
        calibration_paths=(index_dir / "calibration.json",),
        self_calibrate=settings.kb_self_calibrate,
        target_precision=settings.kb_target_precision,
        narrow_target_precision=settings.kb_narrow_target_precision,
        unanswerable_share=settings.kb_unanswerable_share,
        answer_weight=settings.kb_answer_weight,
    )
    path = kb_path or settings.kb_path
    enc = encoder or settings.resolved_kb_encoder()
    if persisted:
        return KnowledgeBase.open(path, enc, index_dir=index_dir, options=options)
    return KnowledgeBase.from_file(path, enc, options)


def build_session_services(
    settings: Settings, loaded: dict[str, Any], store: Any, bus: Any
) -> SessionServices:
    """Everything a call needs, from the models the runtime loaded; names what is missing."""
    missing = [role for role in ("asr", "nlu", "kb", "tts") if role not in loaded]
    if missing:
        raise RuntimeError(f"calls cannot be taken: {', '.join(missing)} did not load (see /health)")
    knowledge = KbKnowledge(loaded["kb"], max_chars=settings.max_text_turn_chars)
    synth = loaded["tts"]
    return SessionServices(
        store=store,
        bus=bus,
        recognizer_factory=WhisperRecognizers(
            loaded["asr"],
            options_from_settings(settings),
            SchedulerOptions(
                max_batch=settings.asr_max_batch,
                loaded_beam_size=settings.asr_loaded_beam_size or None,
                loaded_window_s=settings.asr_loaded_window_s or None,
                crowded_window_s=settings.asr_crowded_window_s or None,
            ),
        ),
        understander=ClassifierUnderstander(loaded["nlu"], max_chars=settings.max_text_turn_chars),
        knowledge=knowledge,
        voice_for=lambda name: SynthVoice(synth, name),
        recordings_dir=recordings_dir(settings),
        policy=PolicyConfig(kb_threshold=knowledge.threshold),
        silence_timeout_s=settings.silence_timeout_s,
        waiting_announce_s=settings.waiting_announce_s,
        admission=Admission(settings.max_bot_calls or auto_capacity()),
        live_calls=LiveCalls(),
        partial_save_s=settings.partial_save_s,
        limits=limits_from_settings(settings),
    )


def warm_up(services: SessionServices) -> None:
    """Run each stage once before the first caller: first inferences pay lazy loads and caches
    (the classifier's first prediction alone takes ~0.8 s), which a caller must not wait for."""
    for text, lang in (("我家停电了，什么时候来电", "zh"), ("How can I pay my water bill?", "en")):
        understanding = services.understander.understand(text, lang)
        services.knowledge.lookup(text, lang, understanding.facts.topic)
    synth = services.voice_for("pcm16-16k")
    if isinstance(synth, SynthVoice):
        synth.synth.warm_prompts([AUDIO_FORMATS[name] for name in ("pcm16-16k", "pcm16-8k", "mulaw-8k")])
