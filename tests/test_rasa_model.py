"""The trained model, judged by Rasa's own tools: data validation, held-out NLU, conversations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from bot.config import PROJECT_ROOT, Settings
from tests.conftest import child_env

HELDOUT = PROJECT_ROOT / "tests" / "nlu_heldout.yml"


def rasa(*args: str, settings: Settings) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rasa", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env=child_env(settings.child_env()), timeout=600)


def test_training_data_is_valid(settings: Settings) -> None:
    result = rasa("data", "validate", "--domain", "domain.yml", "--data", "data/nlu.yml", "data/rules.yml",
                  "data/stories.yml", "--fail-on-warnings", settings=settings)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_heldout_set_is_not_in_training_data() -> None:
    def examples(path: Path) -> dict[str, set[str]]:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {row["intent"]: {line[2:].strip() for line in row["examples"].splitlines() if line.strip()}
                for row in doc["nlu"]}

    train, held = examples(PROJECT_ROOT / "data" / "nlu.yml"), examples(HELDOUT)
    required = {"greet", "goodbye", "thank", "affirm", "deny", "ask_faq", "request_human", "complain",
                "bot_challenge", "out_of_scope", "choose_option"}
    assert required <= set(train) and required <= set(held)
    assert all(len(train[i]) >= 20 for i in required), {i: len(train[i]) for i in required}
    all_train = set().union(*train.values())
    overlap = set().union(*held.values()) & all_train
    assert not overlap, overlap


def test_heldout_intent_accuracy_at_least_95_percent(settings: Settings, model: Path, tmp_path: Path) -> None:
    result = rasa("test", "nlu", "--nlu", str(HELDOUT), "--model", str(model), "--out", str(tmp_path),
                  settings=settings)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "intent_report.json").read_text())
    accuracy = report["accuracy"]
    print(f"held-out intent accuracy: {accuracy:.3f} on {report['macro avg']['support']} examples")
    assert accuracy >= 0.95, {k: v for k, v in report.items() if isinstance(v, dict) and v.get("f1-score", 1) < 0.9}


def test_conversation_tests_pass(settings: Settings, model: Path, tmp_path: Path) -> None:
    result = rasa("test", "core", "--stories", "tests/test_conversations.yml", "--model", str(model),
                  "--out", str(tmp_path), "--fail-on-prediction-errors", settings=settings)
    failed = tmp_path / "failed_test_stories.yml"
    detail = failed.read_text(encoding="utf-8") if failed.exists() else result.stdout[-3000:]
    assert result.returncode == 0, detail + result.stderr[-2000:]
    stories = json.loads((tmp_path / "story_report.json").read_text())
    assert stories["conversation_accuracy"]["accuracy"] == 1.0, detail
