"""Fitting the ranker: examples from the knowledge's own phrasings and from the dev split.

The dev split alone has too few wrong first picks to learn from (its top-1 is 0.97, and
the fused weights were chosen on it). Each alternative phrasing of an entry, asked as if
it were not in the index (left out of the dense, lexical and classifier signals), is a
question whose right entry is known and whose near misses are realistic: thousands of
examples of exactly the confusions the ranker must fix. The dev questions (uncovered
ones included) are added on top, and the answer threshold is read off the dev split's
out-of-fold answer confidence (the first pick's probability against the runner-up's, see
ranker.Confidence), never off the examples a model was fitted on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from bot.knowledge.classifier import EntryClassifier
from bot.knowledge.facets import Facets
from bot.knowledge.index import KnowledgeIndex, Signals
from bot.knowledge.lexical import char_ngrams
from bot.knowledge.policy import Thresholds
from bot.knowledge.ranker import Confidence, Ranker, Trees, calibration_table
from bot.knowledge.text import compact

FOLDS = 5
# How many ways the dev questions are dealt into folds for the answer threshold. With one
# deal, which fifth a handful of hard questions fell into moved the threshold from 0.904 to
# 0.920 on the same model (test split 674-717 answered right); the median of three deals'
# thresholds stayed within 0.910-0.911 over the four deals of six tried.
DEALS = 3
C_GRID = (0.1, 0.3, 1.0, 3.0)
# Boosted trees tried beside the logistic regression: (iterations, learning rate, leaves per
# tree, least rows per leaf). Trees see interactions the linear model cannot (a type conflict
# matters more when the lead is small); on the dev split out of fold they answer 73-77% right
# against 70%. A second spec, (500, 0.03, 15, 80), lost on every one of three deals (72-74%)
# and on the test split (660-677 right, 10-11 wrong, against 674-706 and 7): its 18 s a deal
# now go to the extra deals.
TREE_GRID = ((300, 0.05, 15, 40),)
DEV_WEIGHT = 3.0             # a real question counts for more than a left-out phrasing
# A dev question no entry answers counts half as much again: the dev split grew by 497 answerable
# questions (data/eval/wechat_written.yml) and no uncovered ones, and at equal weight the uncovered
# questions' share of the dev weight fell from 11% to 7%: the held-out uncovered questions answered
# with a fact rose from 2 to 4. At 1.5x they keep the share they had (3 answered on the test split).
UNCOVERED_DEV_WEIGHT = 1.5 * DEV_WEIGHT
TARGET_PRECISION = 0.98      # out-of-fold dev precision the answer threshold must keep (issue 14's bar)
MIN_ANSWERED = 40             # answers needed before that precision is judged
MARGINAL_WINDOW = 20        # the answers nearest the threshold...
MARGINAL_PRECISION = 0.95   # ...must still be this precise
CLARIFY_FLOOR = 0.10         # below this best probability nobody is offered options
CONFIDENCE_C = 0.3           # regularisation of the answer confidence (first and second probability)


Spec = float | tuple[int, float, int, int]   # a logistic regression's C, or a TREE_GRID row


@dataclass
class Examples:
    rows: np.ndarray        # (n_pairs, n_features)
    labels: np.ndarray      # 1: the candidate is the right entry
    groups: np.ndarray      # which question each pair belongs to
    weights: np.ndarray

    @classmethod
    def empty(cls, n_features: int) -> Examples:
        return cls(np.zeros((0, n_features)), np.zeros(0, int), np.zeros(0, int), np.zeros(0))

    def __add__(self, other: Examples) -> Examples:
        offset = int(self.groups.max()) + 1 if len(self.groups) else 0
        return Examples(np.vstack([self.rows, other.rows]), np.r_[self.labels, other.labels],
                        np.r_[self.groups, other.groups + offset], np.r_[self.weights, other.weights])

    def take(self, mask: np.ndarray) -> Examples:
        return Examples(self.rows[mask], self.labels[mask], self.groups[mask], self.weights[mask])


def examples_from(index: KnowledgeIndex, signals: list[Signals], labels: list[set[str]], th: Thresholds,
                  weight: float) -> Examples:
    rows, ys, groups = [], [], []
    for g, (sig, right) in enumerate(zip(signals, labels, strict=True)):
        feats, order, _ = index.candidate_features(sig, th)
        for r, e in zip(feats, order, strict=True):
            rows.append(r)
            ys.append(int(index.kb.entries[int(e)].id in right))
            groups.append(g)
    if not rows:
        return Examples.empty(0)
    return Examples(np.asarray(rows), np.asarray(ys), np.asarray(groups), np.full(len(ys), weight))


def dev_examples(index: KnowledgeIndex, signals: list[Signals], labels: list[set[str]], th: Thresholds,
                 uncovered: list[bool] | None = None) -> Examples:
    """The dev questions' candidate pairs, weighed DEV_WEIGHT, or UNCOVERED_DEV_WEIGHT for a
    question no entry answers."""
    ex = examples_from(index, signals, labels, th, DEV_WEIGHT)
    none = [g for g, flag in enumerate(uncovered or []) if flag]
    ex.weights[np.isin(ex.groups, none)] = UNCOVERED_DEV_WEIGHT
    return ex


def left_out_signals(index: KnowledgeIndex) -> tuple[list[Signals], list[set[str]]]:
    """Signals of every alternative phrasing with itself left out of the index."""
    owners = index.phrasing_entry
    fold = np.zeros(len(owners), np.int64)
    for start, stop in zip(index._starts, index._stops, strict=True):
        fold[start:stop] = np.arange(stop - start) % FOLDS
    classifiers: list[EntryClassifier | None] = []
    for f in range(FOLDS):
        keep = fold != f
        classifiers.append(EntryClassifier.fit(index.vectors[keep], owners[keep], len(index.kb.entries),
                                               start=index.classifier)
                           if index.classifier is not None else None)
    zeros = np.zeros(len(index.kb.entries), np.float32)
    out: list[Signals] = []
    labels: list[set[str]] = []
    for i, text in enumerate(index.phrasings):
        if i in set(index._starts.tolist()):
            continue  # the standard question is also inside the answer signal: not left out cleanly
        qv = index.vectors[i]
        per_phrasing = index.vectors @ qv
        per_phrasing[i] = -1.0
        grams = char_ngrams(text)   # cut once for the three signals of its words
        lexical = index._lexical.scores(grams)
        lexical[i] = 0.0
        clf = classifiers[int(fold[i])]
        out.append(Signals(
            dense=index._per_entry_max(per_phrasing), second=index._per_entry_second(per_phrasing),
            soft=index._per_entry_soft(per_phrasing), lexical=index._per_entry_max(lexical),
            answer_dense=index.answer_vectors @ qv, answer_lexical=index._answer_lexical.scores(grams),
            classifier=clf.probabilities(qv) if clf is not None else zeros, phrasing_dense=per_phrasing,
            other_office=index.kb.glossary.names_other_office(text), asks_amount=index.kb.glossary.asks_amount(text),
            facets=Facets.of(text), query_len=len(compact(text)),
            answer_cover=index._answer_coverage.scores(grams)))
        labels.append({index.kb.entries[int(owners[i])].id})
    return out, labels


def first_picks(probabilities: np.ndarray, ex: Examples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per question: the best candidate's probability, the runner-up's (0 when alone), and
    whether the best is right."""
    first, second, right = [], [], []
    for g in np.unique(ex.groups):
        m = ex.groups == g
        order = np.argsort(-probabilities[m], kind="stable")   # ties: the first, as argmax
        first.append(float(probabilities[m][order[0]]))
        second.append(float(probabilities[m][order[1]]) if len(order) > 1 else 0.0)
        right.append(bool(ex.labels[m][order[0]]))
    return np.asarray(first), np.asarray(second), np.asarray(right)


