"""A report as a text table, CSV or an Excel workbook (sheet 'report' and sheet 'definitions').

Columns are the group key then every measure in MEASURES order; the last row is the total.
Rates are fractions (0.8 = 80%); times are seconds; an empty cell means no calls to divide by.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from pipeline.reports import MEASURES, Report

TOTAL_LABEL = "total / 合计"
NONE_LABEL = "(none / 无)"


def _key_label(report: Report, key: str | None) -> str:
    if key is None:
        return NONE_LABEL
    return report.labels.get(key, key)


def table_rows(report: Report) -> tuple[list[str], list[list[Any]]]:
    header = [report.options.by, *MEASURES]
    body = [[_key_label(report, r["key"]), *(r[m] for m in MEASURES)] for r in report.rows]
    body.append([TOTAL_LABEL, *(report.total[m] for m in MEASURES)])
    return header, body


def to_csv(report: Report) -> str:
    header, body = table_rows(report)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in body:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def to_xlsx(report: Report) -> bytes:
    try:
        from openpyxl import Workbook
    except ImportError as e:  # a declared dependency; a broken install says so
        raise RuntimeError("Excel export needs openpyxl: pip install openpyxl") from e
    header, body = table_rows(report)
    wb = Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.title = "report"
    sheet.append(header)
    for row in body:
        sheet.append(row)
    sheet.freeze_panes = "B2"
    defs = wb.create_sheet("definitions")
    defs.append(["measure", "definition", "定义"])
    for name, (en, zh) in MEASURES.items():
        defs.append([name, en, zh])
    o = report.options
    defs.append([])
    defs.append(["period", f"{o.start.isoformat()} .. {o.end.isoformat()}", f"按 {o.by} 分组"])
    defs.append(["service level threshold (s)", o.service_level_s, "服务水平阈值（秒）"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _fmt(value: Any, name: str) -> str:
    if value is None:
        return "-"
    if name in ("service_level", "abandonment_rate", "containment", "repeat_rate", "satisfied_share"):
        return f"{value * 100:.1f}%"
    return str(value)


def to_text(report: Report, measures: list[str] | None = None) -> str:
    """A fixed-width table for the terminal; ``measures`` picks columns (default: the main ones)."""
    names = measures or [
        "offered", "contained", "handed_off", "abandoned", "service_level", "asa_s",
        "abandonment_rate", "emergencies", "emergency_to_person_avg_s", "repeat_calls",
        "wo_opened", "wo_overdue", "satisfaction_avg",
    ]  # fmt: skip
    header, body = table_rows(report)
    idx = [0] + [header.index(n) for n in names]
    rows = [[header[i] for i in idx]] + [[str(r[0])] + [_fmt(r[i], header[i]) for i in idx[1:]] for r in body]
    widths = [max(len(row[c]) for row in rows) for c in range(len(idx))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(w) if c == 0 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)
