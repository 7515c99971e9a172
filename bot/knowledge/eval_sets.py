"""The measuring sets besides the split eval questions: real public questions and dialogues.

data/eval/real/*.yml: questions the public asked on public pages, each with its source and
the entry that answers it (or `none`). data/eval/dialogues/*.yml: conversations with the
expected outcome of every turn. Both measure; neither trains anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

NONE = "none"
# what a turn may expect besides an entry id
OUTCOMES = ("clarify", "handoff", "smalltalk", "no_fact")


@dataclass(frozen=True)
class RealQuestion:
    text: str
    labels: frozenset[str]      # entries that answer it (empty: none does)
    source: str


def load_real(folder: Path) -> list[RealQuestion]:
    out = []
    for path in sorted(folder.glob("*.yml")):
        for row in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            main = str(row["id"]).strip()
            also = [str(a).strip() for a in row.get("also") or []]
            labels = frozenset(x for x in [main, *also] if x != NONE)
            out.append(RealQuestion(str(row["q"]).strip(), labels, str(row.get("source", ""))))
    return out


@dataclass(frozen=True)
class DialogueTurn:
    user: str
    expect: frozenset[str]      # entry ids, or one outcome of OUTCOMES


@dataclass(frozen=True)
class Dialogue:
    name: str
    turns: tuple[DialogueTurn, ...]
    file: str


def load_dialogues(folder: Path, names: tuple[str, ...] = ("test.yml",)) -> list[Dialogue]:
    out = []
    for name in names:
        path = folder / name
        if not path.exists():
            continue
        for row in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            turns = []
            for t in row["turns"]:
                expect = t["expect"]
                ids = [str(x).strip() for x in (expect if isinstance(expect, list) else [expect])]
                turns.append(DialogueTurn(str(t["user"]).strip(), frozenset(ids)))
            out.append(Dialogue(str(row.get("name", "")), tuple(turns), path.name))
    return out


def turn_right(expect: frozenset[str], decision: str, entry_id: str | None) -> bool:
    """Whether a reply meets a turn's expectation."""
    if "no_fact" in expect:
        return decision != "answer"
    if "clarify" in expect:
        return decision == "clarify"
    if "handoff" in expect:
        return decision == "handoff"
    if "smalltalk" in expect:
        return decision == "smalltalk"
    return decision == "answer" and entry_id in expect


def real_outcome(labels: frozenset[str], decision: str, entry_id: str | None) -> str:
    """right | wrong | clarified | handed_off | other, for one real question's reply."""
    if decision == "answer":
        return "right" if entry_id in labels else "wrong"
    if decision == "clarify":
        return "clarified"
    if decision == "handoff":
        return "handed_off"
    return "other"
