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


def ngram_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, preprocessor=compact,
                           dtype=np.float32)


# the vectorizer's own analyzer (compact, then characters and bigrams): a query is cut exactly
# as the documents were, and once for every index that scores it
_ANALYZE = ngram_vectorizer().build_analyzer()


def char_ngrams(text: str) -> Counter[str]:
    """A text's characters and character bigrams, counted."""
    return Counter(_ANALYZE(text))


class CharNgramIndex:
    def __init__(self, documents: list[str]) -> None:
        vectorizer = ngram_vectorizer()
        self._matrix = vectorizer.fit_transform(documents) if documents else sparse.csr_matrix((0, 0))
        self._vocabulary: dict[str, int] = dict(getattr(vectorizer, "vocabulary_", {}))
        self._idf = np.asarray(getattr(vectorizer, "idf_", np.zeros(0)), dtype=np.float64)
        columns = self._matrix.tocsc()
        self._column_starts = columns.indptr.astype(np.int64)   # n-gram t's documents: [t] to [t + 1]
        self._rows = columns.indices.astype(np.int64)
        self._weights = columns.data.astype(np.float64)

    def scores(self, query: str | Counter[str]) -> np.ndarray:
        """Cosine of the query with every document (rows are L2-normalised by TF-IDF).

        `query` may be its n-grams already counted (char_ngrams), when several indexes
        score the same text."""
        n_docs = self._matrix.shape[0]
        grams = char_ngrams(query) if isinstance(query, str) else query
        known = [(self._vocabulary[g], c) for g, c in grams.items() if g in self._vocabulary]
        if not known:
            return np.zeros(n_docs, dtype=np.float32)
        terms = np.fromiter((t for t, _ in known), np.int64, len(known))
        counts = np.fromiter((c for _, c in known), np.float64, len(known))
        weight = (np.log(counts) + 1.0) * self._idf[terms]   # sublinear tf x idf
        weight /= np.linalg.norm(weight)
        starts = self._column_starts[terms]
        lengths = self._column_starts[terms + 1] - starts
        total = int(lengths.sum())   # > 0: every n-gram of the vocabulary is in a document
        # every stored (document, weight) of the query's n-gram columns, in one gather
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        products = self._weights[offsets] * np.repeat(weight, lengths)
        return np.bincount(self._rows[offsets], weights=products, minlength=n_docs).astype(np.float32)
