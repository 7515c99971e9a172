"""`patentdesk knowledge export`: the console's published entries as knowledge/*.yml.

Written in exactly the files' format (the layout of knowledge/README.md), one file per
category, so an entry can be reviewed into the repository like any other change. A
category that already has a file is written beside it as `<stem>.console.yml`; once the
entries are merged into the repository, withdraw them in the console (a question served
from both sources is a `knowledge check` error).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import yaml

from bot.knowledge.entries import Entry, knowledge_files, read_file

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _scalar(value: str) -> str:
    """One YAML scalar on one line, quoted only where YAML needs it."""
    if _DATE.match(value):
        return value  # as the files write dates
    dumped = yaml.safe_dump(value, allow_unicode=True, width=10**6, default_flow_style=True)
    return dumped.removesuffix("\n").removesuffix("\n...")


def _block(value: str) -> str:
    """The answer as a folded block (`>-`), the files' way; plain one-liners fold to themselves."""
    text = " ".join(value.split())
    if not text or text[0] in " #" or "\t" in text:
        return _scalar(text)
    return ">-\n      " + text


def render(category: str, entries: list[Entry]) -> str:
    lines = [f"category: {_scalar(category)}", "entries:"]
    for n, e in enumerate(entries):
        if n:
            lines.append("")
        lines.append(f"  - id: {e.id}")
        lines.append(f"    question: {_scalar(e.question)}")
        if e.alternatives:
            lines.append("    alternatives:")
            lines.extend(f"      - {_scalar(a)}" for a in e.alternatives)
        lines.append(f"    answer: {_block(e.answer)}")
        lines.append("    source:")
        lines.append(f"      title: {_scalar(e.source.title)}")
        lines.append(f"      article: {_scalar(e.source.article) if e.source.article else chr(34) * 2}")
        lines.append(f"      date: {_scalar(e.source.date)}")
        lines.append(f"    reviewed: {_scalar(e.reviewed)}")
    return "\n".join(lines) + "\n"


def file_names(folder: Path) -> dict[str, str]:
    """category -> the stem of the knowledge file holding it."""
    names: dict[str, str] = {}
    for path in knowledge_files(folder):
        for entry in read_file(path)[:1]:
            names.setdefault(entry.category, path.stem)
    return names


def export(entries: list[Entry], knowledge: Path, out: Path) -> list[Path]:
    """Write `entries` grouped by category under `out`; returns the files written."""
    groups: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        groups[e.category].append(e)
    stems = file_names(knowledge)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for n, (category, group) in enumerate(sorted(groups.items())):
        stem = stems.get(category, f"console-{n + 1}")
        path = out / f"{stem}.console.yml"
        path.write_text(render(category, group), encoding="utf-8")
        written.append(path)
    return written
