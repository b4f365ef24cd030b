"""Confidence: features of a retrieved entry for a query, and a logistic calibration over them.

The same calibrated probability ranks the fused candidates (a learned mix of dense and lexical)
and decides whether the bot answers. Features are chosen to be comparable across queries and
encoders: the dense similarity is also read against the query's own cohort baseline (its mean and
spread of similarity to fixed unrelated sentences), and BM25 as the share of the query's weight
matched. Weights and the answer threshold are fitted per encoder on a development split
(`triage kb calibrate`), shipped in kb/data/calibration.json; an encoder without its own fit uses
the '*' fit, which only looks at the scale-free features.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

FEATURES = ("mix", "margin_mix", "cos", "lex")
SCALE_FREE = ("mix", "margin_mix", "lex")


@dataclass(frozen=True)
class Calibration:
    """Candidates rank by mix = z + lex_weight * lex; p(correct) = sigmoid(bias + sum(weights[f] * f)),
    times ``gives`` when present (0 for a candidate whose answer lacks what the question asks for,
    kb/answer_type.py)."""

    encoder: str
    weights: dict[str, float]
    bias: float
    threshold: float  # answer when p >= threshold
    lex_weight: float = 2.0
    note: str = ""
    tie_margin: float = 0.0
    """A top candidate ahead of the runner-up by less than this is a tie: never answered (its
    probability is 0), so the bot asks "X or Y?" or hands on. Self-calibrated KBs learn it."""

    def probability(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        logit = np.full_like(feats["mix"], self.bias, dtype=np.float64)
        for name, w in self.weights.items():
            logit += w * feats[name]
        prob = 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))
        if self.tie_margin > 0:  # only the top candidate has a positive margin
            prob = np.where((feats["margin_mix"] > 0) & (feats["margin_mix"] < self.tie_margin), 0.0, prob)
        return prob * feats["gives"] if "gives" in feats else prob


_DEFAULT = Calibration(
    encoder="*",
    weights={"mix": 1.0, "margin_mix": 1.0, "lex": 1.0},
    bias=-8.0,
    threshold=0.5,
    note="hand-set fallback; run `triage kb calibrate` to fit one",
)


def shipped_calibration_path() -> Path:
    return Path(str(resources.files("kb") / "data" / "calibration.json"))


def load_calibrations(path: Path | None = None) -> dict[str, Calibration]:
    path = path or shipped_calibration_path()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {name: Calibration(**{**c, "encoder": name}) for name, c in data.items()}


def calibration_for(encoder_name: str, paths: list[Path] | None = None) -> Calibration:
    """The first fit for this encoder among ``paths`` (then the shipped file), else the '*' fit."""
    found: dict[str, Calibration] = {}
    for path in [*(paths or []), shipped_calibration_path()]:
        for name, cal in load_calibrations(path).items():
            found.setdefault(name, cal)
    return found.get(encoder_name) or found.get("*") or _DEFAULT


def save_calibration(cal: Calibration, path: Path) -> None:
    data = {}
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
    record = asdict(cal)
    data[record.pop("encoder")] = record
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def candidate_features(
    cos: np.ndarray, cohort: np.ndarray, lex: np.ndarray, lex_weight: float
) -> dict[str, np.ndarray]:
    """Features of each candidate of one query.

    cos: dense cosine; cohort: the query's cosines to the cohort sentences; lex: share of the
    query's BM25 weight matched. ``gap`` says how much closer the candidate is than the closest
    unrelated cohort sentence: off-topic queries often sit nearer one of those than any entry.
    """
    sd = max(float(cohort.std()), 1e-3)
    z = (cos - float(cohort.mean())) / sd
    gap = (cos - float(cohort.max())) / sd
    mix = z + lex_weight * lex
    if len(mix) > 1:
        order = np.argsort(-mix)
        best, second = mix[order[0]], mix[order[1]]
        others_best = np.where(np.arange(len(mix)) == order[0], second, best)
        margin = mix - others_best
    else:
        margin = np.full_like(mix, 3.0)  # a lone candidate: no competitor to be confused with
    return {"cos": cos, "z": z, "lex": lex, "mix": mix, "margin_mix": margin, "gap": gap}


def fit_calibration(
    feats: dict[str, np.ndarray], labels: np.ndarray, encoder: str, features: tuple[str, ...] = FEATURES
) -> Calibration:
    """Logistic regression on candidate features (label 1 = the right entry for the query)."""
    from sklearn.linear_model import LogisticRegression

    x = np.stack([feats[f] for f in features], axis=1)
    model = LogisticRegression(C=1.0, class_weight=None, max_iter=1000)
    model.fit(x, labels.astype(int))
    weights = {f: float(w) for f, w in zip(features, model.coef_[0], strict=True)}
    return Calibration(encoder=encoder, weights=weights, bias=float(model.intercept_[0]), threshold=0.5)
