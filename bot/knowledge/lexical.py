"""Lexical signal: TF-IDF cosine over characters and character bigrams.

Measured here (shared notes): character n-grams beat jieba words on colloquial, typo-laden
questions. A cosine stays in [0, 1] for every query, so it fuses with the dense score
under one fixed weight, which raw BM25 scores (unbounded, query-dependent) would not.

scikit-learn fits the weights; a query is weighed and scored here directly. Its
`transform` and a sparse product cost about 1.8 ms of CPU a search on this machine (half
of a warm search), for a query of some thirty n-grams; the same arithmetic over the
n-grams' columns costs a tenth of that.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.knowledge.text import compact

NGRAMS = (1, 2)


def char_ngrams(text: str) -> Counter[str]:
    """The query's characters and character bigrams, counted, as the vectorizer cuts them."""
    core = compact(text)
    grams: Counter[str] = Counter()
    for n in range(NGRAMS[0], NGRAMS[1] + 1):
        grams.update(core[i:i + n] for i in range(len(core) - n + 1))
    return grams


class CharNgramIndex:
    def __init__(self, documents: list[str]) -> None:
        self._vectorizer = TfidfVectorizer(
            analyzer="char", ngram_range=NGRAMS, sublinear_tf=True, preprocessor=compact, dtype=np.float32
        )
        self._matrix = self._vectorizer.fit_transform(documents) if documents else sparse.csr_matrix((0, 0))
        self._vocabulary: dict[str, int] = dict(getattr(self._vectorizer, "vocabulary_", {}))
        self._idf = np.asarray(getattr(self._vectorizer, "idf_", np.zeros(0)), dtype=np.float64)
        columns = self._matrix.tocsc()
        self._starts = columns.indptr[:-1].astype(np.int64)
        self._stops = columns.indptr[1:].astype(np.int64)
        self._rows = columns.indices.astype(np.int64)
        self._weights = columns.data.astype(np.float64)

    def scores(self, query: str | Counter[str]) -> np.ndarray:
        """Cosine of the query with every document (rows are L2-normalised by TF-IDF).

        `query` may be its n-grams already counted (char_ngrams), when several indexes
        score the same text."""
        n_docs = self._matrix.shape[0]
        if n_docs == 0:
            return np.zeros(0, dtype=np.float32)
        grams = char_ngrams(query) if isinstance(query, str) else query
        known = [(self._vocabulary[g], c) for g, c in grams.items() if g in self._vocabulary]
        if not known:
            return np.zeros(n_docs, dtype=np.float32)
        terms = np.fromiter((t for t, _ in known), np.int64, len(known))
        counts = np.fromiter((c for _, c in known), np.float64, len(known))
        weight = (np.log(counts) + 1.0) * self._idf[terms]   # sublinear tf x idf
        weight /= np.linalg.norm(weight)
        starts, stops = self._starts[terms], self._stops[terms]
        lengths = stops - starts
        if not lengths.sum():
            return np.zeros(n_docs, dtype=np.float32)
        # every stored (document, weight) of the query's n-gram columns, in one gather
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        products = self._weights[offsets] * np.repeat(weight, lengths)
        return np.bincount(self._rows[offsets], weights=products, minlength=n_docs).astype(np.float32)

    def scores_sklearn(self, query: str) -> np.ndarray:
        """The same cosine through scikit-learn's transform (the reference the fast path is tested against)."""
        if self._matrix.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        q = self._vectorizer.transform([query])
        return np.asarray((self._matrix @ q.T).todense()).ravel().astype(np.float32)
