"""The understanding stage: one class, ``IntentClassifier``, from transcript text to ``NluResult``.

Encoder (numpy / C) -> ONNX heads (onnxruntime) -> calibrated probabilities, the out-of-scope
decision against the threshold chosen on validation data, the emergency decision (rule layer
plus the urgency head), and the details an agent needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.encoders import SentenceEncoder, load_encoder
from models.errors import ModelUnavailableError
from nlu.details import extract_details
from nlu.heads import OnnxHeads
from nlu.result import EmergencyDecision, NluResult, RuleHit, Scored
from nlu.rules import EmergencyRules, live_hits, looks_chinese
from nlu.semantic import DEFAULT_BANK, EmergencyBank, SemanticMatch
from nlu.taxonomy import Taxonomy
from nlu.train import in_scope_scores

STRICT_MODEL_BAR = 1.01
"""When the rules found only negated, past or figurative mentions, the model alone may flag an emergency
only above this: above 1, a veto. Sentence embeddings barely see negation ("没有着火" sits next to
"着火了"), so the rule's reading of the context wins."""


@dataclass(frozen=True)
class ClassifierOptions:
    device: str = "cpu"
    threads: int = 2
    """Encoder threads; the ONNX heads are tiny and run on one."""
    top_k: int = 3
    rules_path: Path | None = None
    """Emergency rules YAML; None uses <model_dir>/rules.yaml if present, else the shipped nlu/rules.yaml."""
    semantic: bool = True
    """Run the semantic emergency layer (nlu/semantic.py) beside the rules."""
    bank_path: Path | None = None
    """Emergency bank YAML; None uses <model_dir>/emergency_bank.yaml if present, else the shipped one."""
    cache_dir: Path | None = None
    """Where the bank's embeddings are cached (encoded once per encoder and bank text)."""


