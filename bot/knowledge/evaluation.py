"""Evaluation questions, metrics, and threshold calibration on the dev split.

The eval set is split by a stable hash of each question: the dev half chooses the
thresholds, the test half (never seen by calibration) measures them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from bot.knowledge.index import WEIGHTED_SIGNALS, KnowledgeIndex, Signals, weighted_sum
from bot.knowledge.policy import Hit, Thresholds, decide, first_pick_confidence, likely_first
from bot.knowledge.ranker import calibration_table

NONE = "none"
# Weights searched for each fused signal (the best phrasing's dense score has weight 1)
WEIGHT_GRID = {
    "w_second": (0.0, 0.5, 1.0),
    "w_soft": (0.0, 0.5, 1.0),
    "w_lexical": (0.0, 0.1, 0.2, 0.3),
    "w_answer_dense": (0.0, 0.2, 0.4),
    "w_answer_lexical": (0.0, 0.1, 0.2, 0.3),
    "w_classifier": (0.0, 0.05, 0.1, 0.2),
}
# The fused score's weights an index is built with. The grid search below chose these on the
# dev split build after build (sessions 9-21), but it picks by top-1, and on 622 entries the
# best weightings differ by one dev question: 123 short phrasings added to the fee-reduction
# entries flipped it to (lexical 0.1, answer dense 0.4), and with the ranker refitted on top
# that alone moved dev dialogues 90 -> 84 and dev streams 560 -> 547 right. The ranker sees
# every single signal as a feature; the fusion only picks its candidates and gives it one more
# feature, so the weights are kept and the search is reported beside them (`fusion_dev_best`).
FUSION_WEIGHTS = {"w_second": 0.0, "w_soft": 0.0, "w_lexical": 0.2, "w_answer_dense": 0.2,
                  "w_answer_lexical": 0.2, "w_classifier": 0.2}
# Required 95% lower confidence bound of dev answered-precision (not the point estimate):
# with no wrong answer on dev this needs 62+ answered questions; the point estimate alone
# overfitted the dev split (0.99 on dev became 0.935 on test).
TARGET_PRECISION = 0.94
# Answering outright needs all four single signals to agree (policy, not searched): a
# search over votes x margin x score found lucky dev-only regions that failed on test.
MIN_VOTES = 4
Z_95 = 1.96


def wilson_lower(successes: int, n: int, z: float = Z_95) -> float:
    """Lower bound of the Wilson interval: a small dev split cannot promise more than this."""
    if n == 0:
        return 0.0
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
    return (centre - spread) / (1 + z * z / n)


@dataclass(frozen=True)
class EvalQuestion:
    text: str
    label: str
    file: str
    also: tuple[str, ...] = ()    # other entries that answer it as well (overlapping entries)

    @property
    def labels(self) -> frozenset[str]:
        """Every entry whose answer is right for the question (empty: none is)."""
        return frozenset(x for x in (self.label, *self.also) if x != NONE)

    @property
    def split(self) -> str:
        digest = hashlib.sha1(self.text.encode()).digest()
        return "dev" if digest[0] % 2 == 0 else "test"


def load_questions(folder: Path) -> list[EvalQuestion]:
    out: list[EvalQuestion] = []
    for path in sorted(folder.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for row in doc:
            also = tuple(str(a).strip() for a in row.get("also") or [])
            out.append(EvalQuestion(str(row["q"]).strip(), str(row["id"]).strip(), path.name, also))
    return out


@dataclass
class Scored:
    question: EvalQuestion
    signals: Signals


def acceptable(question: EvalQuestion, redirects: frozenset[str]) -> frozenset[str]:
    """The entries it is right to answer with: the labelled ones; for a question no entry
    covers, a redirection (it states no fact, it says where to go)."""
    return question.labels or (redirects if question.label == NONE else frozenset())


def score_all(index: KnowledgeIndex, questions: list[EvalQuestion]) -> list[Scored]:
    return [Scored(q, index.signals(q.text)) for q in questions]


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
    calibration: list[dict] = field(default_factory=list)   # the ranker's, on these questions
    decisions_in_kb: dict[str, int] = field(default_factory=dict)  # the same, answerable questions only
    # clarifies whose first pick is likely enough to show its answer first (LIKELY_SHOWN):
    # right / wrong for answerable questions, "uncovered" for questions no entry answers
    shown: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def evaluate(index: KnowledgeIndex, scored: list[Scored], th: Thresholds) -> Report:
    top1 = top3 = answered = right = none_answered = covered = answered_in_kb = 0
    decisions: Counter[str] = Counter()
    decisions_in_kb: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    wrong = []
    tops, firsts_right = [], []
    for s in scored:
        hits = index.rank(s.signals, th, 5)
        d = decide(hits, th, index.ranker)
        decisions[d.kind] += 1
        if s.question.label != NONE:
            decisions_in_kb[d.kind] += 1
        if hits and hits[0].probability is not None and index.ranker is not None:
            tops.append(first_pick_confidence(hits, index.ranker))
            firsts_right.append(hits[0].entry_id in acceptable(s.question, index.kb.redirects))
        label = s.question.label
        right_ids = acceptable(s.question, index.kb.redirects)
        ids = [h.entry_id for h in hits]
        if label != NONE:
            covered += 1
            top1 += bool(ids[:1]) and ids[0] in right_ids
            top3 += bool(right_ids & set(ids[:3]))
        if (likely := likely_first(d)) is not None:
            shown["uncovered" if label == NONE else ("right" if likely.entry_id in right_ids else "wrong")] += 1
        if d.kind == "answer":
            answered += 1
            answered_in_kb += label != NONE
            if hits[0].entry_id in right_ids:
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
        calibration=calibration_table(np.asarray(tops), np.asarray(firsts_right)) if tops else [],
        decisions_in_kb=dict(decisions_in_kb),
        shown=dict(shown),
    )


def _features(index: KnowledgeIndex, scored: list[Scored], th: Thresholds) -> list[tuple[list[Hit], str]]:
    return [(index.rank(s.signals, th, 5), s.question.label) for s in scored]


def choose_weights(index: KnowledgeIndex, dev: list[Scored]) -> Thresholds:
    """Signal weights with the best dev top-1 (then top-3); the plain dense score wins ties.

    Ranking needs only the fused scores, so every weighting is scored on stacked signal
    matrices at once rather than through `rank` (thousands of weightings in about a second)."""
    answerable = [s for s in dev if s.question.label != NONE]
    chosen = Thresholds.from_dict({w: 0.0 for w in WEIGHTED_SIGNALS.values()})
    if not answerable:
        return chosen
    ids = {e.id: i for i, e in enumerate(index.kb.entries)}
    labels = np.array([ids.get(s.question.label, -1) for s in answerable])
    stacked = {n: np.vstack([getattr(s.signals, n) for s in answerable]) for n in ("dense", *WEIGHTED_SIGNALS)}
    k = min(3, len(ids))
    best: tuple[float, float, float] | None = None
    for weights in itertools.product(*(WEIGHT_GRID[w] for w in WEIGHTED_SIGNALS.values())):
        th = Thresholds.from_dict(dict(zip(WEIGHTED_SIGNALS.values(), weights, strict=True)))
        fused = weighted_sum(stacked.__getitem__, th)
        top1 = float(np.mean(np.argmax(fused, axis=1) == labels))
        top = np.argpartition(-fused, k - 1, axis=1)[:, :k]
        top3 = float(np.mean((top == labels[:, None]).any(axis=1)))
        key = (top1, top3, -sum(weights))
        if best is None or key > best:
            best, chosen = key, th
    return chosen


def dev_top1(index: KnowledgeIndex, dev: list[Scored], weights: Thresholds) -> float:
    return _top1(_features(index, dev, weights))


def _top1(rows: list[tuple[list[Hit], str]]) -> float:
    """How often the fused score's first entry is the labelled one, over the answerable questions."""
    return float(np.mean([h[0].entry_id == label for h, label in rows if label != NONE]))


