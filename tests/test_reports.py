"""Supervisor reports over a small history whose figures were worked out by hand, on SQLite and on a
real PostgreSQL: every measure, grouping by topic, hour (with a local offset), agent and district,
the facts filled from a live call's handoff, CSV and Excel export, the CLI and the REST API
(supervisors only)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from pipeline.db import Base, Call, Decision, Handoff, PlaceReport, WorkOrder
from pipeline.reports import ReportOptions, build_report, parse_time
from pipeline.store import Store

DAY = datetime(2020, 3, 2, tzinfo=UTC)


def at(hh: int, mm: int, ss: int = 0, day: datetime = DAY) -> datetime:
    return day + timedelta(hours=hh, minutes=mm, seconds=ss)


@dataclass
class History:
    store: Store
    url: str
    agents: dict[str, str]  # name -> id
    tokens: dict[str, str]


def seed(store: Store) -> dict[str, str]:
    """The hand-worked history (figures in the tests below). Numbers are unique to this run."""
    p = uuid.uuid4().hex[:6]
    agents: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for name, role in (("Xiao Wang", "agent"), ("Li Na", "agent"), ("Boss", "supervisor")):
        agent, tokens[name] = store.create_agent(f"{name} {p}", role, [], [])
        agents[name] = agent.id
    X, Y = agents["Xiao Wang"], agents["Li Na"]
    before3, before11 = DAY - timedelta(days=3), DAY - timedelta(days=11)
    calls: list[dict[str, Any]] = [
        dict(k="c1", n="A", lang="zh", topic="water", urg="routine", d="D1", s=at(9, 0), e=at(9, 2), r=5),
        dict(k="c2", n="B", lang="en", topic="power", urg="routine", d="D2", s=at(9, 10), e=at(9, 15), r=4),
        dict(k="c3", n="A", lang="zh", topic="water", urg="routine", d="D1", s=at(9, 30), e=at(9, 32), r=1),
        dict(k="c4", n="C", lang="zh", topic="gas", urg="emergency", d="D1", s=at(10, 5), e=at(10, 10)),
        dict(k="c5", n="B", lang="en", topic="power", urg="routine", d="D2", s=at(10, 20), e=at(10, 25), r=2),
        dict(k="c6", n="D", lang="zh", topic="documents", urg="routine", d="D2", s=at(11, 0), e=None),
        dict(k="c9", n="E", lang="zh", topic=None, urg=None, d=None, s=at(11, 30), e=at(11, 33)),
        dict(k="c7", n="C", lang="zh", topic="gas", urg="routine", d="D1", s=at(9, 0, day=before3),
             e=at(9, 5, day=before3)),
        dict(k="c8", n="D", lang="zh", topic="other", urg="routine", d="D2", s=at(9, 0, day=before11),
             e=at(9, 5, day=before11)),
    ]  # fmt: skip
    ids: dict[str, str] = {}
    handoffs = {  # call -> (created, accepted, status, agent, urgency)
        "c2": (at(9, 11), at(9, 11, 10), "resolved", X, "routine"),
        "c3": (at(9, 31), None, "abandoned", None, "routine"),
        "c4": (at(10, 5, 30), at(10, 5, 35), "resolved", Y, "emergency"),
        "c5": (at(10, 21), at(10, 21, 40), "resolved", X, "routine"),
        "c9": (at(11, 31), None, "callback", None, "routine"),
    }
    with store.session() as s:
        for c in calls:
            call = Call(
                id=uuid.uuid4().hex, caller_number=f"{p}{c['n']}", language=c["lang"], channel="stream",
                status="ended" if c["e"] else "active", started_at=c["s"], ended_at=c["e"],
                rating=c.get("r"), topic=c["topic"], request_type="fault" if c["topic"] else None,
                urgency=c["urg"], district=c["d"],
            )  # fmt: skip
            s.add(call)
            ids[c["k"]] = call.id
        s.flush()
        for k, (created, accepted, status, agent_id, urgency) in handoffs.items():
            topic = "heating" if k == "c9" else next(c["topic"] for c in calls if c["k"] == k)
            s.add(Handoff(call_id=ids[k], status=status, urgency=urgency, topic=topic, created_at=created,
                          accepted_at=accepted, agent_id=agent_id, request_type="fault"))  # fmt: skip
        s.add(Decision(call_id=ids["c9"], action="handoff", reason="asked", topic="heating",
                       urgency="routine", created_at=at(11, 31)))  # fmt: skip
        # The live call named its district as it went on (pipeline/storms.py records it).
        s.add(PlaceReport(call_id=ids["c9"], topic="heating", district="D3", created_at=at(11, 31)))
        orders = (  # call, created, status, topic
            ("c1", at(9, 3), "resolved", "water"),
            ("c4", at(10, 11), "new", "gas"),
            ("c6", at(20, 0), "assigned", "documents"),
            ("c7", at(9, 10, day=DAY - timedelta(days=3)), "new", "gas"),
        )
        for k, created, status, topic in orders:
            s.add(WorkOrder(call_id=ids[k], topic=topic, urgency="routine", summary="s", status=status,
                            created_at=created, updated_at=created + timedelta(hours=1)))  # fmt: skip
        s.commit()
    ids.update({f"agent:{k}": v for k, v in agents.items()})
    ids.update({f"token:{k}": v for k, v in tokens.items()})
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'triage.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        Base.metadata.drop_all(engine)
        engine.dispose()
    store = Store(url)
    ids = seed(store)
    agents = {k[6:]: v for k, v in ids.items() if k.startswith("agent:")}
    tokens = {k[6:]: v for k, v in ids.items() if k.startswith("token:")}
    yield History(store, url, agents, tokens)


def report(h: History, by: str, **kw: Any) -> Any:
    opts = ReportOptions(DAY, DAY + timedelta(days=1), by=by, workorder_due_h=kw.pop("due_h", 12), **kw)
    with h.store.session() as s:
        return build_report(s, opts)


def test_every_measure_of_the_day_matches_the_hand_worked_figures(history: History) -> None:
    t = report(history, "day").total
    assert (t["offered"], t["contained"], t["handed_off"]) == (7, 1, 5)
    assert (t["answered"], t["abandoned"], t["callbacks"]) == (3, 1, 1)
    assert t["service_level"] == 0.5  # 10 s and 5 s within 20 s; 40 s late; one abandoned
    assert t["asa_s"] == pytest.approx(18.3, abs=0.05)  # (10 + 5 + 40) / 3
    assert t["abandonment_rate"] == 0.25 and t["containment"] == pytest.approx(1 / 7, abs=1e-4)
    assert (t["emergencies"], t["emergency_to_person_avg_s"], t["emergency_to_person_max_s"]) == (1, 5.0, 5.0)
    assert t["repeat_calls"] == 3  # c3 (A, same day), c5 (B), c4 (C, 3 days before); D was 11 days before
    assert (t["wo_opened"], t["wo_closed"], t["wo_overdue"]) == (3, 1, 1)  # c4's order open past 12 h
    assert (t["rated"], t["satisfaction_avg"], t["satisfied_share"]) == (4, 3.0, 0.5)


def test_a_threshold_of_45_s_counts_the_40_s_answer_in_time(history: History) -> None:
    assert report(history, "day", service_level_s=45).total["service_level"] == 0.75


def test_by_topic_fills_a_live_calls_topic_from_its_handoff(history: History) -> None:
    rows = {r["key"]: r for r in report(history, "topic").rows}
    assert set(rows) == {"water", "power", "gas", "documents", "heating"}
    assert (rows["water"]["offered"], rows["water"]["contained"], rows["water"]["abandoned"]) == (2, 1, 1)
    assert rows["water"]["service_level"] == 0.0 and rows["water"]["repeat_calls"] == 1
    assert (rows["power"]["answered"], rows["power"]["service_level"], rows["power"]["asa_s"]) == (
        2,
        0.5,
        25.0,
    )
    assert (rows["gas"]["emergencies"], rows["gas"]["wo_opened"], rows["gas"]["wo_overdue"]) == (1, 1, 1)
    assert rows["heating"]["callbacks"] == 1 and rows["documents"]["contained"] == 0  # still in progress


def test_by_hour_in_local_time(history: History) -> None:
    utc = {r["key"]: (r["offered"], r["wo_opened"]) for r in report(history, "hour").rows}
    # work orders count in the hour they were opened: c6's at 20:00, when no call started
    assert utc == {
        "2020-03-02 09:00": (3, 1), "2020-03-02 10:00": (2, 1), "2020-03-02 11:00": (2, 0),
        "2020-03-02 20:00": (0, 1),
    }  # fmt: skip
    local = {r["key"]: r["offered"] for r in report(history, "hour", utc_offset_min=480).rows}
    assert local == {
        "2020-03-02 17:00": 3,
        "2020-03-02 18:00": 2,
        "2020-03-02 19:00": 2,
        "2020-03-03 04:00": 0,
    }


def test_by_agent_and_by_district(history: History) -> None:
    r = report(history, "agent")
    rows = {r_["key"]: r_ for r_ in r.rows}
    x, y = history.agents["Xiao Wang"], history.agents["Li Na"]
    assert (rows[x]["answered"], rows[x]["asa_s"], rows[y]["answered"]) == (2, 25.0, 1)
    assert r.labels[x].startswith("Xiao Wang") and rows[None]["contained"] == 1
    districts = {r_["key"]: r_["offered"] for r_ in report(history, "district").rows}
    assert districts == {"D1": 3, "D2": 3, "D3": 1}  # D3: the live call's, from what the caller said


def test_csv_and_excel_export(history: History) -> None:
    from openpyxl import load_workbook

    from pipeline.reports_export import to_csv, to_xlsx

    r = report(history, "topic")
    rows = list(csv.DictReader(io.StringIO(to_csv(r))))
    assert (
        rows[-1]["topic"] == "total / 合计"
        and rows[-1]["offered"] == "7"
        and rows[-1]["service_level"] == "0.5"
    )
    wb = load_workbook(io.BytesIO(to_xlsx(r)))
    sheet = wb["report"]
    header = [c.value for c in sheet[1]]
    last = [c.value for c in sheet[sheet.max_row]]
    assert last[header.index("offered")] == 7 and last[header.index("repeat_calls")] == 3
    defs = {row[0].value: row[2].value for row in wb["definitions"].iter_rows(min_row=2) if row[0].value}
    assert "放弃" in defs["abandonment_rate"]


def test_the_cli_prints_a_csv_report(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from core.settings import get_settings

    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    args = [
        "report",
        "--from",
        "2020-03-02",
        "--to",
        "2020-03-02",
        "--by",
        "urgency",
        "--database-url",
        history.url,
    ]
    result = CliRunner().invoke(app, [*args, "--format", "csv"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    rows = {r["urgency"]: r for r in csv.DictReader(io.StringIO(result.output))}
    assert rows["emergency"]["emergency_to_person_avg_s"] == "5.0" and rows["total / 合计"]["offered"] == "7"
    out = tmp_path / "r.xlsx"
    assert CliRunner().invoke(app, [*args, "--format", "xlsx", "--out", str(out)]).exit_code == 0
    assert out.stat().st_size > 1000
    bad = CliRunner().invoke(app, [*args[:-2], "--by", "weather", "--database-url", history.url])
    assert bad.exit_code != 0 and "choose one of" in bad.output


def test_parse_time_reads_local_days_with_the_end_day_included() -> None:
    assert parse_time("2020-03-02", 480) == datetime(2020, 3, 1, 16, tzinfo=UTC)
    assert parse_time("2020-03-02", 480, end=True) == datetime(2020, 3, 2, 16, tzinfo=UTC)
    assert parse_time("2020-03-02T09:30Z", 480) == datetime(2020, 3, 2, 9, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a date"):
        parse_time("yesterday", 0)


def test_the_api_is_for_supervisors_with_csv_and_excel(history: History, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    import serve
    from core.settings import Settings
    from pipeline.runtime import Runtime

    runtime = Runtime(Settings(data_dir=tmp_path, workorder_due_h=12), history.store)
    boss = {"Authorization": f"Bearer {history.tokens['Boss']}"}
    agent = {"Authorization": f"Bearer {history.tokens['Xiao Wang']}"}
    q = {"from": "2020-03-02", "to": "2020-03-02", "by": "topic"}
    with TestClient(serve.create_app(runtime)) as client:
        assert client.get("/v1/reports", params=q).status_code == 401
        denied = client.get("/v1/reports", params=q, headers=agent)
        assert denied.status_code == 403 and "supervisor" in denied.json()["detail"]
        body = client.get("/v1/reports", params=q, headers=boss).json()
        assert body["total"]["offered"] == 7 and body["total"]["wo_overdue"] == 1
        c = client.get("/v1/reports", params={**q, "format": "csv"}, headers=boss)
        assert (
            c.headers["content-type"].startswith("text/csv")
            and "attachment" in c.headers["content-disposition"]
        )
        assert "total / 合计,7," in c.text
        x = client.get("/v1/reports", params={**q, "format": "xlsx"}, headers=boss)
        assert x.content[:2] == b"PK"
        bad = client.get("/v1/reports", params={**q, "to": "2020-02-01"}, headers=boss)
        assert bad.status_code == 422 and "must come after" in bad.json()["detail"]
        defs = client.get("/v1/reports/definitions", headers=boss).json()
        assert "20" in defs["measures"]["service_level"]["en"] and defs["service_level_target"] == 0.8
        schema = client.get("/openapi.json").json()["components"]["schemas"]["ReportRowOut"]["properties"]
        assert "hung up while waiting" in schema["abandoned"]["description"]
        assert client.get("/v1/reports/live", headers=agent).status_code == 403