def _fit_confidence(pairs: np.ndarray, right: np.ndarray) -> Confidence | None:
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(right)) < 2:   # nothing to tell apart: the first probability stands (None)
        return None
    model = LogisticRegression(C=CONFIDENCE_C, max_iter=2000).fit(pairs, right)
    (w_first, w_second), = model.coef_
    return Confidence(float(w_first), float(w_second), float(model.intercept_[0]))


def confidence_out_of_fold(probabilities: np.ndarray, ex: Examples) -> tuple[np.ndarray, np.ndarray, Confidence | None]:
    """The answer confidence of each dev question's first pick, out of fold (what the
    threshold is read from), whether that pick is right, and the Confidence fitted on all."""
    first, second, right = first_picks(probabilities, ex)
    pairs = np.c_[first, second]
    fold = np.arange(len(right)) % FOLDS
    oof = np.zeros(len(right))
    for f in range(FOLDS):
        c = _fit_confidence(pairs[fold != f], right[fold != f])
        oof[fold == f] = [c(a, b) if c is not None else a for a, b in pairs[fold == f]]
    return oof, right, _fit_confidence(pairs, right)


def answer_threshold(tops: np.ndarray, right: np.ndarray, target: float = TARGET_PRECISION) -> float:
    """The lowest probability at which the dev questions answered (those at or above it) are
    still right >= target, and the last MARGINAL_WINDOW answers it lets in are still right
    >= MARGINAL_PRECISION (so a run of misses just above it cannot hide behind the many
    easy answers). Sets of fewer than MIN_ANSWERED answers are not chosen: their precision
    says too little."""
    chosen = 1.01
    order = np.argsort(-tops)
    for n in range(MIN_ANSWERED, len(order) + 1):
        answered = right[order[:n]]
        if answered.mean() >= target and answered[-MARGINAL_WINDOW:].mean() >= MARGINAL_PRECISION:
            chosen = float(tops[order[n - 1]])
    return chosen


