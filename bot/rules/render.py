"""Plain Simplified Chinese for dates, steps and sources in replies."""

from __future__ import annotations

import datetime as dt

from .sources import GUIDELINES, IMPLEMENTING_RULES, PATENT_LAW
from .workdays import Extension

_DOCUMENTS = (PATENT_LAW, IMPLEMENTING_RULES, GUIDELINES)

_WEEKDAYS = "一二三四五六日"


def cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def cn_date_weekday(day: dt.date) -> str:
    return f"{cn_date(day)}（星期{_WEEKDAYS[day.weekday()]}）"


def extension_step(ext: Extension) -> str | None:
    """The step that moves a limit off a rest day, or None when it stays."""
    if not ext.moved:
        return None
    return (
        f"{cn_date_weekday(ext.plain)}是法定休假日或周休息日，"
        f"顺延至其后第一个工作日 {cn_date_weekday(ext.end)}"
    )


def calendar_caveat(years: set[int] | tuple[int, ...]) -> str | None:
    """Say so when a year's holiday arrangement is not in our calendar."""
    if not years:
        return None
    listed = "、".join(f"{y}年" for y in sorted(years))
    return (
        f"我们的工作日历还没有{listed}的法定节假日安排（以国务院办公厅当年的通知为准），"
        "以上只按周末顺延；如果届满日恰逢当年的节假日，期限还会顺延到节后第一个工作日。"
        "稳妥起见，请尽量提前办理，或咨询专利代理师确认。"
    )


def reply(headline: str, steps: list[str], notes: list[str], sources: list[str]) -> str:
    """Figure first, then the steps, then notes, then the sources."""
    parts = [headline]
    if steps:
        parts.append("计算（按您提供的信息）：" + "；".join(steps) + "。")
    parts.extend(notes)
    parts.append("依据：" + "；".join(group_sources(sources)) + "。")
    return "\n".join(parts)


def group_sources(cited: list[str]) -> list[str]:
    """One entry per document, its articles joined: the law's long name is said once."""
    grouped: dict[str, list[str]] = {}
    for source in dict.fromkeys(cited):
        prefix = next((p for p in _DOCUMENTS if source.startswith(p)), source)
        grouped.setdefault(prefix, [])
        if source != prefix:
            grouped[prefix].append(source[len(prefix):])
    return [prefix + "、".join(articles) for prefix, articles in grouped.items()]
