"""The kb commands end to end: import, search, export, eval kb (JSON keys and the PNG)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings
from kb import load_entries, save_entries
from kb.knowledge_base import default_kb_path

runner = CliRunner()


@pytest.fixture()
def small_kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "kb.yaml"
    save_entries(load_entries(default_kb_path())[:10], path)
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRIAGE_KB_PATH", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_import_then_search_then_export(small_kb: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.csv"
    new.write_text(
        "id,question,answer_zh,answer_en,topic\n"
        "pool-hours,游泳馆几点开门 | When does the public swimming pool open,"
        "游泳馆每天早上七点开门。,The swimming pool opens at seven every morning.,other\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["kb", "import", str(new)])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output and "now holds 11" in result.output
    result = runner.invoke(app, ["kb", "search", "游泳池早上几点开", "--lang", "en", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert hits[0]["entry_id"] == "pool-hours" and hits[0]["answer"].startswith("The swimming pool")
    out = tmp_path / "out.jsonl"
    assert runner.invoke(app, ["kb", "export", str(out)]).exit_code == 0
    assert {e.id for e in load_entries(out)} >= {"pool-hours", "power-outage-report"}


def test_import_rejects_a_malformed_file_naming_the_line(small_kb: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "question": "q", "answer": "x"}\n{"id": "b", "answer": "y"}\n', encoding="utf-8"
    )
    result = runner.invoke(app, ["kb", "import", str(bad)])
    assert result.exit_code == 2
    assert "bad.jsonl, line 2: missing 'question'" in result.output


def test_eval_kb_writes_the_figures_and_the_curve(small_kb: Path, tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    rows: list[dict[str, str | None]] = [
        {"text": "家里突然没电了", "answer_id": "power-outage-report"},
        {"text": "how can I pay for electricity", "answer_id": "power-bill-payment"},
        {"text": "who won the world cup", "answer_id": None},
    ]
    queries.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "kb-eval.json"
    runs = tmp_path / "runs"
    args = ["eval", "kb", "--kb", str(small_kb), "--queries", str(queries), "--json", str(out)]
    result = runner.invoke(app, [*args, "--out", str(runs)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    for key in ("recall_at_1", "recall_at_5", "mrr", "answer_precision", "answer_rate"):
        assert 0.0 <= figures[key] <= 1.0
    assert figures["recall_at_5"] == 1.0 and figures["n_queries"] == 3
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # every query's outcome, to read the mistakes from
    (folder,) = runs.iterdir()
    lines = (folder / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    answers = [json.loads(line) for line in lines]
    assert [a["text"] for a in answers] == [r["text"] for r in rows]
    outcomes = {"answered right", "answered wrong", "handed on"}
    outcomes |= {"asked, right among the two", "asked, neither right"}
    assert all(a["outcome"] in outcomes for a in answers)
    assert answers[2]["expected"] is None and answers[2]["outcome"] != "answered right"
    assert answers[0]["expected"] == ["power-outage-report"]