def clarify_floor(probabilities: np.ndarray, ex: Examples, threshold: float) -> float:
    """The least best-probability that still offers options: each dev question above it counts
    +1 if its entry is among the three offered, -1 if no entry answers it (keep those out)."""
    rows = []
    for g in np.unique(ex.groups):
        m = ex.groups == g
        order = np.argsort(-probabilities[m])
        covered = bool(ex.labels[m].any())
        rows.append((float(probabilities[m][order[0]]), 1 if covered and ex.labels[m][order[:3]].any() else
                     (-1 if not covered else 0)))
    best_gain, chosen = -(10**9), max(CLARIFY_FLOOR, 0.0)
    for c in sorted({round(p, 4) for p, _ in rows}):
        if c > threshold:
            break
        gain = sum(v for p, v in rows if p >= c)
        if gain > best_gain and c >= CLARIFY_FLOOR:
            best_gain, chosen = gain, c
    return chosen


def dev_folds(dev_ex: Examples, deal: int) -> np.ndarray:
    """Each dev pair's fold: deal 0 in the questions' order, later deals shuffled (seeded)."""
    dev_groups = np.unique(dev_ex.groups)
    place = np.arange(len(dev_groups)) if deal == 0 else np.random.RandomState(deal).permutation(len(dev_groups))
    fold_of = dict(zip(dev_groups.tolist(), (place % FOLDS).tolist(), strict=True))
    return np.array([fold_of[int(g)] for g in dev_ex.groups])


def out_of_fold(phrasing_ex: Examples, dev_ex: Examples, dev_fold: np.ndarray, spec: Spec) -> np.ndarray:
    oof = np.zeros(len(dev_ex.labels))
    for f in range(FOLDS):
        oof[dev_fold == f] = _fit(phrasing_ex + dev_ex.take(dev_fold != f), spec).probabilities(
            dev_ex.rows[dev_fold == f])
    return oof


def dealt_threshold(phrasing_ex: Examples, dev_ex: Examples, spec: Spec, first_deal: np.ndarray,
                    deals: int = DEALS) -> tuple[float, list[float]]:
    """The median of the answer thresholds read off `deals` deals of the dev questions into
    folds (`first_deal`: deal 0's out-of-fold probabilities, already computed)."""
    thresholds = []
    for deal in range(deals):
        oof = first_deal if deal == 0 else out_of_fold(phrasing_ex, dev_ex, dev_folds(dev_ex, deal), spec)
        tops, right, _ = confidence_out_of_fold(oof, dev_ex)
        thresholds.append(answer_threshold(tops, right))
    return float(np.median(thresholds)), thresholds


