"""Prometheus metrics of the live service (exposed by api/metrics.py)."""

import time

from prometheus_client import Counter, Gauge, Histogram

CALLS = Counter("triage_calls_total", "Calls started.", ["channel"])
ACTIVE_CALLS = Gauge("triage_active_calls", "Calls in progress.")
HANDOFFS = Counter("triage_handoffs_total", "Handoffs to a person, by urgency.", ["urgency"])
DECISIONS = Counter("triage_decisions_total", "Policy decisions, by action.", ["action"])
VOICE_TO_VOICE = Histogram(
    "triage_voice_to_voice_seconds",
    "End of caller speech to the first byte of bot audio.",
    buckets=(0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0),
)
ASR_FINAL_LATENCY = Histogram(
    "triage_asr_final_latency_seconds",
    "End of caller speech to the final transcript.",
    buckets=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0),
)
CALLBACKS = Counter(
    "triage_callbacks_total", "Call-back tasks opened, by urgency and trigger.", ["urgency", "trigger"]
)
BARGE_INS = Counter("triage_barge_ins_total", "Bot playback stopped because the caller spoke.")
BOT_CAPACITY = Gauge("triage_bot_capacity", "Calls the bot serves at once (TRIAGE_MAX_BOT_CALLS or auto).")
BOT_CALLS = Gauge("triage_bot_calls", "Calls the bot is serving now (admitted).")
SATURATED = Gauge("triage_saturated", "1 while the bot is at capacity: new callers wait for a person.")
CALLS_DEFERRED = Counter(
    "triage_calls_deferred_total", "Callers beyond capacity: told the lines are busy, queued for a person."
)
TURN_STAGE = Histogram(
    "triage_turn_stage_seconds",
    "Where a turn's voice-to-voice time goes, by stage: asr (end of speech to the final transcript), "
    "queue (waiting for the call's previous turn), store (records), nlu, kb, decide (policy and its "
    "record), tts (synthesis to the first audio).",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
)


class TurnClock:
    """Laps of one turn from the end of the caller's speech to the bot's first audio."""

    def __init__(self, start: float) -> None:
        self.last = start
        self.laps: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.laps[stage] = self.laps.get(stage, 0.0) + max(0.0, now - self.last)
        self.last = now

    def observe(self) -> None:
        for stage, seconds in self.laps.items():
            TURN_STAGE.labels(stage).observe(seconds)


def stage_totals() -> dict[str, tuple[float, float]]:
    """(count, sum) per stage so far: a benchmark takes the difference over a run."""
    totals: dict[str, tuple[float, float]] = {}
    for metric in TURN_STAGE.collect():
        for sample in metric.samples:
            stage = sample.labels.get("stage", "")
            count, total = totals.get(stage, (0.0, 0.0))
            if sample.name.endswith("_count"):
                count = sample.value
            elif sample.name.endswith("_sum"):
                total = sample.value
            totals[stage] = (count, total)
    return totals
