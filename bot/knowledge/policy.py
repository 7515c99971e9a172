"""When to answer, when to ask which question was meant, when to hand to a human.

Two numbers decide: the fused score of the best entry and its margin over the runner-up.
A wrong fee or deadline can cost a user their patent, so the answer threshold is chosen
(by `calibrate`) for precision first and coverage second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

DecisionKind = Literal["answer", "clarify", "handoff"]


@dataclass(frozen=True)
class Hit:
    entry_id: str
    score: float
    dense: float
    lexical: float
    phrasing: str


@dataclass(frozen=True)
class Thresholds:
    alpha: float = 0.8      # weight of the dense score in the fused score
    answer: float = 0.85    # best score needed to answer outright
    margin: float = 0.03    # ...and its lead over the second-best entry
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


def margin_of(hits: list[Hit] | tuple[Hit, ...]) -> float:
    if not hits:
        return 0.0
    return hits[0].score - (hits[1].score if len(hits) > 1 else 0.0)


def decide(hits: list[Hit], th: Thresholds) -> Decision:
    if not hits or hits[0].score < th.clarify:
        return Decision("handoff", tuple(hits[: th.max_candidates]))
    if hits[0].score >= th.answer and margin_of(hits) >= th.margin:
        return Decision("answer", tuple(hits[: th.max_candidates]))
    close = [h for h in hits[: th.max_candidates] if h.score >= th.clarify]
    return Decision("clarify", tuple(close))
