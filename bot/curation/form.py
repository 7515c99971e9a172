"""What a draft must carry, checked where it comes in (the console's form, the store).

The project's rule: every answer names its source with a date, and no fee or time limit
is ever invented. The form cannot know whether a figure is right (the reviewing
supervisor is responsible for that), but it makes the source fields required, so nothing
reaches review without a citation to check it against.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.curation.errors import InvalidDraft
from bot.knowledge.check import MAX_ANSWER_CHARS, STALE_PATTERNS

MAX_QUESTION = 120
MAX_ALTERNATIVES = 20
MAX_TITLE = 200
MAX_ARTICLE = 100
MAX_CATEGORY = 64


@dataclass(frozen=True)
class Draft:
    category: str
    question: str
    alternatives: tuple[str, ...]
    answer: str
    source_title: str
    source_article: str
    source_date: str

    def fields(self) -> dict[str, Any]:
        return {"category": self.category, "question": self.question, "alternatives": list(self.alternatives),
                "answer": self.answer, "source_title": self.source_title, "source_article": self.source_article,
                "source_date": self.source_date}


def _text(data: dict[str, Any], name: str, label: str, limit: int, required: bool = True) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidDraft(f"{label}的内容无法识别，请重新填写。")
    value = " ".join(value.split())
    if required and not value:
        raise InvalidDraft(f"请填写{label}。")
    if len(value) > limit:
        raise InvalidDraft(f"{label}最多 {limit} 个字，请精简后再提交。")
    return value


def _alternatives(raw: Any, question: str) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        raw = raw.splitlines()
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise InvalidDraft("其他问法的内容无法识别，请每行填写一种问法。")
    out: list[str] = []
    for a in raw:
        a = " ".join(a.split())
        if not a or a == question or a in out:
            continue
        if len(a) > MAX_QUESTION:
            raise InvalidDraft(f"每种问法最多 {MAX_QUESTION} 个字，请精简后再提交。")
        out.append(a)
    if len(out) > MAX_ALTERNATIVES:
        raise InvalidDraft(f"其他问法最多 {MAX_ALTERNATIVES} 种。")
    return tuple(out)


def _date(value: str) -> str:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidDraft("依据的日期请按 YYYY-MM-DD 填写，例如 2024-01-20。") from None
    if len(value) != 10 or day > dt.date.today() + dt.timedelta(days=366) or day.year < 1980:
        raise InvalidDraft("依据的日期请按 YYYY-MM-DD 填写，例如 2024-01-20。")
    return value


def parse_draft(data: dict[str, Any], categories: list[str]) -> Draft:
    """A Draft from the form's JSON; InvalidDraft (Chinese, names the field) otherwise."""
    category = _text(data, "category", "业务类别", MAX_CATEGORY)
    if categories and category not in categories:
        raise InvalidDraft("请从列表中选择业务类别。")
    question = _text(data, "question", "标准问题", MAX_QUESTION)
    answer = _text(data, "answer", "答复内容", MAX_ANSWER_CHARS)
    for pattern, _why in STALE_PATTERNS:
        if pattern.search(answer):
            raise InvalidDraft("答复中含有已经废止的规定（例如“缓缴”、旧的费减比例或收入标准），请核对现行依据后修改。")
    return Draft(
        category=category,
        question=question,
        alternatives=_alternatives(data.get("alternatives"), question),
        answer=answer,
        source_title=_text(data, "source_title", "依据名称（法律、规章或官方通知）", MAX_TITLE),
        source_article=_text(data, "source_article", "条款", MAX_ARTICLE, required=False),
        source_date=_date(_text(data, "source_date", "依据的日期", 10)),
    )
