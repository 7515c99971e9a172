"""Evaluation questions, metrics, and threshold calibration on the dev split.

The eval set is split by a stable hash of each question: the dev half chooses the
thresholds, the test half (never seen by calibration) measures them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.policy import Hit, Thresholds, decide, margin_of

NONE = "none"
ALPHAS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0)
MARGINS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1)
TARGET_PRECISION = 0.99


@dataclass(frozen=True)
class EvalQuestion:
    text: str
    label: str
    file: str

    @property
    def split(self) -> str:
        digest = hashlib.sha1(self.text.encode()).digest()
        return "dev" if digest[0] % 2 == 0 else "test"


def load_questions(folder: Path) -> list[EvalQuestion]:
    out: list[EvalQuestion] = []
    for path in sorted(folder.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for row in doc:
            out.append(EvalQuestion(str(row["q"]).strip(), str(row["id"]).strip(), path.name))
    return out


@dataclass
class Scored:
    question: EvalQuestion
    dense: np.ndarray
    lexical: np.ndarray


def score_all(index: KnowledgeIndex, questions: list[EvalQuestion]) -> list[Scored]:
    return [Scored(q, *index.signals(q.text)) for q in questions]


@dataclass
class Report:
    n: int
    n_covered: int
    top1: float
    top3: float
    coverage: float            # share of all questions answered outright
    coverage_in_kb: float      # share of answerable questions answered outright
    answered_precision: float
    none_answered: int
    decisions: dict[str, int]
    wrong: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def evaluate(index: KnowledgeIndex, scored: list[Scored], th: Thresholds) -> Report:
    top1 = top3 = answered = right = none_answered = covered = answered_in_kb = 0
    decisions: Counter[str] = Counter()
    wrong = []
    for s in scored:
        hits = index.rank(s.dense, s.lexical, th.alpha, 5)
        d = decide(hits, th)
        decisions[d.kind] += 1
        label = s.question.label
        ids = [h.entry_id for h in hits]
        if label != NONE:
            covered += 1
            top1 += ids[:1] == [label]
            top3 += label in ids[:3]
        if d.kind == "answer":
            answered += 1
            answered_in_kb += label != NONE
            if hits[0].entry_id == label:
                right += 1
            else:
                none_answered += label == NONE
                wrong.append({"q": s.question.text, "expected": label, "answered": hits[0].entry_id,
                              "score": round(hits[0].score, 4), "file": s.question.file})
    n = len(scored)
    return Report(
        n=n, n_covered=covered,
        top1=top1 / covered if covered else 0.0,
        top3=top3 / covered if covered else 0.0,
        coverage=answered / n if n else 0.0,
        coverage_in_kb=answered_in_kb / covered if covered else 0.0,
        answered_precision=right / answered if answered else 1.0,
        none_answered=none_answered,
        decisions=dict(decisions),
        wrong=wrong,
    )


def _features(index: KnowledgeIndex, scored: list[Scored], alpha: float) -> list[tuple[list[Hit], str]]:
    return [(index.rank(s.dense, s.lexical, alpha, 5), s.question.label) for s in scored]


def calibrate(index: KnowledgeIndex, dev: list[Scored], target: float = TARGET_PRECISION) -> tuple[Thresholds, dict]:
    """Most coverage at answered-precision >= target on dev; then the clarify floor.

    Ties go to the higher threshold (safer). The clarify floor keeps numbered options for
    questions whose right entry is in the top 3 while keeping uncovered questions out.
    """
    best: tuple[float, float, float, float, float] | None = None  # coverage, precision, alpha, t, m
    for alpha in ALPHAS:
        rows = _features(index, dev, alpha)
        tops = np.array([h[0].score for h, _ in rows])
        margins = np.array([margin_of(h) for h, _ in rows])
        correct = np.array([h[0].entry_id == label for h, label in rows])
        for t in np.unique(np.round(tops, 4)):
            for m in MARGINS:
                mask = (tops >= t) & (margins >= m)
                n_ans = int(mask.sum())
                if n_ans == 0:
                    continue
                precision = float(correct[mask].mean())
                if precision < target:
                    continue
                cand = (n_ans / len(rows), precision, alpha, float(t), m)
                if best is None or cand[:2] > best[:2] or (cand[:2] == best[:2] and cand[3] > best[3]):
                    best = cand
    if best is None:  # nothing reaches the target: answer nothing outright, clarify instead
        alpha, t_answer, m = 0.8, 1.01, 0.0
        coverage, precision = 0.0, 1.0
    else:
        coverage, precision, alpha, t_answer, m = best
    rows = _features(index, dev, alpha)
    floor_best = (-(10**9), t_answer)
    for c in sorted({round(h[0].score, 4) for h, _ in rows}):
        if c > t_answer:
            break
        gain = 0
        for hits, label in rows:
            if hits[0].score < c:
                continue
            if label == "none":
                gain -= 1
            elif label in [h.entry_id for h in hits[:3]]:
                gain += 1
        if gain > floor_best[0]:
            floor_best = (gain, c)
    th = Thresholds(alpha=alpha, answer=t_answer, margin=m, clarify=min(floor_best[1], t_answer))
    info = {"dev_questions": len(dev), "dev_coverage": round(coverage, 4),
            "dev_precision": round(precision, 4), "target_precision": target}
    return th, info
