"""Loading FAQ entries from knowledge/*.yml into typed, immutable records."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from bot.knowledge.glossary import NO_GLOSSARY, Glossary, GlossaryError, load_glossary


class KnowledgeError(ValueError):
    """The knowledge folder cannot be read; the message names the file."""


@dataclass(frozen=True)
class Source:
    title: str
    article: str
    date: str

    def cite(self) -> str:
        return f"{self.title}{self.article}" if self.article else self.title


@dataclass(frozen=True)
class Entry:
    id: str
    category: str
    question: str
    alternatives: tuple[str, ...]
    answer: str
    source: Source
    reviewed: str
    file: str
    # the answer says politely where to go instead (trademarks, copyright, courts, subsidies):
    # no fact of our own, so it is a right reply to a question the knowledge does not cover
    redirect: bool = False

    def phrasings(self) -> list[str]:
        return [self.question, *self.alternatives]

    def reply_text(self) -> str:
        """What the user sees: the answer, then where it comes from."""
        return f"{self.answer.strip()}\n（依据：{self.source.cite()}）"


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[Entry, ...]
    content_hash: str
    glossary: Glossary = NO_GLOSSARY

    def by_id(self) -> dict[str, Entry]:
        return {e.id: e for e in self.entries}

    @functools.cached_property
    def redirects(self) -> frozenset[str]:
        """Entries that send the user elsewhere rather than state a fact."""
        return frozenset(e.id for e in self.entries if e.redirect)

    def __len__(self) -> int:
        return len(self.entries)


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def parse_entry(raw: dict, category: str, file: str) -> Entry:
    src = raw.get("source") or {}
    if not isinstance(src, dict):
        src = {"title": str(src)}
    alts = raw.get("alternatives") or []
    return Entry(
        id=_text(raw.get("id")),
        category=_text(raw.get("category")) or category,
        question=_text(raw.get("question")),
        alternatives=tuple(_text(a) for a in alts if _text(a)),
        answer=" ".join(_text(raw.get("answer")).split()),
        source=Source(_text(src.get("title")), _text(src.get("article")), _text(src.get("date"))),
        reviewed=_text(raw.get("reviewed")),
        redirect=raw.get("redirect") is True,
        file=file,
    )


def read_file(path: Path) -> list[Entry]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{path.name}: cannot be read as YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise KnowledgeError(f"{path.name}: expected a mapping with `category` and `entries`")
    category = _text(doc.get("category"))
    out = []
    for i, raw in enumerate(doc["entries"]):
        if not isinstance(raw, dict):
            raise KnowledgeError(f"{path.name}: entry #{i + 1} is not a mapping")
        out.append(parse_entry(raw, category, path.name))
    return out


def knowledge_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yml") if not p.name.startswith("_"))


def content_hash(entries: Iterable[Entry], glossary: Glossary = NO_GLOSSARY) -> str:
    """Hash of everything that can change an answer or a match (not the file layout)."""
    canon = sorted((asdict(e) | {"file": ""} for e in entries), key=lambda d: d["id"])
    if glossary.pairs or glossary.other_offices or glossary.amount_words:  # an empty glossary keeps the hashes of knowledge bases without one
        canon.append({"glossary": [list(p) for p in glossary.pairs], "other_offices": list(glossary.other_offices),
                      "amount_words": list(glossary.amount_words)})
    blob = json.dumps(canon, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def load_knowledge(folder: Path, extra: Iterable[Entry] = ()) -> KnowledgeBase:
    """The files of `folder`, plus `extra` entries (the ones published in the console)."""
    entries: list[Entry] = []
    for path in knowledge_files(folder):
        entries.extend(read_file(path))
    entries.extend(extra)
    try:
        glossary = load_glossary(folder)
    except GlossaryError as exc:
        raise KnowledgeError(str(exc)) from exc
    return KnowledgeBase(tuple(entries), content_hash(entries, glossary), glossary)