def calibrate(index: KnowledgeIndex, dev: list[Scored], target: float = TARGET_PRECISION,
              weights: Thresholds | None = None) -> tuple[Thresholds, dict]:
    """Signal weights for top-1 on dev; then most coverage whose answered-precision has a
    95% lower confidence bound >= target (about: no wrong answer in 62+ on dev).

    Ties go to the higher threshold (safer). The clarify floor keeps numbered options for
    questions whose right entry is in the top 3 while keeping uncovered questions out.
    """
    weights = weights if weights is not None else choose_weights(index, dev)
    rows = _features(index, dev, weights)
    tops = np.array([h[0].score for h, _ in rows])
    correct = np.array([h[0].entry_id == label for h, label in rows])
    votes = np.array([h[0].votes for h, _ in rows])
    # One family of rules (unanimous signals, then a score floor) keeps selection bias small.
    best: tuple[float, float, float] | None = None  # coverage, precision, threshold
    for t in np.unique(np.round(tops, 4)):
        mask = (tops >= t) & (votes >= MIN_VOTES)
        n_ans = int(mask.sum())
        if n_ans == 0:
            continue
        n_right = int(correct[mask].sum())
        if wilson_lower(n_right, n_ans) < target:
            continue
        cand = (n_ans / len(rows), n_right / n_ans, float(t))
        if best is None or cand > best:
            best = cand
    # nothing reaching the target means: answer nothing outright, clarify instead
    coverage, precision, t_answer = best if best is not None else (0.0, 1.0, 1.01)
    # each dev question above the floor: +1 if its entry is among the options, -1 if uncovered
    row_gain = np.array([-1 if label == NONE else int(label in [h.entry_id for h in hits[:3]])
                         for hits, label in rows])
    floor_best = (-(10**9), t_answer)
    for c in np.unique(np.round(tops, 4)):
        if c > t_answer:
            break
        gain = int(row_gain[tops >= c].sum())
        if gain > floor_best[0]:
            floor_best = (gain, float(c))
    th = dataclasses.replace(weights, answer=t_answer, margin=0.0, min_votes=MIN_VOTES,
                             clarify=min(floor_best[1], t_answer))
    info = {"dev_questions": len(dev), "dev_top1": round(_top1(rows), 4), "dev_coverage": round(coverage, 4),
            "dev_precision": round(precision, 4), "target_precision_lower_bound": target}
    return th, info
