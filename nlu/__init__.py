"""Understanding the caller: intent, urgency, out-of-scope and details, in Mandarin and English.

``IntentClassifier.load(model_dir).predict(text, lang=None) -> NluResult``.
"""

from nlu.classifier import ClassifierOptions, IntentClassifier
from nlu.result import Details, EmergencyDecision, Extracted, NluResult, RuleHit, Scored

__all__ = [
    "ClassifierOptions",
    "Details",
    "EmergencyDecision",
    "Extracted",
    "IntentClassifier",
    "NluResult",
    "RuleHit",
    "Scored",
]
