"""When to answer, when to ask which question was meant, when to hand to a human.

Three things decide: the fused score of the best entry, its margin over the runner-up, and
how many of the single signals (phrasing dense, answer dense, phrasing lexical, answer
lexical) rank it first as well. Agreement proved the most reliable sign of a right answer.
A wrong fee or deadline can cost a user their patent, so the answer threshold is chosen
(by `calibrate`) for precision first and coverage second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, Protocol

DecisionKind = Literal["answer", "clarify", "handoff"]

# A clarify whose first candidate is this likely shows that candidate's answer, headed by its
# question, with the others below it by number: the user who meant it has the answer in one
# turn, and one who did not sees at once which question it answers. Not an answer outright
# (the eval counts it as clarified): on the dev split out of fold, first picks at 0.6-0.8 were
# right 73% of the time, at 0.8-0.9 87%, against the 98% an outright answer must keep.
LIKELY_SHOWN = 0.6


class RankerCut(Protocol):
    threshold: float     # answer confidence needed to answer outright
    clarify: float       # probability needed to be offered as an option

    def answer_confidence(self, first: float, second: float) -> float: ...


@dataclass(frozen=True)
class Hit:
    entry_id: str
    score: float
    dense: float
    lexical: float
    phrasing: str
    votes: int = 0          # how many single signals also rank this entry first (0-4)
    probability: float | None = None   # the ranker's probability that this entry answers the question


@dataclass(frozen=True)
class Thresholds:
    # weights of the signals next to the best phrasing's dense score (weight 1)
    w_second: float = 0.0           # the second-best phrasing's dense score
    w_soft: float = 0.0             # the soft maximum over all of an entry's phrasings
    w_lexical: float = 0.1          # character n-gram cosine with the best phrasing
    w_answer_dense: float = 0.2     # dense similarity with the answer (encoded as a passage)
    w_answer_lexical: float = 0.1   # character n-gram cosine with question + answer
    w_classifier: float = 0.0       # the entry classifier's probability
    answer: float = 0.85    # best score needed to answer outright
    margin: float = 0.03    # ...and its lead over the second-best entry
    min_votes: int = 4      # ...and this many single signals agreeing on it
    exact: float = 0.95     # or: the text is (nearly) one of the entry's own phrasings
    clarify: float = 0.70   # best score needed to offer numbered candidates
    max_candidates: int = 3

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> Thresholds:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    hits: tuple[Hit, ...]

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None


def likely_first(decision: Decision) -> Hit | None:
    """The first candidate of a clarify whose answer is shown first (LIKELY_SHOWN); only a
    ranker's probability counts (a fused score is no probability)."""
    if decision.kind != "clarify" or not decision.hits:
        return None
    first = decision.hits[0]
    return first if first.probability is not None and first.probability >= LIKELY_SHOWN else None


def margin_of(hits: list[Hit] | tuple[Hit, ...]) -> float:
    if not hits:
        return 0.0
    return hits[0].score - (hits[1].score if len(hits) > 1 else 0.0)


def first_pick_confidence(hits: list[Hit] | tuple[Hit, ...], ranker: RankerCut) -> float:
    """How likely the first pick is right, given the runner-up too (the ranker's Confidence)."""
    first = hits[0].probability or 0.0
    second = (hits[1].probability or 0.0) if len(hits) > 1 else 0.0
    return ranker.answer_confidence(first, second)


def decide(hits: list[Hit], th: Thresholds, ranker: RankerCut | None = None) -> Decision:
    """With a ranker: answer when its confidence in the first pick clears the calibrated
    threshold, offer the entries it finds plausible otherwise. Without one: the fused score
    and unanimity rules."""
    if ranker is not None and hits and hits[0].probability is not None:
        best = hits[0]
        if best.lexical >= th.exact or first_pick_confidence(hits, ranker) >= ranker.threshold:
            return Decision("answer", tuple(hits[: th.max_candidates]))
        close = [h for h in hits[: th.max_candidates] if (h.probability or 0.0) >= ranker.clarify]
        return Decision("clarify" if close else "handoff", tuple(close or hits[: th.max_candidates]))
    if not hits or hits[0].score < th.clarify:
        return Decision("handoff", tuple(hits[: th.max_candidates]))
    best = hits[0]
    if best.lexical >= th.exact or (best.score >= th.answer and margin_of(hits) >= th.margin
                                    and best.votes >= th.min_votes):
        return Decision("answer", tuple(hits[: th.max_candidates]))
    close = [h for h in hits[: th.max_candidates] if h.score >= th.clarify]
    return Decision("clarify", tuple(close))
