"""`triage kb ...`, `triage eval kb`, `triage bench kb`: manage, search, evaluate, time the KB."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.groups import CommandGroups

if TYPE_CHECKING:
    from kb import KnowledgeBase

KbOpt = Annotated[
    Path | None, typer.Option("--kb", help="Knowledge-base file (.jsonl/.csv/.yaml); default: settings.")
]
BENCHMARK_HELP = (
    "A folder with kb.jsonl + qrels.jsonl (or queries.jsonl), or a set name under shared/benchmarks/faq "
    "(covidfaq_en): evaluates on its KB and its queries."
)
EncoderOpt = Annotated[str | None, typer.Option("--encoder", help="Sentence encoder; default: settings.")]


def _open(kb_path: Path | None, encoder: str | None, persisted: bool = True) -> KnowledgeBase:
    from core.settings import get_settings
    from pipeline.stages import open_knowledge_base

    kb: KnowledgeBase = open_knowledge_base(get_settings(), kb_path, encoder, persisted)
    return kb


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def register(groups: CommandGroups) -> None:
    kb_app, eval_app, bench_app = groups.kb, groups.eval, groups.bench

    @kb_app.command("import")
    def kb_import(
        file: Annotated[Path, typer.Argument(help="Entries to add or update (.jsonl, .csv or .yaml).")],
        kb: KbOpt = None,
        encoder: EncoderOpt = None,
    ) -> None:
        """Add or update entries from FILE in the live knowledge base (a running service sees them)."""
        from kb import KbFormatError, load_entries

        try:
            entries = load_entries(file)
        except KbFormatError as e:
            _fail(str(e))
        base = _open(kb, encoder)
        known = {e.id for e in base.entries()}
        for entry in entries:
            base.upsert(entry)
        updated = sum(e.id in known for e in entries)
        typer.echo(
            f"imported {len(entries)} entries from {file}: {len(entries) - updated} new, {updated} updated; "
            f"the knowledge base now holds {len(base)}"
        )
        from core.settings import get_settings
        from kb import default_kb_path

        source = kb or get_settings().kb_path
        stored = base.calibration_path()
        own = source is not None and source.resolve() != default_kb_path().resolve()
        if own and base.options.self_calibrate and stored is not None:  # fit the changed KB again
            fitted = base.self_calibrate(stored)
            typer.echo(f"self-calibrated: answer threshold {fitted.calibration.threshold:.3f} ({stored})")

    @kb_app.command("export-corrections")
    def kb_export_corrections(
        out: Annotated[Path, typer.Argument(help="JSONL file to write.")],
        as_queries: Annotated[
            bool,
            typer.Option(help="Write {text, answer_id, lang} rows that `triage eval kb --queries` reads."),
        ] = False,
    ) -> None:
        """Write the agents' corrections of bot answers (question, right entry or none) as JSONL."""
        from core.settings import get_settings
        from kb.corrections import CorrectionLog

        log = CorrectionLog(get_settings().resolved_kb_index_dir())
        n = log.export(out, as_queries=as_queries)
        typer.echo(f"wrote {n} corrections from {log.path} to {out}")

    @kb_app.command("index")
    def kb_index(kb: KbOpt = None, encoder: EncoderOpt = None) -> None:
        """Build (or check) the persisted index the service loads at start-up."""
        from core.settings import get_settings

        t0 = time.perf_counter()
        base = _open(kb, encoder)
        index_dir = get_settings().resolved_kb_index_dir()
        typer.echo(
            f"knowledge base: {len(base)} entries, encoder {base.encoder.name}, index {index_dir} "
            f"({time.perf_counter() - t0:.1f} s); answer threshold {base.threshold:.3f}"
        )

    @kb_app.command("export")
    def kb_export(
        out: Annotated[Path, typer.Argument(help="File to write; the suffix picks the format.")],
        kb: KbOpt = None,
        encoder: EncoderOpt = None,
    ) -> None:
        """Write the live knowledge base (with its edits) as JSONL, CSV or YAML."""
        from kb import KbFormatError, save_entries

        base = _open(kb, encoder)
        try:
            save_entries(base.entries(), out)
        except KbFormatError as e:
            _fail(str(e))
        typer.echo(f"wrote {len(base)} entries to {out}")

    @kb_app.command("delete")
    def kb_delete(entry_id: str, kb: KbOpt = None, encoder: EncoderOpt = None) -> None:
        """Remove one entry from the live knowledge base."""
        if not _open(kb, encoder).delete(entry_id):
            _fail(f"no entry with id {entry_id!r}: `triage kb search` shows ids")
        typer.echo(f"deleted {entry_id}")

    @kb_app.command("search")
    def kb_search(
        query: str,
        lang: Annotated[str | None, typer.Option(help="Answer in zh or en; default: the query's.")] = None,
        topic: Annotated[str | None, typer.Option(help="Only entries of this topic id.")] = None,
        k: Annotated[int, typer.Option("-k", help="How many hits.")] = 5,
        kb: KbOpt = None,
        encoder: EncoderOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print hits as JSON.")] = False,
    ) -> None:
        """Search the knowledge base and show what the bot would answer."""
        from dataclasses import asdict

        base = _open(kb, encoder)
        hits = base.search(query, lang=lang, topic=topic, k=k)
        if as_json:
            typer.echo(json.dumps([asdict(h) for h in hits], ensure_ascii=False, indent=2))
            return
        for h in hits:
            mark = "*" if h.confidence >= base.threshold else " "
            lacks = f"  (its answer names no {' or '.join(h.lacks)})" if h.lacks else ""
            found = f"{h.entry_id}  [{'+'.join(h.retrievers)}]  {h.question}"
            typer.echo(f"{mark} {h.confidence:.2f}  {found}{lacks}")
        answer = base.answer(query, lang or (hits[0].answer_lang if hits else "en"), topic)
        said = answer.text if answer else "no answer, hand over"
        typer.echo(f"\nthreshold {base.threshold:.2f}: {said}")

    @kb_app.command("calibrate")
    def kb_calibrate(
        queries: Annotated[
            list[Path] | None,
            typer.Option(
                help="Development queries (never the test set; repeatable): fit on them, not the KB itself."
            ),
        ] = None,
        target_precision: Annotated[float, typer.Option(help="Answered precision to reach.")] = 0.95,
        out: Annotated[
            Path | None, typer.Option(help="With --queries; default: <data_dir>/kb-index.")
        ] = None,
        kb: KbOpt = None,
        encoder: EncoderOpt = None,
        scale_free: Annotated[bool, typer.Option(help="Fit the '*' fallback for other encoders.")] = False,
        corrections: Annotated[
            bool, typer.Option(help="Add agents' corrections (triage kb export-corrections) to the fit.")
        ] = True,
    ) -> None:
        """Fit the answer confidence and threshold on the KB's own entries (held-out phrasings and
        entries; stored beside the index) or on dev queries; prints the precision/answer-rate curve."""
        from core.settings import get_settings
        from eval.kb_eval import calibrate, load_queries
        from kb.autocal import calibrate_kb
        from kb.confidence import save_calibration

        if queries:
            base = _open(kb, encoder, persisted=False)
            dev = [q for path in queries for q in load_queries(path)]
            cal = calibrate(base, dev, target_precision, scale_free=scale_free)
            out = out or get_settings().resolved_kb_index_dir() / "calibration.json"
            save_calibration(cal, out)
            typer.echo(
                f"{cal.encoder}: threshold {cal.threshold:.3f}, lex_weight {cal.lex_weight}; wrote {out}"
            )
            return
        from kb.corrections import CorrectionLog

        base = _open(kb, encoder)
        labelled = []
        if corrections:
            labelled = [
                (c.question, c.entry_id) for c in CorrectionLog(get_settings().resolved_kb_index_dir()).read()
            ]
        fitted = calibrate_kb(base, target_precision, labelled=labelled)
        stored = base.calibration_path()
        if stored is not None:
            from kb.autocal import save_self_calibration

            save_self_calibration(fitted, stored)
        typer.echo(
            f"{len(base)} entries, encoder {base.encoder.name}: {fitted.n_answerable} held-out phrasings "
            f"(answerable), {fitted.n_unanswerable} held-out entries (unanswerable), "
            f"{len(labelled)} agents' corrections"
        )
        typer.echo(f"{'threshold':>10} {'answered':>9} {'precision':>9}")
        step = max(1, len(fitted.curve) // 20)
        for t, rate, prec in fitted.curve[::step]:
            typer.echo(f"{t:10.3f} {rate:9.3f} {prec:9.3f}")
        chosen = fitted.calibration.threshold
        typer.echo(f"chosen threshold {chosen:.3f} for answered precision >= {target_precision}; in {stored}")
        typer.echo(f"tie margin {fitted.calibration.tie_margin:.3f} (a closer runner-up: ask, never answer)")

    @eval_app.command("kb")
    def eval_kb(
        queries: Annotated[
            Path | None, typer.Option(help="JSONL {text, answer_id[, relevant]}; null = no answer.")
        ] = None,
        benchmark: Annotated[str | None, typer.Option(help=BENCHMARK_HELP)] = None,
        with_corrections: Annotated[
            bool, typer.Option(help="Also score agents' corrections (question -> right entry or none).")
        ] = False,
        kb: KbOpt = None,
        encoder: EncoderOpt = None,
        json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures here.")] = None,
        png: Annotated[Path | None, typer.Option(help="Answered precision vs answer rate plot.")] = None,
        question_lang: Annotated[
            str | None, typer.Option(help="Keep only zh or en KB questions (cross-lingual).")
        ] = None,
        out: Annotated[Path, typer.Option("--out", help="Folder for the run folder (eval harness).")] = Path(
            "runs"
        ),
    ) -> None:
        """Recall@1/@5, MRR, answered precision and answer rate at the configured threshold."""
        from eval.kb_eval import QueryFileError, benchmark_files, plot_curve
        from eval.runner import run_task
        from eval.tasks import load_task, with_overrides

        if benchmark:
            try:
                bench_kb, bench_queries = benchmark_files(benchmark)
            except QueryFileError as e:
                _fail(str(e))
            kb, queries = kb or bench_kb, queries or bench_queries
        datasets = [] if queries is None else [queries]
        if with_corrections:
            from core.settings import get_settings
            from kb.corrections import CorrectionLog

            log = CorrectionLog(get_settings().resolved_kb_index_dir())
            if not log.read():
                _fail(f"no corrections yet in {log.path}")
            datasets.append(out / "corrections-queries.jsonl")
            log.export(datasets[-1], as_queries=True)
        if not datasets:
            _fail("give --queries FILE, --benchmark NAME|FOLDER or --with-corrections")
        # The same code path as `triage eval run kb`: the shipped task, pointed at these queries.
        options = {"kb": str(kb) if kb else None, "encoder": encoder, "question_lang": question_lang}
        spec = with_overrides(load_task("kb"), datasets, options)
        result = run_task(spec, out, log=typer.echo)
        report, base = result.output.raw
        typer.echo(f"run folder: {result.folder}")
        figures = report.to_json()
        figures.update(
            encoder=base.encoder.name, kb_entries=len(base), question_lang=question_lang, queries=str(queries)
        )
        curve = figures.pop("curve")
        for key in (
            "recall_at_1",
            "recall_at_5",
            "mrr",
            "answer_precision",
            "answer_rate",
            "answerable_answered",
            "unanswerable_answered",
            "answer_in_caller_lang",
            "narrow_rate",
            "narrow_holds_right",
        ):
            typer.echo(f"{key:24s} {figures[key]:.3f}")
        typer.echo(
            f"{'threshold':24s} {report.threshold:.3f}   ({report.n_queries} queries, "
            f"{report.n_answerable} answerable, encoder {base.encoder.name})"
        )
        for lang, sub in report.by_lang.items():
            typer.echo(f"  {lang}: " + ", ".join(f"{k} {v:.3f}" for k, v in sub.items() if k != "n"))
        png = png or (json_out.with_suffix(".png") if json_out else None)
        if png:
            plot_curve(report, png, f"KB {base.encoder.name}")
            typer.echo(f"curve: {png}")
        if json_out:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps({**figures, "curve": curve}, indent=2, ensure_ascii=False) + "\n")
            typer.echo(f"wrote {json_out}")

    @bench_app.command("kb")
    def bench_kb(
        entries: Annotated[int, typer.Option(help="Synthetic entries in the benchmark KB.")] = 10_000,
        queries: Annotated[int, typer.Option(help="Searches to time.")] = 300,
        encoder: EncoderOpt = None,
        json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures here.")] = None,
    ) -> None:
        """Search latency on a synthetic bilingual KB (index built once, then reused from disk)."""
        _bench(entries, queries, encoder, json_out)


