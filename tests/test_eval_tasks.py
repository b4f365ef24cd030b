"""Task YAML loading: shipped tasks load, and malformed files fail with a message naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eval.scenarios import ScenarioError, load_scenarios
from eval.tasks import KINDS, TaskError, load_task, shipped_tasks

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, data: object, name: str = "task.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def valid(tmp_path: Path) -> dict:
    (tmp_path / "rows.jsonl").write_text('{"text": "电费怎么交", "label": "power"}\n', encoding="utf-8")
    return {
        "name": "mine",
        "kind": "nlu",
        "dataset": "rows.jsonl",
        "normaliser": "basic",
        "metrics": [{"name": "accuracy", "higher_is_better": True}],
    }


def test_every_shipped_task_loads_with_its_dataset() -> None:
    names = {p.stem for p in shipped_tasks()}
    assert {"asr", "asr-telephone", "nlu", "clinc150", "kb", "e2e"} <= names
    for path in shipped_tasks():
        spec = load_task(path)
        assert spec.name == path.stem and spec.kind in KINDS
        assert all(p.exists() for p in spec.datasets)
        assert spec.higher_is_better()
    assert load_task("asr-telephone").derived == "telephone"
    assert load_task("nlu").source == REPO / "eval" / "tasks" / "nlu.yaml"  # by shipped name


def test_dataset_paths_are_relative_to_the_task_file(tmp_path: Path) -> None:
    spec = load_task(write(tmp_path, valid(tmp_path)))
    assert spec.dataset == (tmp_path / "rows.jsonl").resolve()
    assert spec.higher_is_better() == {"accuracy": True}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metrics": None}, "metrics"),
        ({"metrics": [{"name": "accuracy"}]}, "higher_is_better"),
        ({"metrics": [{"name": "accuracy", "higher_is_better": "yes"}]}, "higher_is_better"),
        ({"kind": "speech"}, "unknown kind 'speech'"),
        ({"normaliser": "fancy"}, "unknown normaliser 'fancy'; known: basic, zh"),
        ({"dataset": "nowhere.jsonl"}, "dataset not found"),
        ({"derived": "telephone"}, "not available for kind nlu"),
        ({"colour": "red"}, "unknown field"),
        ({"name": ""}, "'name'"),
    ],
)
def test_malformed_tasks_name_what_is_wrong(tmp_path: Path, change: dict, message: str) -> None:
    data = valid(tmp_path) | change
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(TaskError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        load_task(write(tmp_path, data))
    assert "task.yaml" in str(err.value)


def test_missing_file_lists_the_shipped_tasks(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match=r"shipped tasks: .*nlu"):
        load_task(tmp_path / "nope.yaml")


def test_not_yaml(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(TaskError, match="not valid YAML"):
        load_task(p)


def test_shipped_scenarios_cover_the_taxonomy() -> None:
    calls = load_scenarios(REPO / "eval" / "scenarios")
    english = [c for c in calls if c.language == "en"]
    mandarin = [c for c in calls if c.language == "zh"]
    assert len(english) >= 40 and len(mandarin) >= 20
    # Mandarin turns are text: spoken by the Mandarin voice by default, injected in the second mode.
    assert all(t.text for c in mandarin for t in c.turns)
    expected = {a for c in calls for t in c.turns if t.expect for a in t.expect.actions}
    assert {"answer", "clarify", "handoff", "work_order", "end", "anything_else", "repeat"} <= expected
    urgencies = {t.expect.urgency for c in calls for t in c.turns if t.expect}
    assert {"emergency", "urgent", "routine"} <= urgencies


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"name": "a", "say": "hi", "text": "hi"}, "exactly one of say"),
        ({"name": "a", "say": "hi", "expect": {"action": "dance"}}, "unknown action"),
        ({"name": "a", "say": "hi", "expect": {"mood": "happy"}}, "unknown expectation"),
        ({"say": "hi"}, "needs a 'name'"),
        ({"name": "a", "audio": "missing.wav"}, "not found"),
    ],
)
def test_malformed_scenarios_name_what_is_wrong(tmp_path: Path, call: dict, message: str) -> None:
    p = write(tmp_path, {"scenarios": [call]}, "calls.yaml")
    with pytest.raises(ScenarioError, match=message) as err:
        load_scenarios(p)
    assert "calls.yaml[0]" in str(err.value)
