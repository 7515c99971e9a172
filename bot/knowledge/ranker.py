"""A learned ranker over the retrieval signals and the facets a patent-desk agent listens for.

The fused score says how close a question is to an entry's words; it cannot tell "发明专利
保护多少年" from "外观设计保护多少年", or "how much" from "by when". The ranker rescores
the few best entries with the signals plus facet agreement (patent type, kind of question,
procedural terms, amounts) and gives each a probability of being the right answer. It is
a logistic regression or boosted trees (whichever answers more dev questions right out of
fold), fitted at index time; its probability, checked out of fold on dev, sets the answer
threshold. Serving needs numpy only: the trees are kept as flat node arrays.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from bot.knowledge.entries import Entry
from bot.knowledge.facets import Facets, patent_types, question_kind, terms

CANDIDATES = 8          # entries rescored per question (by fused score)
FEATURES = (
    "fused", "dense", "second", "soft", "lexical", "answer_dense", "answer_lexical", "classifier",
    "gap_to_best", "lead", "is_first", "votes",
    "type_match", "type_conflict", "type_unasked", "kind_match", "kind_conflict",
    "term_overlap", "terms_missing", "terms_extra", "amount_stated", "amount_missing", "other_office",
    "short_query", "answer_cover",
)


@dataclass(frozen=True)
class EntryProfile:
    """An entry's facets, read from its question and phrasings (what it is about)."""

    types: frozenset[str]        # the patent types its question names (empty: all or none)
    kind: str | None
    terms: frozenset[str]        # procedural terms of its question and most phrasings
    all_terms: frozenset[str]    # every term in its phrasings and answer
    states_amount: bool

    @classmethod
    def of(cls, entry: Entry, states_amount: bool) -> EntryProfile:
        phrasings = entry.phrasings()
        counts: dict[str, int] = {}
        for p in phrasings:
            for t in terms(p):
                counts[t] = counts.get(t, 0) + 1
        core = {t for t, c in counts.items() if c >= max(2, 0.3 * len(phrasings))} | set(terms(entry.question))
        every = set(counts) | set(terms(entry.answer))
        return cls(patent_types(entry.question), question_kind(entry.question), frozenset(core),
                   frozenset(every), states_amount)


def pair_features(signals: dict[str, float], fused: float, best: float, runner_up: float, is_first: bool,
                  votes: int, q: Facets, e: EntryProfile, asks_amount: bool, other_office: bool,
                  query_len: int, answer_cover: float = 0.0) -> list[float]:
    type_match = bool(q.types & e.types)
    type_conflict = bool(q.types) and bool(e.types) and not (q.types & e.types)
    union = q.terms | e.terms
    overlap = len(q.terms & e.terms) / len(union) if union else 0.0
    return [
        fused, signals["dense"], signals["second"], signals["soft"], signals["lexical"],
        signals["answer_dense"], signals["answer_lexical"], signals["classifier"],
        best - fused, fused - runner_up if is_first else 0.0, float(is_first), votes / 4.0,
        float(type_match), float(type_conflict), float(not q.types and bool(e.types)),
        float(q.kind is not None and q.kind == e.kind),
        float(q.kind is not None and e.kind is not None and q.kind != e.kind),
        overlap, min(len(q.terms - e.all_terms), 3) / 3.0, min(len(e.terms - q.terms), 3) / 3.0,
        float(asks_amount and e.states_amount), float(asks_amount and not e.states_amount),
        float(other_office), float(query_len <= 6),
        answer_cover,
    ]


