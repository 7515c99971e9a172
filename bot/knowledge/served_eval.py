"""The real-question, dialogue and computed sets, asked through the served assistant.

They go through Rasa (NLU, rules, actions, thresholds) exactly as `patentdesk ask` does, so
an intent that throws out a patent question, or a follow-up the context loses, counts
against the figures; the retrieval-only split figures cannot show either.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from bot.cli.ask import ask_all, ask_conversations
from bot.config import Settings
from bot.knowledge.eval_sets import (
    ComputedQuestion,
    Dialogue,
    RealQuestion,
    computed_outcome,
    real_outcome,
    shown_outcome,
    turn_right,
)
from bot.knowledge.evaluation import EvalQuestion


@dataclass
class RealReport:
    n: int
    n_covered: int
    covered: dict[str, int]          # right | wrong | clarified | handed_off | other
    uncovered: dict[str, int]        # the same outcomes for questions no entry answers
    wrong: list[dict] = field(default_factory=list)
    # clarifies that showed their likely answer first: was it the right one (covered questions),
    # or a fact shown for a question no entry answers (uncovered: right never happens there)
    covered_shown: dict[str, int] = field(default_factory=dict)
    uncovered_shown: dict[str, int] = field(default_factory=dict)

    @property
    def covered_right(self) -> float:
        return self.covered.get("right", 0) / self.n_covered if self.n_covered else 0.0

    @property
    def covered_wrong(self) -> float:
        return self.covered.get("wrong", 0) / self.n_covered if self.n_covered else 0.0

    @property
    def uncovered_answered(self) -> int:
        return sum(v for k, v in self.uncovered.items() if k in ("right", "wrong"))

    def as_dict(self) -> dict:
        return {"n": self.n, "n_covered": self.n_covered, "covered": self.covered, "uncovered": self.uncovered,
                "covered_right": round(self.covered_right, 4), "covered_wrong": round(self.covered_wrong, 4),
                "uncovered_answered": self.uncovered_answered, "wrong": self.wrong,
                "covered_shown": self.covered_shown, "uncovered_shown": self.uncovered_shown}


def _redirects(settings: Settings) -> frozenset[str]:
    from bot.knowledge.entries import load_knowledge
    from bot.knowledge.service import knowledge_dir

    return load_knowledge(knowledge_dir(settings)).redirects


async def real_report(settings: Settings, questions: list[RealQuestion]) -> RealReport:
    redirects = _redirects(settings)
    covered: Counter[str] = Counter()
    uncovered: Counter[str] = Counter()
    covered_shown: Counter[str] = Counter()
    uncovered_shown: Counter[str] = Counter()
    wrong = []
    by_text = {q.text: q for q in questions}
    async for row in ask_all(settings, [q.text for q in questions]):
        q = by_text[row["question"]]
        outcome = real_outcome(q.labels, row["decision"], row["entry_id"], redirects)
        (covered if q.labels else uncovered)[outcome] += 1
        if outcome == "wrong":
            wrong.append({"q": q.text, "expected": sorted(q.labels) or "none", "answered": row["entry_id"]})
        if (shown := shown_outcome(q.labels, row.get("shown"), redirects)) is not None:
            (covered_shown if q.labels else uncovered_shown)[shown] += 1
    n_covered = sum(1 for q in questions if q.labels)
    return RealReport(len(questions), n_covered, dict(covered), dict(uncovered), wrong,
                      dict(covered_shown), dict(uncovered_shown))


@dataclass
class DialogueReport:
    conversations: int
    turns: int
    right: int
    decisions: dict[str, int]
    misses: list[dict] = field(default_factory=list)
    shown: dict[str, int] = field(default_factory=dict)  # clarifies with a likely answer: right | wrong

    @property
    def turns_right(self) -> float:
        return self.right / self.turns if self.turns else 0.0

    def as_dict(self) -> dict:
        return {"conversations": self.conversations, "turns": self.turns, "right": self.right,
                "turns_right": round(self.turns_right, 4), "decisions": self.decisions, "misses": self.misses,
                "shown": self.shown}


async def dialogue_report(settings: Settings, dialogues: list[Dialogue]) -> DialogueReport:
    redirects = _redirects(settings)
    right = turns = 0
    decisions: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    misses = []
    async for row in ask_conversations(settings, [[t.user for t in d.turns] for d in dialogues]):
        d = dialogues[row["conversation"]]
        expect = d.turns[row["turn"]].expect
        ok = turn_right(expect, row["decision"], row["entry_id"], redirects)
        turns += 1
        right += ok
        decisions[row["decision"]] += 1
        if row.get("shown"):
            shown["right" if turn_right(expect, "answer", row["shown"], redirects) else "wrong"] += 1
        if not ok:
            misses.append({"dialogue": d.name, "turn": row["turn"], "user": row["question"],
                           "expected": sorted(expect), "decision": row["decision"], "entry_id": row["entry_id"]})
    return DialogueReport(len(dialogues), turns, right, dict(decisions), misses, dict(shown))


@dataclass
class ComputedReport:
    n: int
    outcomes: dict[str, int]
    misses: list[dict] = field(default_factory=list)

    @property
    def right(self) -> float:
        return self.outcomes.get("right", 0) / self.n if self.n else 0.0

    def as_dict(self) -> dict:
        return {"n": self.n, "outcomes": self.outcomes, "right": round(self.right, 4), "misses": self.misses}


async def computed_report(settings: Settings, questions: list[ComputedQuestion]) -> ComputedReport:
    outcomes: Counter[str] = Counter()
    misses = []
    by_text = {q.text: q for q in questions}
    async for row in ask_all(settings, [q.text for q in questions]):
        q = by_text[row["question"]]
        outcome = computed_outcome(q, row["decision"], row.get("asks"), row.get("value"))
        outcomes[outcome] += 1
        if outcome != "right":
            misses.append({"q": q.text, "outcome": outcome, "expected": {q.expect_kind: q.expect},
                           "decision": row["decision"], "asks": row.get("asks"), "value": row.get("value")})
    return ComputedReport(len(questions), dict(outcomes), misses)


STREAM_LENGTH = 4   # questions one user asks in a row, on unrelated topics


def streams_of(questions: list[EvalQuestion], length: int = STREAM_LENGTH) -> list[list[EvalQuestion]]:
    """The split's questions in conversations of `length`, in a fixed order that has nothing
    to do with their topics (a stable hash of each text), so one user changes the subject."""
    ordered = sorted(questions, key=lambda q: hashlib.sha1(("stream " + q.text).encode()).hexdigest())
    return [ordered[i:i + length] for i in range(0, len(ordered), length)]


@dataclass
class StreamReport:
    """The held-out questions asked after another, unrelated one by the same user: the
    conversation's context must not pull them to the earlier topic. Only the second and later
    questions of each conversation are counted (the first is the split's figure)."""

    conversations: int
    outcomes: dict[str, int]         # right | wrong | redirected | clarified | handed_off | other
    wrong: list[dict] = field(default_factory=list)

    @property
    def asked(self) -> int:
        """Questions counted (not first in their conversation)."""
        return sum(self.outcomes.values())

    def as_dict(self) -> dict:
        return {"conversations": self.conversations, "asked": self.asked, "outcomes": self.outcomes,
                "wrong": self.wrong}


async def stream_report(settings: Settings, questions: list[EvalQuestion]) -> StreamReport:
    redirects = _redirects(settings)
    streams = streams_of(questions)
    outcomes: Counter[str] = Counter()
    wrong = []
    async for row in ask_conversations(settings, [[q.text for q in s] for s in streams]):
        if row["turn"] == 0:
            continue
        stream = streams[row["conversation"]]
        q = stream[row["turn"]]
        outcome = real_outcome(q.labels, row["decision"], row["entry_id"], redirects)
        outcomes[outcome] += 1
        if outcome == "wrong":
            wrong.append({"before": stream[row["turn"] - 1].text, "q": q.text,
                          "expected": sorted(q.labels) or "none", "answered": row["entry_id"]})
    return StreamReport(len(streams), dict(outcomes), wrong)