class IntentClassifier:
    def __init__(self, model_dir: Path, encoder: SentenceEncoder, options: ClassifierOptions) -> None:
        self.model_dir = Path(model_dir)
        self.meta = json.loads((self.model_dir / "meta.json").read_text(encoding="utf-8"))
        self.encoder = encoder
        if encoder.dim != self.meta["dim"]:
            raise ModelUnavailableError(
                f"{model_dir} was trained on a {self.meta['dim']}-dim encoder ({self.meta['encoder']}), "
                f"got {encoder.name} with {encoder.dim}; retrain with `triage nlu train`."
            )
        self.heads = OnnxHeads(self.model_dir / "heads.onnx", threads=1)
        tax = self.model_dir / "taxonomy.yaml"
        self.taxonomy = Taxonomy.load(tax if tax.is_file() else None)
        rules = options.rules_path or (self.model_dir / "rules.yaml")
        self.rules = EmergencyRules.load(rules if Path(rules).is_file() else None)
        self.bank: EmergencyBank | None = None
        if options.semantic:
            bank = options.bank_path or (self.model_dir / "emergency_bank.yaml")
            self.bank = EmergencyBank.build(
                encoder,
                bank if Path(bank).is_file() else DEFAULT_BANK,
                options.cache_dir,
                categorise=self._category_of,
            )
        self.options = options
        self.oos_threshold = float(self.meta["oos_threshold"])
        self.emergency_threshold = float(self.meta["emergency_threshold"])
        self.labels: dict[str, list[str]] = self.meta["heads"]

    def _category_of(self, text: str) -> str:
        """The rule category of a seed emergency phrasing (its first live hit), for explanations."""
        live = live_hits(self.rules.scan(text))
        return live[0].rule if live else "medical_other"

    @classmethod
    def load(
        cls, model_dir: Path | str | None = None, options: ClassifierOptions | None = None
    ) -> IntentClassifier:
        """Load a trained model folder (default: the settings' nlu model dir) and its encoder."""
        from core.settings import get_settings

        s = get_settings()
        if model_dir is None:
            from nlu.default_model import resolve_model_dir

            model_dir = resolve_model_dir(s)
        # The settings' cache folder too when a folder is given: without it every load re-encodes
        # the emergency bank (thousands of phrasings through two encoders, minutes on two cores).
        options = options or ClassifierOptions(device=s.device, threads=s.cpu_threads, cache_dir=s.cache_dir)
        model_dir = Path(model_dir)
        meta = model_dir / "meta.json"
        if not meta.is_file() or not (model_dir / "heads.onnx").is_file():
            raise ModelUnavailableError(
                f"No trained classifier in {model_dir}: run scripts/build-artefacts.sh or "
                f"`triage nlu train --out {model_dir}`."
            )
        spec = json.loads(meta.read_text(encoding="utf-8"))["encoder"]
        return cls(model_dir, load_encoder(spec, options.device, options.threads), options)

    def predict(self, text: str, lang: str | None = None) -> NluResult:
        return self.predict_many([text], [lang])[0]

    def predict_many(self, texts: list[str], langs: list[str | None] | None = None) -> list[NluResult]:
        langs = langs or [None] * len(texts)
        clean = [" ".join(str(t).split()) for t in texts]
        # What the caller said, without a call-taker's opening that a whole-line transcript carries.
        heard = [self.rules.without_dispatcher(t) for t in clean]
        live = [i for i, t in enumerate(heard) if t]
        probs: dict[str, np.ndarray] = {}
        matches: list[SemanticMatch] = []
        if live:
            x = self.encoder.encode_queries([heard[i] for i in live])
            probs = self.heads(x)
            if self.bank is not None:
                matches = self.bank.match_many(x)
        results = []
        row_of = {i: k for k, i in enumerate(live)}
        for i, text in enumerate(clean):
            lang = langs[i] or ("zh" if looks_chinese(text) else "en")
            row = {name: p[row_of[i]] for name, p in probs.items()} if i in row_of else {}
            match = matches[row_of[i]] if matches and i in row_of else None
            results.append(self._result(text, lang, row, match))
        return results

    def _scored(self, code: str, p: float) -> Scored:
        info = self.taxonomy.info(code)
        return Scored(code, info.zh, info.en, round(float(p), 4))

    def _result(
        self, text: str, lang: str, probs: dict[str, np.ndarray], match: SemanticMatch | None = None
    ) -> NluResult:
        hits = self.rules.scan(text) if text else []
        details = extract_details(text)
        if "label" not in probs:  # empty utterance: nothing to classify
            decision = self._emergency(text, hits, 0.0, None)
            return NluResult(
                text,
                lang,
                None,
                None,
                None,
                "emergency" if decision.flagged else "routine",
                1.0,
                not decision.flagged,
                0.0,
                self.oos_threshold,
                decision,
                details,
            )
        labels = self.labels["label"]
        p = probs["label"]
        scores, preds = in_scope_scores(labels, p[None, :])
        score, best = float(scores[0]), preds[0]
        out_of_scope = score < self.oos_threshold
        order = np.argsort(-p)[: self.options.top_k]
        top = tuple(self._scored(labels[j], p[j]) for j in order)
        topic = intent = request_type = None
        if not out_of_scope:
            if best in self.taxonomy.intents:
                intent = self._scored(best, score)
            else:
                topic = self._scored(best, score)
                if "request_type" in probs:
                    rt = probs["request_type"]
                    j = int(rt.argmax())
                    request_type = self._scored(self.labels["request_type"][j], rt[j])

        em_score = 0.0
        urgency, urgency_conf = "routine", 1.0
        if "urgency" in probs:
            ul, up = self.labels["urgency"], probs["urgency"]
            em_score = float(up[ul.index("emergency")]) if "emergency" in ul else 0.0
            rest = [(float(up[j]), ul[j]) for j in range(len(ul)) if ul[j] != "emergency"]
            total = sum(v for v, _ in rest) or 1.0
            conf, urgency = max(rest)
            urgency_conf = conf / total
        decision = self._emergency(text, hits, em_score, match)
        if decision.flagged:
            urgency, urgency_conf = "emergency", max(em_score, 1.0 if decision.source == "rule" else em_score)
            if out_of_scope:  # an emergency is never "not our business": it goes to a person
                out_of_scope = False
        elif intent is not None or out_of_scope:
            urgency = "routine"
        return NluResult(
            text=text,
            language=lang,
            topic=topic,
            request_type=request_type,
            intent=intent,
            urgency=urgency,  # type: ignore[arg-type]
            urgency_confidence=round(urgency_conf, 4),
            out_of_scope=out_of_scope,
            oos_score=round(score, 4),
            oos_threshold=self.oos_threshold,
            emergency=decision,
            details=details,
            top=top,
        )

    def _emergency(
        self, text: str, hits: list[RuleHit], score: float, match: SemanticMatch | None
    ) -> EmergencyDecision:
        live = live_hits(hits)
        t = self.emergency_threshold
        if live:
            names = ", ".join(dict.fromkeys(f"{h.rule} '{h.phrase}'" for h in live))
            rule = self.rules.by_name.get(live[0].rule)
            return EmergencyDecision(
                True,
                "rule",
                f"rule {names}",
                round(score, 4),
                t,
                tuple(hits),
                live[0].rule,
                rule.service if rule else None,
            )
        if hits:
            bar = max(t, STRICT_MODEL_BAR)
            cancelled = "; ".join(f"'{h.phrase}' ({h.suppressed_by})" for h in hits)
            if score >= bar:
                return EmergencyDecision(
                    True,
                    "model",
                    f"model score {score:.2f} >= {bar:.2f} despite cancelled phrases {cancelled}",
                    round(score, 4),
                    bar,
                    tuple(hits),
                )
            return EmergencyDecision(
                False,
                "none",
                f"cancelled phrases {cancelled}; model score {score:.2f} < {bar:.2f}",
                round(score, 4),
                bar,
                tuple(hits),
            )
        past = self.rules.past_context(text)
        if match is not None and match.fired and past is None:
            service = (
                self.rules.by_name[match.category].service if match.category in self.rules.by_name else None
            )
            return EmergencyDecision(
                True,
                "semantic",
                match.reason(),
                round(score, 4),
                t,
                (),
                match.category,
                service,
                match.example,
            )
        if score >= t:
            return EmergencyDecision(True, "model", f"model score {score:.2f} >= {t:.2f}", round(score, 4), t)
        why = f"model score {score:.2f} < {t:.2f}"
        if match is not None:
            why += (
                f"; semantic margin {match.margin:.3f} < {match.threshold:.3f}"
                if not match.fired
                else (f"; semantic {match.category} set aside ({past})")
            )
        return EmergencyDecision(False, "none", why, round(score, 4), t)
