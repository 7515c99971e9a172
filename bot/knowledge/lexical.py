"""Lexical signal: TF-IDF cosine over characters and character bigrams.

Measured here (shared notes): character n-grams beat jieba words on colloquial, typo-laden
questions. A cosine stays in [0, 1] for every query, so it fuses with the dense score
under one fixed weight, which raw BM25 scores (unbounded, query-dependent) would not.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.knowledge.text import compact


class CharNgramIndex:
    def __init__(self, documents: list[str]) -> None:
        self._vectorizer = TfidfVectorizer(
            analyzer="char", ngram_range=(1, 2), sublinear_tf=True, preprocessor=compact, dtype=np.float32
        )
        self._matrix = self._vectorizer.fit_transform(documents) if documents else sparse.csr_matrix((0, 0))

    def scores(self, query: str) -> np.ndarray:
        """Cosine of the query with every document (rows are L2-normalised by TF-IDF)."""
        if self._matrix.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        q = self._vectorizer.transform([query])
        return np.asarray((self._matrix @ q.T).todense()).ravel().astype(np.float32)
