"""The retrieval index: dense vectors of every phrasing plus the character n-gram signal.

Persisted under var/index/ with the encoder's name and dimension and the knowledge
content hash; `load_or_build` refuses (or rebuilds) rather than serve a stale index.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.knowledge.classifier import EntryClassifier
from bot.knowledge.coverage import AnswerCoverage
from bot.knowledge.encoders import Encoder
from bot.knowledge.entries import Entry, KnowledgeBase
from bot.knowledge.facets import Facets
from bot.knowledge.lexical import CharNgramIndex, char_ngrams
from bot.knowledge.policy import Hit, Thresholds
from bot.knowledge.ranker import CANDIDATES, EntryProfile, Ranker, pair_features
from bot.knowledge.text import compact, normalize

log = logging.getLogger(__name__)
SOFT_T = 20.0
_AMOUNT = re.compile(r"\d[\d,.]*\s*(?:万|千)?元")
FORMAT_VERSION = 7
UNVOUCHED_CAP = 0.5        # probability at most, when no signal may vouch for an answer


class StaleIndexError(RuntimeError):
    """The stored index does not match the knowledge base or the encoder."""


@dataclass(frozen=True)
class Signals:
    dense: np.ndarray            # best phrasing's cosine, per entry
    second: np.ndarray           # second-best phrasing's cosine: one lucky phrasing is not enough
    soft: np.ndarray             # soft maximum over all phrasings: evidence from several close ones
    lexical: np.ndarray          # best phrasing's character n-gram cosine, per entry
    answer_dense: np.ndarray     # cosine with the answer text
    answer_lexical: np.ndarray   # character n-gram cosine with question + answer
    classifier: np.ndarray       # the entry classifier's probability (zeros without one)
    phrasing_dense: np.ndarray   # cosine with every phrasing (to name the closest one)
    other_office: bool = False   # the question names another patent office: never answered outright
    asks_amount: bool = False    # the question asks "how much": only an answer with an amount answers it
    facets: Facets | None = None # patent type, kind of question, terms, applicant (for the ranker)
    query_len: int = 0           # characters of the question without punctuation
    answer_cover: np.ndarray | None = None   # share of the question's rare wording in an entry's answer


# Signals fused next to the best phrasing's dense score (weight 1), with their weight's name
WEIGHTED_SIGNALS = {"second": "w_second", "soft": "w_soft", "lexical": "w_lexical", "answer_dense": "w_answer_dense",
                    "answer_lexical": "w_answer_lexical", "classifier": "w_classifier"}


def weighted_sum(signal: Callable[[str], np.ndarray], th: Thresholds) -> np.ndarray:
    """The dense score plus every weighted signal; `signal` looks one up by name, so the
    same sum serves one query's Signals and calibration's stacked matrices."""
    total = signal("dense")
    for name, weight in WEIGHTED_SIGNALS.items():
        w = getattr(th, weight)
        if w:
            total = total + w * signal(name)
    return total


def fuse(sig: Signals, th: Thresholds) -> np.ndarray:
    """Weighted mean of the signals; stays on the dense score's scale for the thresholds."""
    weights = 1.0 + sum(getattr(th, w) for w in WEIGHTED_SIGNALS.values())
    return weighted_sum(lambda name: getattr(sig, name), th) / weights


READINGS_MEMO = 16   # texts always remembered while serving: more than one message's readings