def _bench(n_entries: int, n_queries: int, encoder: str | None, json_out: Path | None) -> None:
    import random

    import numpy as np

    from core.settings import get_settings
    from kb import KnowledgeBase, load_entries, save_entries
    from kb.synthetic import synthetic_entries

    s = get_settings()
    index_dir = s.resolved_kb_index_dir()
    source = index_dir / "bench" / f"synthetic-{n_entries}.jsonl"
    entries = synthetic_entries(n_entries)
    if not source.is_file() or load_entries(source) != entries:
        source.parent.mkdir(parents=True, exist_ok=True)
        save_entries(entries, source)
    t0 = time.perf_counter()
    base = KnowledgeBase.open(source, encoder or s.resolved_kb_encoder(), index_dir=index_dir)
    open_s = time.perf_counter() - t0
    typer.echo(f"opened {len(base)} entries in {open_s:.1f} s (the first run encodes and persists the index)")
    rng = random.Random(1)
    picks = [rng.choice(entries) for _ in range(n_queries)]
    texts = [rng.choice(e.questions).replace("是多少", "").replace("What", "what") for e in picks]
    t0 = time.perf_counter()
    vectors = base.encoder.encode_queries(texts)
    encode_ms = (time.perf_counter() - t0) * 1000 / len(texts)
    single = []
    for t in texts[:20]:
        t1 = time.perf_counter()
        base.encoder.encode_queries([t])
        single.append((time.perf_counter() - t1) * 1000)
    base.search(texts[0], query_vector=vectors[0])  # warm jieba and caches
    lat, right = [], 0
    for e, t, v in zip(picks, texts, vectors, strict=True):
        t1 = time.perf_counter()
        hits = base.search(t, k=5, query_vector=v)
        lat.append((time.perf_counter() - t1) * 1000)
        right += bool(hits) and hits[0].entry_id == e.id
    arr = np.asarray(lat)
    figures = {
        "kb_entries": len(base),
        "encoder": base.encoder.name,
        "search_p50_ms": float(np.percentile(arr, 50)),
        "search_p95_ms": float(np.percentile(arr, 95)),
        "search_max_ms": float(arr.max()),
        "query_encode_single_p50_ms": float(np.median(single)),
        "query_encode_batched_ms": encode_ms,
        "top1_exact_question": right / len(picks),
        "open_s": open_s,
        "queries": len(picks),
    }
    for key, value in figures.items():
        typer.echo(f"{key:28s} {value:.3f}" if isinstance(value, float) else f"{key:28s} {value}")
    typer.echo(
        "search_* time the index (dense + BM25 + fusion) given the query embedding, which the pipeline "
        "computes once per utterance; add query_encode_single_p50_ms for a cold query."
    )
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(figures, indent=2) + "\n")
        typer.echo(f"wrote {json_out}")