@dataclass(frozen=True)
class Trees:
    """Boosted regression trees as flat node arrays, all trees side by side.

    A leaf points to itself (threshold +inf), so every row walks every tree for `depth`
    steps with no branching in Python: a question's 8 candidates cost well under a
    millisecond. Same decision rule as scikit-learn's histogram boosting (go left when
    the value is <= the node's threshold)."""

    baseline: float
    roots: np.ndarray        # (n_trees,) node index of each tree's root
    feature: np.ndarray      # (n_nodes,) feature tested at the node
    threshold: np.ndarray    # (n_nodes,)
    left: np.ndarray         # (n_nodes,) absolute index of the left child (itself at a leaf)
    right: np.ndarray
    value: np.ndarray        # (n_nodes,) leaf value (raw score)
    depth: int

    def raw(self, rows: np.ndarray) -> np.ndarray:
        node = np.broadcast_to(self.roots, (len(rows), len(self.roots))).copy()
        at = np.arange(len(rows))[:, None]
        for _ in range(self.depth):
            go_left = rows[at, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return self.baseline + self.value[node].sum(axis=1)

    @classmethod
    def from_sklearn(cls, model) -> Trees:  # a fitted HistGradientBoostingClassifier (binary)
        roots: list[int] = []
        feature: list[int] = []
        left: list[int] = []
        right: list[int] = []
        threshold: list[float] = []
        value: list[float] = []
        depth = 0
        for (tree,) in model._predictors:
            nodes, offset = tree.nodes, len(feature)
            roots.append(offset)
            own = np.arange(len(nodes)) + offset
            leaf = nodes["is_leaf"].astype(bool)
            feature.extend(np.where(leaf, 0, nodes["feature_idx"]).tolist())
            threshold.extend(np.where(leaf, np.inf, nodes["num_threshold"]).tolist())
            left.extend(np.where(leaf, own, nodes["left"] + offset).tolist())
            right.extend(np.where(leaf, own, nodes["right"] + offset).tolist())
            value.extend(np.where(leaf, nodes["value"], 0.0).tolist())
            depth = max(depth, int(nodes["depth"].max()))
        return cls(float(np.ravel(model._baseline_prediction)[0]), np.array(roots, np.int64),
                   np.array(feature, np.int64), np.array(threshold), np.array(left, np.int64),
                   np.array(right, np.int64), np.array(value), depth)

    def to_dict(self) -> dict:
        return {"baseline": self.baseline, "roots": self.roots.tolist(), "feature": self.feature.tolist(),
                "threshold": [t if np.isfinite(t) else None for t in self.threshold.tolist()],
                "left": self.left.tolist(), "right": self.right.tolist(), "value": self.value.tolist(),
                "depth": self.depth}

    @classmethod
    def from_dict(cls, raw: dict) -> Trees:
        return cls(float(raw["baseline"]), np.array(raw["roots"], np.int64), np.array(raw["feature"], np.int64),
                   np.array([np.inf if t is None else t for t in raw["threshold"]], np.float64),
                   np.array(raw["left"], np.int64), np.array(raw["right"], np.int64),
                   np.array(raw["value"], np.float64), int(raw["depth"]))


@dataclass(frozen=True)
class Confidence:
    """How likely the first pick is right, read from its probability and the runner-up's.

    The pair probabilities are scored one candidate at a time: 0.86 for the first pick means
    something else when the second has 0.02 than when it has 0.7. A logistic regression
    over the two, fitted on the dev split's out-of-fold probabilities, answered 74% of dev
    questions right at 98% precision where the first probability alone answered 69%."""

    w_first: float
    w_second: float
    intercept: float

    def __call__(self, first: float, second: float) -> float:
        return float(1.0 / (1.0 + np.exp(-(self.w_first * first + self.w_second * second + self.intercept))))


@dataclass
class Ranker:
    """Pair features to a probability: logistic regression on standardised features, or
    boosted trees (`trees`) on the raw ones. numpy only at serving time."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 1.01      # answer confidence needed to answer outright (set by calibration)
    clarify: float = 0.15        # best probability needed to offer numbered options
    trees: Trees | None = None
    confidence: Confidence | None = None   # None: the first pick's probability is the confidence

    @property
    def kind(self) -> str:
        return "trees" if self.trees is not None else "logistic"

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if self.trees is not None:
            z = self.trees.raw(rows)
        else:
            z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def answer_confidence(self, first: float, second: float) -> float:
        """What the answer threshold is compared with: how likely the first pick is right."""
        return first if self.confidence is None else self.confidence(first, second)

    def to_dict(self) -> dict:
        return {"features": list(FEATURES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "threshold": self.threshold,
                "clarify": self.clarify, "trees": self.trees.to_dict() if self.trees is not None else None,
                "confidence": dataclasses.asdict(self.confidence) if self.confidence is not None else None}

    @classmethod
    def from_dict(cls, raw: dict) -> Ranker | None:
        if not raw or raw.get("features") != list(FEATURES):
            return None
        trees = Trees.from_dict(raw["trees"]) if raw.get("trees") else None
        confidence = Confidence(**raw["confidence"]) if raw.get("confidence") else None
        return cls(np.array(raw["mean"]), np.array(raw["scale"]), np.array(raw["coef"]), float(raw["intercept"]),
                   float(raw["threshold"]), float(raw["clarify"]), trees, confidence)


BUCKETS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1.0001)


def calibration_table(tops: np.ndarray, right: np.ndarray) -> list[dict]:
    """Predicted probability of the first pick against how often it was right, by bucket."""
    rows = []
    for lo, hi in zip(BUCKETS, BUCKETS[1:], strict=False):
        m = (tops >= lo) & (tops < hi)
        rows.append({"bucket": f"{lo:.2f}-{min(hi, 1.0):.2f}", "n": int(m.sum()),
                     "predicted": round(float(tops[m].mean()), 3) if m.any() else None,
                     "observed": round(float(right[m].mean()), 3) if m.any() else None})
    return rows
