"""The review queue round trip on SQLite and a real PostgreSQL: calls where the caller said the
answer did not help, rated 1-2, or were handed off after low confidence are queued (and only those);
a supervisor labels one (agents may not); the label leaves the queue, is written as a KB correction
when the answer differs from the bot's, and exports as rows `triage nlu train` loads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from core.settings import Settings
from pipeline.db import Base
from pipeline.runtime import Runtime
from pipeline.store import Store


@dataclass
class World:
    runtime: Runtime
    client: TestClient
    settings: Settings
    url: str
    ids: dict[str, str]
    boss: dict[str, str]
    agent: dict[str, str]


def call(store: Store, question: str, lang: str = "zh", **kw: Any) -> str:
    c = store.start_call("1390000" + str(abs(hash(question)) % 10000).zfill(4), lang)
    store.add_utterance(c.id, "caller", question, lang)
    if entry := kw.get("answered"):
        store.add_decision(c.id, "answer", "kb match", kb_entry_id=entry, topic="water", confidence=0.81)
        store.add_utterance(c.id, "bot", "水费可以在网上缴纳。", lang)
    if kw.get("decided_low"):  # the classifier's low-confidence handoff decision, handoff itself unscored
        store.add_decision(c.id, "handoff", "low confidence", topic="other", confidence=0.3)
        store.create_handoff(c.id, "routine", "low confidence", topic="other")
    if reason := kw.get("handoff"):
        store.create_handoff(c.id, "routine", reason, topic=kw.get("topic"), confidence=kw.get("confidence"))
    if rating := kw.get("rating"):
        store.rate_call(c.id, rating)
    if kw.get("end", True):
        store.end_call(c.id, "goodbye")
    return c.id


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    import serve

    settings = Settings(data_dir=tmp_path)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'triage.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        Base.metadata.drop_all(engine)
        engine.dispose()
    store = Store(url)
    _, boss = store.create_agent("boss", "supervisor", [], [])
    _, agent = store.create_agent("agent", "agent", [], [])
    ids = {
        "not_helpful": call(
            store, "我想问怎么交水费", answered="water-bill", handoff="caller said the answer did not help"
        ),
        "low_rating": call(store, "停水什么时候恢复", answered="water-outage", rating=2),
        "low_confidence": call(store, "那个东西坏了", handoff="unsure", topic="other", confidence=0.4),
        "fine": call(store, "电费怎么查", answered="power-bill", rating=5),
        "unsure_decision": call(store, "我家那个有点问题", decided_low=True),
        "confident_handoff": call(store, "我要找人工", handoff="asked for a person", confidence=0.95),
        "still_on": call(store, "还在通话", rating=1, end=False),
    }
    runtime = Runtime(settings, store)
    with TestClient(serve.create_app(runtime)) as client:
        yield World(
            runtime,
            client,
            settings,
            url,
            ids,
            {"Authorization": f"Bearer {boss}"},
            {"Authorization": f"Bearer {agent}"},
        )


def test_the_queue_holds_exactly_the_doubtful_calls_with_their_reasons(world: World) -> None:
    assert world.client.get("/v1/review", headers=world.agent).status_code == 403
    body = world.client.get("/v1/review", headers=world.boss).json()
    got = {i["call_id"]: i for i in body["items"]}
    ids = world.ids
    assert set(got) == {ids["not_helpful"], ids["low_rating"], ids["low_confidence"], ids["unsure_decision"]}
    assert got[ids["not_helpful"]]["reasons"] == ["not_helpful"]
    assert got[ids["low_rating"]]["reasons"] == ["low_rating"]
    assert got[ids["low_confidence"]]["reasons"] == ["low_confidence_handoff"]
    assert got[ids["unsure_decision"]]["reasons"] == ["low_confidence_handoff"]
    item = got[ids["not_helpful"]]
    assert item["question"] == "我想问怎么交水费" and item["bot_kb_entry_id"] == "water-bill"
    assert item["bot_answer"] == "水费可以在网上缴纳。" and item["bot_topic"] == "water"
    assert "did not help" in body["reasons"]["not_helpful"]["en"]


def test_a_label_leaves_the_queue_and_exports_as_training_rows_and_a_kb_correction(
    world: World, tmp_path: Path
) -> None:
    ids, c = world.ids, world.client
    url = f"/v1/review/{ids['not_helpful']}"
    label = {"topic": "water", "urgency": "routine", "request_type": "inquiry", "kb_entry_id": None}
    assert c.post(url, json=label, headers=world.agent).status_code == 403
    bad = c.post(url, json={**label, "topic": "weather"}, headers=world.boss)
    assert bad.status_code == 422 and "Unknown topic 'weather'" in bad.json()["detail"]
    saved = c.post(url, json=label, headers=world.boss)
    assert saved.status_code == 201 and saved.json()["kb_correction"] is True
    assert c.post("/v1/review/nope", json=label, headers=world.boss).status_code == 404
    left = {i["call_id"] for i in c.get("/v1/review", headers=world.boss).json()["items"]}
    assert ids["not_helpful"] not in left and len(left) == 3
    corrections = (
        (world.settings.resolved_kb_index_dir() / "corrections.jsonl").read_text("utf-8").splitlines()
    )
    last = json.loads(corrections[-1])
    assert (last["question"], last["entry_id"], last["bot_entry_id"], last["source"]) == (
        "我想问怎么交水费",
        None,
        "water-bill",
        "review",
    )
    same = c.post(f"/v1/review/{ids['low_rating']}", json={"topic": "water", "kb_entry_id": "water-outage"},
                  headers=world.boss)  # fmt: skip
    assert same.json()["kb_correction"] is False  # the bot's answer was right: nothing to correct
    nlu = c.get("/v1/review/export", params={"kind": "nlu"}, headers=world.boss)
    rows = [json.loads(line) for line in nlu.text.splitlines()]
    assert rows[0] == {
        "text": "我想问怎么交水费",
        "label": "water",
        "lang": "zh",
        "request_type": "inquiry",
        "urgency": "routine",
    }
    from nlu.train import load_jsonl

    path = tmp_path / "review.jsonl"
    path.write_text(nlu.text, encoding="utf-8")
    assert [r["label"] for r in load_jsonl(path)] == ["water", "water"]
    kb = c.get("/v1/review/export", params={"kind": "kb"}, headers=world.boss).text.splitlines()
    assert json.loads(kb[0])["answer_id"] is None and json.loads(kb[1])["answer_id"] == "water-outage"


def test_the_cli_exports_review_labels(world: World, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    world.client.post(
        f"/v1/review/{world.ids['low_confidence']}", json={"topic": "housing"}, headers=world.boss
    )
    out = tmp_path / "labels.jsonl"
    result = CliRunner().invoke(app, ["review", "export", "--out", str(out), "--database-url", world.url])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text("utf-8").splitlines()[0]) == {
        "text": "那个东西坏了",
        "label": "housing",
        "lang": "zh",
    }


def test_the_right_answer_is_chosen_from_the_loaded_knowledge_base(world: World) -> None:
    from kb.entry import KbEntry

    class Entries:  # the loaded KB as the review API reads it: its entries
        def entries(self) -> list[KbEntry]:
            return [KbEntry("water-bill", ("怎么交水费",), {"zh": "网上缴纳。"}, topic="water")]

    world.runtime.loaded["kb"] = Entries()
    options = world.client.get("/v1/review/options", headers=world.boss).json()
    assert options["kb_entries"] == [{"id": "water-bill", "question": "怎么交水费", "topic": "water"}]
    assert options["labels"]["urgency"]["emergency"]["zh"] == "紧急"
    url = f"/v1/review/{world.ids['low_confidence']}"
    bad = world.client.post(url, json={"kb_entry_id": "no-such"}, headers=world.boss)
    assert bad.status_code == 422 and "No knowledge-base entry 'no-such'" in bad.json()["detail"]
    assert world.client.post(url, json={"kb_entry_id": "water-bill"}, headers=world.boss).status_code == 201
