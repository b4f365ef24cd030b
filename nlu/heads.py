"""Linear classification heads on sentence embeddings: training, calibration, ONNX.

Each head is a multinomial logistic regression (scikit-learn) whose logits are divided by a
temperature fitted on validation data (so its probabilities are calibrated), exported as one ONNX
graph (MatMul + Add + Softmax per head) and run with onnxruntime at inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class HeadOptions:
    """How a head is fitted."""

    c: float = 10.0
    """Inverse L2 regularisation strength of the logistic regression (embeddings are unit length)."""
    max_iter: int = 300
    """lbfgs iterations; CLINC150 converges well within this."""
    class_weight: str | None = "balanced"
    """'balanced' weighs rare classes (emergency, out-of-scope) up; None for plain."""


@dataclass
class LinearHead:
    name: str
    labels: list[str]
    weight: np.ndarray  # (n_classes, dim), already divided by the temperature
    bias: np.ndarray  # (n_classes,)
    temperature: float = 1.0

    def probs(self, x: np.ndarray) -> np.ndarray:
        return softmax(x @ self.weight.T + self.bias)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_head(name: str, x: np.ndarray, y: list[str], options: HeadOptions) -> LinearHead:
    from sklearn.linear_model import LogisticRegression

    labels = sorted(set(y))
    if len(labels) < 2:
        raise ValueError(f"head {name!r} needs at least two classes in the training data, got {labels}")
    index = {label: i for i, label in enumerate(labels)}
    target = np.array([index[v] for v in y])
    model = LogisticRegression(C=options.c, max_iter=options.max_iter, class_weight=options.class_weight)
    model.fit(x, target)
    weight = model.coef_.astype(np.float32)
    bias = model.intercept_.astype(np.float32)
    if len(labels) == 2:  # sklearn keeps one row for binary problems; make it a two-way softmax
        weight = np.vstack([-weight / 2, weight / 2])
        bias = np.array([-bias[0] / 2, bias[0] / 2], np.float32)
    return LinearHead(name, labels, weight, bias)


def calibrate(head: LinearHead, x: np.ndarray, y: list[str]) -> LinearHead:
    """Temperature scaling: the T minimising validation negative log-likelihood, folded into W and b."""
    index = {label: i for i, label in enumerate(head.labels)}
    keep = [i for i, v in enumerate(y) if v in index]
    if len(keep) < 5:
        return head
    logits = x[keep] @ head.weight.T + head.bias
    target = np.array([index[y[i]] for i in keep])
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.05), np.log(20.0), 120)):
        p = softmax(logits / t)
        nll = -float(np.mean(np.log(p[np.arange(len(target)), target] + 1e-12)))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return LinearHead(head.name, head.labels, head.weight / best_t, head.bias / best_t, best_t)


def choose_oos_threshold(
    in_scope_max: np.ndarray, in_scope_correct: np.ndarray, oos_max: np.ndarray, min_recall: float = 0.85
) -> float:
    """The confidence threshold below which an utterance is out of scope, chosen on validation data.

    ``in_scope_max``: the top in-scope probability of in-scope validation rows, with
    ``in_scope_correct`` whether their argmax was right; ``oos_max``: the same score on
    out-of-scope rows (0 where the oos class itself won). Among thresholds whose out-of-scope recall
    reaches ``min_recall``, the one with the best in-scope accuracy; if none does, the one
    maximising (in-scope accuracy + out-of-scope recall) / 2.
    """
    if len(oos_max) == 0 or len(in_scope_max) == 0:
        return 0.0
    candidates = np.unique(np.concatenate([[0.0], np.round(in_scope_max, 4), np.round(oos_max, 4) + 1e-4]))
    acc = np.array([np.mean(in_scope_correct & (in_scope_max >= t)) for t in candidates])
    rec = np.array([np.mean(oos_max < t) for t in candidates])
    ok = rec >= min_recall
    best = int(np.flatnonzero(ok)[np.argmax(acc[ok])]) if ok.any() else int(np.argmax((acc + rec) / 2))
    return float(candidates[best])


def choose_recall_threshold(
    scores: np.ndarray,
    positive: np.ndarray,
    ceiling: float = 0.5,
    beta: float = 2.0,
    max_false_alarm: float = 1.0,
) -> float:
    """For emergencies recall comes first: the threshold (<= ceiling) maximising F-beta (beta=2
    weighs recall four times precision) on validation data, among those that flag at most
    ``max_false_alarm`` of the non-emergencies (a line that cries wolf is a line agents stop trusting)."""
    if not positive.any():
        return ceiling
    negatives = max(1, int((~positive).sum()))
    best_t, best = ceiling, -1.0
    for t in np.unique(np.concatenate([np.round(scores, 4), [ceiling]])):
        if t > ceiling or t <= 0:
            continue
        flagged = scores >= t
        if float(np.sum(flagged & ~positive)) / negatives > max_false_alarm and t < ceiling:
            continue
        tp = float(np.sum(flagged & positive))
        prec = tp / max(1.0, float(flagged.sum()))
        rec = tp / float(positive.sum())
        f = (1 + beta**2) * prec * rec / max(1e-9, beta**2 * prec + rec)
        if f > best + 1e-9:
            best_t, best = float(t), f
    return best_t


def export_onnx(heads: list[LinearHead], dim: int, path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, outputs = [], [], []
    for h in heads:
        inits.append(numpy_helper.from_array(h.weight.T.astype(np.float32).copy(), f"{h.name}_W"))
        inits.append(numpy_helper.from_array(h.bias.astype(np.float32), f"{h.name}_b"))
        nodes.append(helper.make_node("MatMul", ["embedding", f"{h.name}_W"], [f"{h.name}_mm"]))
        nodes.append(helper.make_node("Add", [f"{h.name}_mm", f"{h.name}_b"], [f"{h.name}_logits"]))
        nodes.append(helper.make_node("Softmax", [f"{h.name}_logits"], [f"{h.name}_probs"], axis=1))
        outputs.append(
            helper.make_tensor_value_info(f"{h.name}_probs", TensorProto.FLOAT, ["n", len(h.labels)])
        )
    graph = helper.make_graph(
        nodes,
        "triage_nlu_heads",
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", dim])],
        outputs,
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="hotline-triage"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


class OnnxHeads:
    """The exported heads under onnxruntime: embedding rows in, one probability matrix per head out."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.names = [o.name.removesuffix("_probs") for o in self._session.get_outputs()]

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out = self._session.run(None, {"embedding": np.ascontiguousarray(x, dtype=np.float32)})
        return {name: np.asarray(arr) for name, arr in zip(self.names, out, strict=True)}
