"""The lexical signal's own query path gives scikit-learn's cosine, and the per-entry
second-best phrasing is unchanged by its cheaper computation (issue 17: no change in answers)."""

from __future__ import annotations

import numpy as np

from bot.knowledge.lexical import CharNgramIndex, char_ngrams, ngram_vectorizer

DOCUMENTS = ["发明专利申请费多少", "实用新型专利的年费怎么交", "外观设计保护几年", "年费滞纳金 怎么算",
             "PCT进入中国国家阶段的期限", "费减备案要什么材料", "專利權轉讓怎麼辦"]
QUERIES = ["发明专利申请费是多少钱", "年費晚交了", "PCT 国家阶段 期限多久？", "转让专利", "完全无关的话",
           "", "？？", "费费费费减", "abc"]


def test_fast_scores_equal_scikit_learn() -> None:
    index = CharNgramIndex(DOCUMENTS)
    vectorizer = ngram_vectorizer()
    matrix = vectorizer.fit_transform(DOCUMENTS)
    for q in QUERIES:
        reference = np.asarray((matrix @ vectorizer.transform([q]).T).todense()).ravel()
        fast = index.scores(q)
        assert fast.dtype == np.float32 and fast.shape == (len(DOCUMENTS),)
        np.testing.assert_allclose(fast, reference, atol=1e-6)
        np.testing.assert_allclose(index.scores(char_ngrams(q)), reference, atol=1e-6)
    assert index.scores("发明专利申请费多少")[0] > 0.999


def test_empty_index_scores_nothing() -> None:
    assert CharNgramIndex([]).scores("年费").shape == (0,)


def test_second_best_phrasing_matches_a_full_sort(index) -> None:
    rng = np.random.default_rng(7)
    starts, stops = index._starts, index._stops
    for rounding in (None, 1):   # rounded: many ties, where the best counts twice
        values = rng.random(len(index.vectors))
        values = (np.round(values, rounding) if rounding else values).astype(np.float32)
        ranked = values[np.lexsort((-values, index.phrasing_entry))]
        reference = np.where((stops - starts) > 1, ranked[np.minimum(starts + 1, len(ranked) - 1)], ranked[starts])
        assert np.array_equal(index._per_entry_second(values), reference)
