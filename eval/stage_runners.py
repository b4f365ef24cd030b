"""One runner per task kind: load the stage, score the dataset, return metrics, rows and plots.

Each calls the same scoring functions the per-stage commands print from (eval.asr_bench,
eval.nlu_eval, eval.clinc150, eval.kb_eval, eval.e2e_scenarios). Heavy imports stay inside.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eval.runner import StageOutput
from eval.tasks import TaskSpec

Log = Callable[[str], None]


def _bar(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="item", leave=False, dynamic_ncols=True)


def load_asr() -> tuple[Any, Any]:
    """The configured Whisper model wrapped in a decoder, and the stage options."""
    from asr.decoder import WhisperDecoder
    from asr.options import options_from_settings
    from core.settings import get_settings
    from models.whisper import load_whisper

    s = get_settings()
    options = options_from_settings(s)
    model = load_whisper(s.asr_model, s.cache_dir, s.device, s.compute_type, s.cpu_threads)
    return WhisperDecoder(model, options), options


def run_asr(spec: TaskSpec, folder: Path, log: Log) -> StageOutput:
    from eval.asr_bench import read_manifest, run_bench
    from eval.metrics import char_errors, corpus, word_errors
    from eval.plots import latency_histogram_png

    manifest = spec.dataset
    details: dict[str, Any] = {}
    if spec.derived == "telephone":
        from eval.telephone import DESCRIPTION, derive_manifest

        manifest = derive_manifest(manifest, folder / "derived-clips")
        details["derived"] = DESCRIPTION
        log(f"derived telephone copies in {manifest.parent}")
    speed = float(spec.options.get("stream_speed", 1.0))
    norm_en = spec.normaliser or "basic"
    norm_zh = str(spec.options.get("normaliser_zh", "zh"))
    decoder, options = load_asr()
    bar = _bar(len(read_manifest(manifest)), spec.name)
    results, summary = run_bench(decoder, options, manifest, speed=speed, progress=lambda r: bar.update(1))
    bar.close()

    def errors(lang: str, ref: str, hyp: str) -> Any:
        return char_errors(ref, hyp, norm_zh) if lang == "zh" else word_errors(ref, hyp, norm_en)

    batch = [errors(r.lang, r.reference, r.batch_text) for r in results]
    stream = [errors(r.lang, r.reference, r.stream_text) for r in results]
    metrics = dict(summary)
    for lang in sorted({r.lang for r in results}):
        key = "cer" if lang == "zh" else "wer"
        idx = [i for i, r in enumerate(results) if r.lang == lang]
        metrics[f"{key}_{lang}"] = round(corpus(batch[i] for i in idx).rate, 4)
        metrics[f"stream_{key}_{lang}"] = round(corpus(stream[i] for i in idx).rate, 4)
        metrics[f"clips_{lang}"] = len(idx)
    metrics["normaliser_en"], metrics["normaliser_zh"] = norm_en, norm_zh
    if speed <= 0:  # fed as fast as possible: wall-clock latencies mean nothing
        for k in [k for k in metrics if "latency" in k or "first_partial" in k or "speech_started" in k]:
            metrics[k] = None
    rows = [
        {
            "clip": Path(r.file).name,
            "lang": r.lang,
            "dur_s": round(r.duration_s, 1),
            "err": round(e.rate, 4),
            "stream_err": round(s.rate, 4),
            "rtf": round(r.batch_compute_s / r.duration_s, 3) if r.duration_s else None,
            "reference": r.reference,
            "hypothesis": r.batch_text,
        }
        for r, e, s in zip(results, batch, stream, strict=True)
    ]
    plots = {}
    if speed > 0:
        lat = [x for r in results for x in r.final_latencies_s]
        plots["latency_histogram"] = latency_histogram_png(
            lat, folder / "latency_histogram.png", f"{spec.name}: streaming final latency"
        )
    return StageOutput(metrics, rows, plots, details)


def run_nlu(spec: TaskSpec, folder: Path, log: Log) -> StageOutput:
    import json

    from eval.nlu_eval import evaluate
    from eval.plots import confusion_png
    from nlu import IntentClassifier
    from nlu.train import load_jsonl

    rows = load_jsonl(list(spec.datasets))
    model = spec.options.get("model")
    classifier = IntentClassifier.load(Path(model) if model else None)
    log(f"model {classifier.model_dir} ({classifier.meta['encoder']}), {len(rows)} rows")
    ev = evaluate(classifier, rows)
    metrics = {k: v for k, v in ev.flat().items() if k != "per_class"}
    metrics["model"], metrics["encoder"] = str(classifier.model_dir), classifier.meta["encoder"]
    plots = {}
    if ev.confusion:
        plots["confusion"] = confusion_png(
            np.array(ev.confusion), ev.confusion_labels, folder / "confusion.png", f"{spec.name}: labels"
        )
    (folder / "errors.jsonl").write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in ev.errors), encoding="utf-8"
    )
    table = [
        {"class": c.label, "precision": c.precision, "recall": c.recall, "f1": c.f1, "support": c.support}
        for c in ev.per_class
    ]
    return StageOutput(metrics, table, plots, {"errors": len(ev.errors)}, raw=(ev, classifier))


def run_clinc150(spec: TaskSpec, folder: Path, log: Log) -> StageOutput:
    from core.settings import get_settings
    from eval import clinc150

    s = get_settings()
    encoder = str(spec.options.get("encoder") or s.resolved_nlu_encoder())
    log(f"CLINC150 with {encoder} (embeddings cached under {s.cache_dir})")
    res = clinc150.run(
        spec.dataset, encoder, s.data_dir / "bench" / "clinc150-model", s.cache_dir, s.cpu_threads
    )
    metrics = clinc150.as_dict(res)
    targets = metrics.pop("targets")
    plots = {"scores": _bar_png(metrics, targets, folder / "scores.png", spec.name)}
    return StageOutput(metrics, [], plots, {"targets": targets})


def _bar_png(metrics: dict[str, Any], targets: dict[str, float], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["in_scope_accuracy", "argmax_in_scope_accuracy", "oos_recall", "oos_precision", "accuracy"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.barh(names, [metrics[n] for n in names], color="#4477aa")
    for i, n in enumerate(names):
        if n in targets:
            ax.plot([targets[n]] * 2, [i - 0.4, i + 0.4], color="red")
    ax.set_xlim(0, 1)
    ax.set_title(f"{title} (red: target)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_kb(spec: TaskSpec, folder: Path, log: Log) -> StageOutput:
    from core.settings import get_settings
    from eval.kb_eval import load_queries, outcome_rows, plot_curve, run_queries, score
    from pipeline.stages import open_knowledge_base

    kb_path = spec.options.get("kb")
    base = open_knowledge_base(
        get_settings(), Path(kb_path) if kb_path else None, spec.options.get("encoder"), persisted=False
    )
    question_lang = spec.options.get("question_lang")
    if question_lang:  # only the KB questions written in this language: cross-lingual retrieval
        from eval.kb_eval import restrict_questions
        from kb import KnowledgeBase

        base = KnowledgeBase.from_entries(
            restrict_questions(base.entries(), question_lang), base.encoder, base.options
        )
    queries = [q for p in spec.datasets for q in load_queries(p)]
    threshold = float(spec.options.get("threshold", base.threshold))
    results = run_queries(base, queries)
    report = score(results, threshold)
    with (folder / "answers.jsonl").open("w", encoding="utf-8") as f:  # every query's outcome
        for row in outcome_rows(results, threshold):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    figures = report.to_json()
    figures.pop("curve")
    by_lang = figures.pop("by_lang")
    metrics = {**figures, "encoder": base.encoder.name, "kb_entries": len(base)}
    for lang, sub in by_lang.items():
        for k, v in sub.items():
            metrics[f"{k}_{lang}"] = v
    plots = {"answer_rate_curve": folder / "answer_rate_curve.png"}
    plot_curve(report, plots["answer_rate_curve"], f"{spec.name} ({base.encoder.name})")
    rows = [{"lang": lang, **{k: round(v, 4) for k, v in sub.items()}} for lang, sub in by_lang.items()]
    return StageOutput(metrics, rows, plots, raw=(report, base))


def run_e2e(spec: TaskSpec, folder: Path, log: Log) -> StageOutput:
    from core.settings import get_settings
    from eval.e2e_scenarios import result_rows, run_scenarios
    from eval.plots import confusion_png, latency_histogram_png
    from eval.scenarios import ACTIONS, load_scenarios, summarise

    scenarios = [s for p in spec.datasets for s in load_scenarios(p)]
    only = spec.options.get("languages")
    if only:
        scenarios = [s for s in scenarios if s.language in only]
    limit = spec.options.get("limit")
    if limit:
        scenarios = scenarios[: int(limit)]
    log(f"{len(scenarios)} scenario calls through the live service")
    bar = _bar(len(scenarios), spec.name)
    results = run_scenarios(
        get_settings(),
        scenarios,
        realtime=bool(spec.options.get("realtime", True)),
        progress=lambda r: bar.update(1),
        text_turns=str(spec.options.get("text_turns", "speak")),
        line=str(spec.options.get("line", "wideband")),
    )
    bar.close()
    metrics = summarise(results)
    v2v = [o.voice_to_voice_s for r in results for o in r.outcomes if o.voice_to_voice_s is not None]
    plots = {
        "latency_histogram": latency_histogram_png(
            v2v,
            folder / "latency_histogram.png",
            "voice-to-voice",
            "seconds (last caller frame -> bot audio)",
        )
    }
    pairs = [
        ("/".join(t.expect.actions), o.action or "none")
        for r in results
        for t, o in zip(r.scenario.turns, r.outcomes, strict=False)
        if t.expect and t.expect.actions
    ]
    if pairs:
        labels = sorted({a for p in pairs for a in p}, key=lambda a: (a not in ACTIONS, a))
        index = {a: i for i, a in enumerate(labels)}
        matrix = np.zeros((len(labels), len(labels)), dtype=int)
        for g, p in pairs:
            matrix[index[g], index[p]] += 1
        plots["confusion"] = confusion_png(
            matrix, labels, folder / "confusion.png", "expected vs taken action"
        )
    return StageOutput(metrics, result_rows(results), plots)


def run_emergency(spec: TaskSpec, folder: Path, log: Log) -> StageOutput:
    import json

    from eval.emergency_eval import category_table, evaluate, load_items
    from eval.plots import rates_png
    from nlu import IntentClassifier

    items = load_items(list(spec.datasets))
    model = spec.options.get("model")
    classifier = IntentClassifier.load(Path(model) if model else None)
    log(f"model {classifier.model_dir}, {len(items)} rows; semantic layer {classifier.bank is not None}")
    ev = evaluate(classifier, items)
    metrics = ev.flat()
    for m in spec.metrics:  # a slice your data does not have (no 'variant' field, one language)
        metrics.setdefault(m.name, None)
    if classifier.bank is not None:
        metrics.update({f"bank_{k}": v for k, v in classifier.bank.loo.items()})
    for name, rows in (("misses", ev.misses), ("false_alarms", ev.false_alarms)):
        (folder / f"{name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    table = category_table(ev)
    plots = {}
    recall_rows = [r for r in table if r["measure"] == "recall"]
    if recall_rows:
        plots["recall_by_category"] = rates_png(
            {r["category"]: r["value"] for r in recall_rows},
            folder / "recall_by_category.png",
            f"{spec.name}: recall by category",
            "recall",
        )
    return StageOutput(
        metrics, table, plots, {"misses": len(ev.misses), "false_alarms": len(ev.false_alarms)}, raw=ev
    )


RUNNERS: dict[str, Callable[[TaskSpec, Path, Log], StageOutput]] = {
    "emergency": run_emergency,
    "asr": run_asr,
    "nlu": run_nlu,
    "clinc150": run_clinc150,
    "kb": run_kb,
    "e2e": run_e2e,
}
