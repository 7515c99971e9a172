"""The measuring sets besides the split eval questions: real public questions, dialogues and
computed questions (fees and time limits for the user's own case).

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


def turn_right(expect: frozenset[str], decision: str, entry_id: str | None,
               redirects: frozenset[str] = frozenset()) -> bool:
    """Whether a reply meets a turn's expectation."""
    if "no_fact" in expect:  # no fact: not answered, or answered with a redirection or the entry named
        return decision != "answer" or entry_id in expect or entry_id in redirects
    if "clarify" in expect:
        return decision == "clarify"
    if "handoff" in expect:
        return decision == "handoff"
    if "smalltalk" in expect:
        return decision == "smalltalk"
    return decision == "answer" and entry_id in expect


def real_outcome(labels: frozenset[str], decision: str, entry_id: str | None,
                 redirects: frozenset[str] = frozenset()) -> str:
    """right | wrong | redirected | clarified | handed_off | other, for one real question's
    reply; "redirected": a question no entry covers, answered by saying where to go."""
    if decision == "answer":
        if not labels and entry_id in redirects:
            return "redirected"
        return "right" if entry_id in labels else "wrong"
    if decision == "clarify":
        return "clarified"
    if decision == "handoff":
        return "handed_off"
    return "other"


def shown_outcome(labels: frozenset[str], shown: str | None, redirects: frozenset[str] = frozenset()) -> str | None:
    """For a clarify that showed its likely answer first: whether that answer was the right one
    (right | wrong | redirected, as for an answer); None when nothing was shown."""
    if not shown:
        return None
    return real_outcome(labels, "answer", shown, redirects)


@dataclass(frozen=True)
class ComputedQuestion:
    text: str
    kind: str
    expect_kind: str            # "date" | "amount" | "ask"
    expect: str                 # ISO date, yuan as a string, or the fact to ask for
    split: str


def load_computed(folder: Path, splits: tuple[str, ...] = ("test",)) -> list[ComputedQuestion]:
    """data/eval/computed/{dev,test}.yml: each figure worked out by hand from the rules."""
    out = []
    for split in splits:
        path = folder / f"{split}.yml"
        if not path.exists():
            continue
        for row in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            (expect_kind, value), = dict(row["expect"]).items()
            out.append(ComputedQuestion(str(row["q"]).strip(), str(row.get("kind", "")), str(expect_kind),
                                        str(value), split))
    return out


def computed_outcome(q: ComputedQuestion, decision: str, asks: str | None, value: object) -> str:
    """right; wrong (a figure that is not the expected one, or a figure where a fact was
    missing); or other (asked, clarified or handed off instead of answering)."""
    if q.expect_kind == "ask":
        if asks == q.expect:
            return "right"
        return "wrong" if value is not None else "other"
    if value is None:
        return "other"
    return "right" if str(value) == q.expect else "wrong"