def fit_ranker(index: KnowledgeIndex, dev_signals: list[Signals], dev_labels: list[set[str]],
               th: Thresholds, dev_uncovered: list[bool] | None = None) -> tuple[Ranker, dict]:
    """`dev_uncovered`: which dev questions no entry answers (they weigh UNCOVERED_DEV_WEIGHT)."""
    loo_signals, loo_labels = left_out_signals(index)
    phrasing_ex = examples_from(index, loo_signals, loo_labels, th, 1.0)
    dev_ex = dev_examples(index, dev_signals, dev_labels, th, dev_uncovered)
    dev_groups = np.unique(dev_ex.groups)
    dev_fold = dev_folds(dev_ex, 0)
    best: tuple[float, float, Spec, np.ndarray, float, Confidence | None, np.ndarray, np.ndarray] | None = None
    tried = []
    covered = np.array([bool(dev_ex.labels[dev_ex.groups == g].any()) for g in dev_groups])
    specs: list[Spec] = [*C_GRID, *TREE_GRID]
    for spec in specs:   # chosen on deal 0, the same deal for every model
        oof = out_of_fold(phrasing_ex, dev_ex, dev_fold, spec)
        tops, right, confidence = confidence_out_of_fold(oof, dev_ex)
        t = answer_threshold(tops, right)
        answered_right = float(((tops >= t) & right & covered).sum() / max(covered.sum(), 1))
        loss = _log_loss(oof, dev_ex.labels)
        tried.append({"model": _describe(spec), "dev_oof_answered_right": round(answered_right, 4),
                      "log_loss": round(loss, 4)})
        key = (answered_right, -loss)
        if best is None or key > best[:2]:
            best = (answered_right, -loss, spec, oof, t, confidence, tops, right)
    assert best is not None
    _, _, spec, oof, _, confidence, tops, right = best
    threshold, per_deal = dealt_threshold(phrasing_ex, dev_ex, spec, oof)
    ranker = dataclasses.replace(_fit(phrasing_ex + dev_ex, spec), threshold=threshold, confidence=confidence,
                                 clarify=clarify_floor(oof, dev_ex, threshold))
    info = {"model": _describe(spec), "tried": tried, "phrasing_examples": int(len(np.unique(phrasing_ex.groups))),
            "dev_examples": int(len(dev_groups)), "answer_threshold": round(ranker.threshold, 4),
            "answer_threshold_per_deal": [round(t, 4) for t in per_deal],
            "confidence": dataclasses.asdict(confidence) if confidence is not None else None,
            "calibration_dev_oof": calibration_table(tops, right)}
    return ranker, info


def _describe(spec: Spec) -> str:
    if isinstance(spec, tuple):
        return "trees(iterations={}, learning_rate={}, leaves={}, min_leaf={})".format(*spec)
    return f"logistic(C={spec})"


def _fit(ex: Examples, spec: Spec) -> Ranker:
    mean = ex.rows.mean(axis=0)
    scale = ex.rows.std(axis=0)
    scale[scale < 1e-6] = 1.0
    if isinstance(spec, tuple):
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        iterations, rate, leaves, min_leaf = spec
        trees = HistGradientBoostingClassifier(max_iter=iterations, learning_rate=rate, max_leaf_nodes=leaves,
                                               min_samples_leaf=min_leaf, l2_regularization=1.0,
                                               early_stopping=False, random_state=0)
        # no early stopping: it held out a random tenth of the rows, which moved with every edit
        # of the knowledge, so one phrasing removed changed the threshold (0.9162 -> 0.9203) and
        # eight test dialogue turns; with every row and a fixed number of trees two such builds
        # agree (0.9066 / 0.9065), and they answer more (test split 74.2% -> 76.4%, same precision)
        # one OpenMP thread: a build shares the machine with serving (and on a busy machine
        # spinning OpenMP threads cost far more than they save on a 50,000-row fit)
        with threadpool_limits(limits=1, user_api="openmp"):
            trees.fit(ex.rows, ex.labels, sample_weight=ex.weights)
        return Ranker(mean, scale, np.zeros(len(mean)), 0.0, trees=Trees.from_sklearn(trees))
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=spec, max_iter=3000)
    model.fit((ex.rows - mean) / scale, ex.labels, sample_weight=ex.weights)
    return Ranker(mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]))


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


__all__ = ["fit_ranker", "calibration_table", "first_picks", "answer_threshold", "Examples"]
