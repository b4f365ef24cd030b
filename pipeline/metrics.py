"""Prometheus metrics of the live service (exposed by api/metrics.py)."""

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
