"""`patentdesk knowledge check` on the real knowledge base and on broken ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from bot.config import PROJECT_ROOT
from bot.knowledge.check import check_folder

GOOD = {
    "id": "demo-one", "question": "示例问题一？", "alternatives": ["示例一怎么办"],
    "answer": "这是答案。", "source": {"title": "《中华人民共和国专利法》", "article": "第一条", "date": "2020-10-17"},
    "reviewed": "2026-11-21",
}


def write(folder: Path, entries: list[dict], name: str = "demo.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump({"category": "示例", "entries": entries}, allow_unicode=True),
                               encoding="utf-8")
    return folder


def messages(folder: Path) -> str:
    return "\n".join(str(p) for p in check_folder(folder)[1])


def test_real_knowledge_base_passes_and_is_large_enough() -> None:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "knowledge", "check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:]
    count, problems = check_folder(PROJECT_ROOT / "knowledge")
    assert not problems
    assert count >= 200


def test_a_good_entry_passes(tmp_path: Path) -> None:
    assert messages(write(tmp_path, [GOOD])) == ""


def test_missing_source_is_rejected(tmp_path: Path) -> None:
    bad = GOOD | {"source": {"title": "", "date": ""}}
    out = messages(write(tmp_path, [bad]))
    assert "no source" in out and "date of the version cited" in out


def test_duplicate_ids_and_questions_are_rejected(tmp_path: Path) -> None:
    other = GOOD | {"alternatives": ["别的说法"]}
    twin = GOOD | {"id": "demo-two", "question": "另一个问题", "alternatives": ["示例一怎么办！"]}
    out = messages(write(tmp_path, [GOOD, other, twin]))
    assert "duplicate id" in out
    assert "also belongs to demo-one" in out  # punctuation does not hide a duplicate


def test_empty_and_too_long_answers_are_rejected(tmp_path: Path) -> None:
    out = messages(write(tmp_path, [GOOD | {"answer": ""}, GOOD | {"id": "demo-long", "question": "长", "alternatives": [],
                                                                     "answer": "很长" * 200}]))
    assert "empty answer" in out and "fit a chat message" in out


def test_an_article_already_in_the_title_is_rejected(tmp_path: Path) -> None:
    # the reply cites title + article: "《专利法》第一条第一条" would reach the user
    twice = GOOD | {"source": {"title": "《中华人民共和国专利法》第一条", "article": "第一条", "date": "2020-10-17"}}
    assert "already in its title" in messages(write(tmp_path, [twice]))
    assert messages(write(tmp_path / "alone", [GOOD | {"source": {"title": "《中华人民共和国专利法》第一条",
                                                                   "date": "2020-10-17"}}])) == ""


def test_stale_rules_are_rejected(tmp_path: Path) -> None:
    stale = [GOOD | {"id": f"stale-{i}", "question": f"问{i}", "alternatives": [], "answer": a}
             for i, a in enumerate(["可以申请缓缴专利费。", "月收入低于3500元可以费减。", "专利登记费255元。",
                                    "年费可减缴6年。"])]
    out = messages(write(tmp_path, stale))
    assert out.count("stale rule") == 4, out


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "broken.yml").write_text("entries: [unclosed", encoding="utf-8")
    assert "cannot be read as YAML" in messages(tmp_path)