def encoder_slug(encoder_name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", encoder_name).strip("-").lower()


def index_dir(var_dir: Path, encoder_name: str) -> Path:
    return var_dir / "index" / encoder_slug(encoder_name)


@dataclass
class KnowledgeIndex:
    kb: KnowledgeBase
    encoder: Encoder
    vectors: np.ndarray                       # (n_phrasings, dim), L2-normalised
    phrasing_entry: np.ndarray                # (n_phrasings,) index into kb.entries
    phrasings: list[str]
    answer_vectors: np.ndarray                # (n_entries, dim): answers encoded as passages
    classifier: EntryClassifier | None = None # trained on the phrasing vectors (None: too many entries)
    ranker: Ranker | None = None              # learned rescoring of the best entries (None: fused score)
    thresholds: Thresholds = field(default_factory=Thresholds)
    built_seconds: float = 0.0
    calibration: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lexical = CharNgramIndex(self.phrasings)
        self._answer_lexical = CharNgramIndex([f"{e.question} {e.answer}" for e in self.kb.entries])
        self._answer_coverage = AnswerCoverage([e.answer for e in self.kb.entries], self.phrasings,
                                               self.phrasing_entry)
        self._entries = {e.id: e for e in self.kb.entries}
        self._positions = {e.id: i for i, e in enumerate(self.kb.entries)}
        self._encode_query: Callable[[str], np.ndarray] = self._encode_uncached
        self._states_amount = np.array([bool(_AMOUNT.search(e.answer)) for e in self.kb.entries], dtype=bool)
        self.profiles = [EntryProfile.of(e, bool(a)) for e, a in zip(self.kb.entries, self._states_amount, strict=True)]
        # build() lays each entry's phrasings out contiguously: per-entry maxima are reduceat
        owners = self.phrasing_entry
        grouped = len(owners) == 0 or (owners[0] == 0 and owners[-1] == len(self.kb.entries) - 1
                                       and bool(np.isin(np.diff(owners), (0, 1)).all()))
        if not grouped:
            raise StaleIndexError("phrasings are not grouped by entry; run `patentdesk index`")
        self._starts = np.flatnonzero(np.r_[True, np.diff(owners) != 0]) if len(owners) else owners
        self._stops = np.r_[self._starts[1:], len(owners)].astype(np.int64)

    # --- building -------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        kb: KnowledgeBase,
        encoder: Encoder,
        batch: int = 64,
        progress: Callable[[int, int], None] | None = None,
    ) -> KnowledgeIndex:
        start = time.perf_counter()
        phrasings: list[str] = []
        owner: list[int] = []
        for i, entry in enumerate(kb.entries):
            for p in entry.phrasings():
                phrasings.append(kb.glossary.apply(p))
                owner.append(i)
        answers = [normalize(e.answer) for e in kb.entries]
        total = len(phrasings) + len(answers)

        def encode(texts: list[str], passage: bool, done_before: int) -> np.ndarray:
            chunks = [np.zeros((0, encoder.dim), np.float32)]
            for lo in range(0, len(texts), batch):
                chunks.append(encoder.encode(texts[lo : lo + batch], passage=passage))
                if progress:
                    progress(done_before + min(lo + batch, len(texts)), total)
            return np.vstack(chunks)

        vectors = encode(phrasings, False, 0)
        answer_vectors = encode(answers, True, len(phrasings))
        owners = np.asarray(owner, dtype=np.int32)
        classifier = EntryClassifier.fit(vectors, owners, len(kb.entries))
        return cls(kb, encoder, vectors, owners, phrasings, answer_vectors, classifier,
                   built_seconds=time.perf_counter() - start)

    # --- querying ---------------------------------------------------------------------
    def entry(self, entry_id: str) -> Entry | None:
        return self._entries.get(entry_id)

    def profile(self, entry_id: str) -> EntryProfile | None:
        pos = self._positions.get(entry_id)
        return None if pos is None else self.profiles[pos]

    def cache_queries(self, size: int) -> None:
        """Remember the vectors of the last `size` distinct questions (after normalising).

        Encoding is 90% of a search's CPU (24 ms of 27 on one core) and served questions
        repeat: menu clicks send the same text, and popular questions come back in the same
        words. 0 keeps only the last READINGS_MEMO texts: a follow-up reads some of its texts
        twice (with and without the entry just given), and a question is encoded once."""
        self._encode_query = functools.lru_cache(maxsize=max(size, READINGS_MEMO))(self._encode_uncached)

    def _encode_uncached(self, text: str) -> np.ndarray:
        return self.encoder.encode([text])[0]

    def signals(self, query: str) -> Signals:
        """Per-entry similarities, kept apart so calibration can reweigh them."""
        q = self.kb.glossary.apply(query)
        qv = self._encode_query(q)
        grams = char_ngrams(q)   # cut once for both lexical signals
        phrasing_dense = self.vectors @ qv
        return Signals(
            dense=self._per_entry_max(phrasing_dense),
            second=self._per_entry_second(phrasing_dense),
            soft=self._per_entry_soft(phrasing_dense),
            lexical=self._per_entry_max(self._lexical.scores(grams)),
            answer_dense=self.answer_vectors @ qv,  # query side: the same `query:` vector
            answer_lexical=self._answer_lexical.scores(grams),
            classifier=(self.classifier.probabilities(qv) if self.classifier is not None
                        else np.zeros(len(self.kb.entries), np.float32)),
            phrasing_dense=phrasing_dense,
            other_office=self.kb.glossary.names_other_office(query),
            asks_amount=self.kb.glossary.asks_amount(query),
            facets=Facets.of(q),
            query_len=len(compact(query)),
            answer_cover=self._answer_coverage.scores(grams),
        )

    def _per_entry_max(self, per_phrasing: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(per_phrasing, self._starts) if len(per_phrasing) else per_phrasing

    def _per_entry_soft(self, per_phrasing: np.ndarray) -> np.ndarray:
        """log-sum-exp of an entry's phrasing cosines at temperature 1/SOFT_T: the best one,
        plus a little for every other phrasing nearly as close."""
        if not len(per_phrasing):
            return per_phrasing
        best = np.maximum.reduceat(per_phrasing, self._starts)
        spread = np.exp(SOFT_T * (per_phrasing - best[self.phrasing_entry]))
        return (best + np.log(np.add.reduceat(spread, self._starts)) / SOFT_T).astype(np.float32)

    def _per_entry_second(self, per_phrasing: np.ndarray) -> np.ndarray:
        """Second-best phrasing per entry (the best again for an entry with one phrasing, or
        whose best is tied). Masking each entry's best and taking the maximum again costs a
        fifth of sorting all phrasings (0.9 ms a search)."""
        if not len(per_phrasing):
            return per_phrasing
        best = np.maximum.reduceat(per_phrasing, self._starts)
        is_best = per_phrasing >= best[self.phrasing_entry]
        ties = np.add.reduceat(is_best.astype(np.int32), self._starts) > 1
        rest = np.maximum.reduceat(np.where(is_best, -np.inf, per_phrasing), self._starts)
        has_two = (self._stops - self._starts) > 1
        return np.where(has_two & ~ties, rest, best).astype(per_phrasing.dtype)

    def closest_phrasing(self, sig: Signals, entry: int) -> str:
        start, stop = int(self._starts[entry]), int(self._stops[entry])
        return self.phrasings[start + int(np.argmax(sig.phrasing_dense[start:stop]))]

    def candidate_features(self, sig: Signals, th: Thresholds, k: int = CANDIDATES,
                           exclude: frozenset[str] = frozenset(),
                           fused: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """The k best entries by fused score, their ranker features, and their single-signal votes."""
        fused = fuse(sig, th) if fused is None else fused
        firsts = [int(np.argmax(v)) for v in (sig.dense, sig.answer_dense, sig.lexical, sig.answer_lexical)] if len(fused) else []
        if sig.other_office:  # no signal vouches for an answer about another office's rules
            firsts = []
        order = [int(e) for e in np.argsort(-fused)[: k + len(exclude)] if self.kb.entries[int(e)].id not in exclude][:k]
        votes = []
        for e in order:
            # "how much" is not answered by an entry that names the fee but not its amount
            vouched = not sig.asks_amount or bool(self._states_amount[e])
            votes.append(sum(f == e for f in firsts) if vouched else 0)
        if not order:
            return np.zeros((0, 0)), np.zeros(0, np.int64), []
        best = float(fused[order[0]])
        answer_cover = sig.answer_cover if sig.answer_cover is not None else np.zeros(len(fused), np.float32)
        facets = sig.facets or Facets(frozenset(), None, frozenset(), None)
        rows = []
        for pos, e in enumerate(order):
            others = [float(fused[o]) for o in order if o != e]
            runner_up = max(others) if others else 0.0
            singles = {n: float(getattr(sig, n)[e]) for n in ("dense", *WEIGHTED_SIGNALS)}
            rows.append(pair_features(singles, float(fused[e]), best, runner_up, pos == 0, votes[pos], facets,
                                      self.profiles[e], sig.asks_amount, sig.other_office, sig.query_len,
                                      float(answer_cover[e])))
        return np.asarray(rows, dtype=np.float64), np.asarray(order, dtype=np.int64), votes

    def rank(self, sig: Signals, th: Thresholds, k: int, exclude: frozenset[str] = frozenset(),
             ranker: Ranker | None = None) -> list[Hit]:
        """The k best entries: by the ranker's probability when there is one, else by fused score."""
        ranker = ranker if ranker is not None else self.ranker
        fused = fuse(sig, th)
        rows, order, votes = self.candidate_features(sig, th, max(k, CANDIDATES), exclude, fused)
        probs = ranker.probabilities(rows) if ranker is not None and len(order) else None
        if probs is not None:
            # never an answer outright: another office's rules, or "how much" from an entry without an amount
            capped = np.array([sig.other_office or (sig.asks_amount and not self._states_amount[e]) for e in order])
            probs = np.where(capped, np.minimum(probs, UNVOUCHED_CAP), probs)
        hits = [Hit(self.kb.entries[int(e)].id, float(fused[e]), float(sig.dense[e]), float(sig.lexical[e]),
                    self.closest_phrasing(sig, int(e)), votes[i], None if probs is None else float(probs[i]))
                for i, e in enumerate(order)]
        if probs is not None:
            hits.sort(key=lambda h: -(h.probability or 0.0))
        return hits[:k]

    def search(self, query: str, k: int = 5, exclude: frozenset[str] = frozenset()) -> list[Hit]:
        return self.rank(self.signals(query), self.thresholds, k, exclude)

    # --- persistence ------------------------------------------------------------------
    def meta(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "encoder": self.encoder.name,
            "dim": int(self.encoder.dim),
            "content_hash": self.kb.content_hash,
            "entries": len(self.kb),
            "phrasings": len(self.phrasings),
            "thresholds": self.thresholds.to_dict(),
            "ranker": self.ranker.to_dict() if self.ranker is not None else None,
            "calibration": self.calibration,
            "built_seconds": round(self.built_seconds, 3),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def save(self, var_dir: Path) -> Path:
        folder = index_dir(var_dir, self.encoder.name)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "vectors.tmp.npz"
        extra = ({"classifier_coef": self.classifier.coef, "classifier_intercept": self.classifier.intercept}
                 if self.classifier is not None else {})
        np.savez(tmp, vectors=self.vectors, phrasing_entry=self.phrasing_entry, answer_vectors=self.answer_vectors,
                 **extra)
        tmp.replace(folder / "vectors.npz")
        (folder / "phrasings.json").write_text(json.dumps(self.phrasings, ensure_ascii=False), encoding="utf-8")
        # the encoded answer texts, so a later build can reuse their vectors (bot/knowledge/memory.py)
        answers = [normalize(e.answer) for e in self.kb.entries]
        (folder / "answers.json").write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")
        meta_tmp = folder / "meta.tmp.json"
        meta_tmp.write_text(json.dumps(self.meta(), ensure_ascii=False, indent=2), encoding="utf-8")
        meta_tmp.replace(folder / "meta.json")  # written last: a complete index has a meta
        return folder

    @classmethod
    def load(cls, var_dir: Path, kb: KnowledgeBase, encoder: Encoder) -> KnowledgeIndex:
        folder = index_dir(var_dir, encoder.name)
        meta_path = folder / "meta.json"
        if not meta_path.exists():
            raise StaleIndexError(f"no index for encoder {encoder.name} under {folder}; run `patentdesk index`")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            raise StaleIndexError("index format changed; run `patentdesk index`")
        if meta.get("encoder") != encoder.name or meta.get("dim") != encoder.dim:
            raise StaleIndexError(
                f"index was built with {meta.get('encoder')} (dim {meta.get('dim')}), "
                f"configured encoder is {encoder.name} (dim {encoder.dim}); run `patentdesk index`"
            )
        if meta.get("content_hash") != kb.content_hash:
            raise StaleIndexError(
                f"knowledge changed since the index was built ({meta.get('content_hash')} -> "
                f"{kb.content_hash}); run `patentdesk index`"
            )
        arrays = np.load(folder / "vectors.npz")
        phrasings = json.loads((folder / "phrasings.json").read_text(encoding="utf-8"))
        vectors = arrays["vectors"]
        if vectors.shape != (len(phrasings), encoder.dim):
            raise StaleIndexError("index files are inconsistent; run `patentdesk index`")
        classifier = (EntryClassifier(arrays["classifier_coef"], arrays["classifier_intercept"])
                      if "classifier_coef" in arrays else None)
        return cls(kb, encoder, vectors, arrays["phrasing_entry"], phrasings, arrays["answer_vectors"], classifier,
                   ranker=Ranker.from_dict(meta.get("ranker") or {}),
                   thresholds=Thresholds.from_dict(meta.get("thresholds", {})),
                   built_seconds=float(meta.get("built_seconds", 0.0)),
                   calibration=meta.get("calibration", {}))
