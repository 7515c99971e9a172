"""`patentdesk knowledge check`: the rules every entry must satisfy before it is served."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.entries import Entry, KnowledgeError, knowledge_files, read_file
from bot.knowledge.text import normalize

# A WeChat text message holds 2048 bytes; the answer plus its source line must fit in one.
MAX_ANSWER_CHARS = 300
MAX_REPLY_BYTES = 2048
ID_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Rules that are out of date but still found online; none may reappear in an answer.
STALE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"缓缴"), "fee deferral (缓缴) was abolished with the 2016 reduction measures"),
    (re.compile(r"3[,，]?500\s*元"), "the 3,500 yuan/month income threshold is stale (now 5,000)"),
    (re.compile(r"30\s*万元|300[,，]?000\s*元"), "the 300,000 yuan taxable-income threshold is stale (now 1,000,000)"),
    (re.compile(r"[六6]\s*年.{0,6}(减缴|费减)|(减缴|费减).{0,10}[六6]\s*年"), "annual-fee reduction is for 10 years, not 6"),
    (re.compile(r"25[05]\s*元"), "registration fees of 255/205 yuan were abolished on 2018-08-01"),
    (re.compile(r"80%"), "80% is the stale deferral/reduction rate; current rates are 85% and 70%"),
)


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def check_entries(entries: list[Entry]) -> list[Problem]:
    problems: list[Problem] = []
    seen_ids: dict[str, str] = {}
    seen_questions: dict[str, str] = {}
    for e in entries:
        where = f"{e.file}:{e.id or '<no id>'}"
        if not e.id:
            problems.append(Problem(where, "missing id"))
        elif not ID_PATTERN.match(e.id):
            problems.append(Problem(where, "id must be lowercase ascii words joined by '-'"))
        elif e.id in seen_ids:
            problems.append(Problem(where, f"duplicate id (also in {seen_ids[e.id]})"))
        else:
            seen_ids[e.id] = e.file
        if not e.category:
            problems.append(Problem(where, "missing category"))
        if not e.question:
            problems.append(Problem(where, "missing question"))
        if not e.answer:
            problems.append(Problem(where, "empty answer"))
        elif len(e.answer) > MAX_ANSWER_CHARS:
            problems.append(Problem(where, f"answer has {len(e.answer)} characters; at most {MAX_ANSWER_CHARS} fit a chat message"))
        elif len(e.reply_text().encode()) > MAX_REPLY_BYTES:
            problems.append(Problem(where, f"answer and source exceed {MAX_REPLY_BYTES} bytes"))
        if not e.source.title:
            problems.append(Problem(where, "no source: every answer must name its law article, rule or notice"))
        elif e.source.article and e.source.article in e.source.title:
            problems.append(Problem(where, f"source article {e.source.article!r} is already in its title: "
                                           "the citation would name it twice"))
        if not DATE_PATTERN.match(e.source.date):
            problems.append(Problem(where, "source needs the date of the version cited (YYYY-MM-DD)"))
        if not DATE_PATTERN.match(e.reviewed):
            problems.append(Problem(where, "reviewed must be a date (YYYY-MM-DD)"))
        for pattern, why in STALE_PATTERNS:
            if pattern.search(e.answer):
                problems.append(Problem(where, f"stale rule in answer: {why}"))
        for phrasing in e.phrasings():
            key = normalize(phrasing)
            if not key:
                continue
            other = seen_questions.get(key)
            if other is not None and other != e.id:
                problems.append(Problem(where, f"question {phrasing!r} also belongs to {other}"))
            seen_questions.setdefault(key, e.id)
    return problems


def check_folder(folder: Path, extra: Iterable[Entry] = ()) -> tuple[int, list[Problem]]:
    """Returns (number of entries read, problems); unreadable files are problems too.

    `extra` are the entries published in the console: checked together with the files, so
    a console entry repeating a file entry's id or question is an error."""
    entries: list[Entry] = []
    problems: list[Problem] = []
    files = knowledge_files(folder)
    if not files:
        problems.append(Problem(str(folder), "no knowledge files (*.yml)"))
    for path in files:
        try:
            entries.extend(read_file(path))
        except KnowledgeError as exc:
            problems.append(Problem(path.name, str(exc)))
    entries.extend(extra)
    return len(entries), problems + check_entries(entries)
