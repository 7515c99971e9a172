"""The answer-coverage signal: the share of a question's rarer wording that an entry's answer
holds, which tells the ranker the word that does not fit (issue 14)."""

from __future__ import annotations

import numpy as np

from bot.knowledge.coverage import AnswerCoverage, bigrams
from bot.knowledge.ranker import FEATURES

ANSWERS = ["发明专利申请费为900元，印刷费50元。", "实用新型专利申请费为500元。", "外观设计专利申请费为500元。"]
PHRASINGS = ["发明专利申请费多少", "实用新型申请费多少", "外观设计申请费", "外观申请费多少钱"]
OWNERS = np.array([0, 1, 2, 2])


def test_the_answer_that_names_what_is_asked_covers_it_most() -> None:
    cover = AnswerCoverage(ANSWERS, PHRASINGS, OWNERS)
    scores = cover.scores("发明专利申请费是多少")
    assert scores.dtype == np.float32 and scores.shape == (3,)
    assert scores[0] > scores[1] and scores[0] > scores[2]
    assert np.all((0.0 <= scores) & (scores <= 1.0))
    # every bigram of the question in the answer: all of it is covered
    assert cover.scores("发明专利申请费")[0] > 0.999


def test_words_no_entry_holds_count_against_every_answer() -> None:
    cover = AnswerCoverage(ANSWERS, PHRASINGS, OWNERS)
    plain = cover.scores("实用新型申请费")
    with_trademark = cover.scores("实用新型申请费和商标注册费")
    assert with_trademark[1] < plain[1]
    assert not cover.scores("商标注册").any()
    assert not cover.scores("").any()


def test_a_bigram_many_entries_share_weighs_less_than_a_rare_one() -> None:
    cover = AnswerCoverage(ANSWERS, PHRASINGS, OWNERS)
    # "申请" is in every entry, "发明" in one: an answer holding only "申请" covers less of
    # "发明申请" than one holding only "发明" would
    shared, rare = cover._idf[cover._vocab["申请"]], cover._idf[cover._vocab["发明"]]
    assert rare > shared
    assert bigrams("发明 申请！") == {"发明", "明申", "申请"}


def test_the_ranker_sees_the_answer_coverage(index) -> None:
    assert FEATURES[-1] == "answer_cover"
    sig = index.signals("发明专利申请费多少")
    rows, order, _ = index.candidate_features(sig, index.thresholds)
    assert rows.shape[1] == len(FEATURES)
    np.testing.assert_allclose(rows[:, -1], sig.answer_cover[order], rtol=1e-6)


def test_dev_questions_no_entry_answers_weigh_more_in_the_ranker(index) -> None:
    """The dev split grew by answerable questions only: the uncovered ones keep their share of
    the ranker's dev weight (UNCOVERED_DEV_WEIGHT)."""
    from bot.knowledge.ranker_training import DEV_WEIGHT, UNCOVERED_DEV_WEIGHT, dev_examples

    texts = ["发明专利申请费多少", "商标注册要多少钱", "外观设计保护几年"]
    signals = [index.signals(t) for t in texts]
    labels = [{"fee-invention-filing"}, set(index.kb.redirects), {"term-design"}]
    ex = dev_examples(index, signals, labels, index.thresholds, [False, True, False])
    assert UNCOVERED_DEV_WEIGHT > DEV_WEIGHT
    for g, expected in enumerate((DEV_WEIGHT, UNCOVERED_DEV_WEIGHT, DEV_WEIGHT)):
        assert len(ex.weights[ex.groups == g]) > 0
        assert set(ex.weights[ex.groups == g].tolist()) == {expected}
    plain = dev_examples(index, signals, labels, index.thresholds)
    assert set(plain.weights.tolist()) == {DEV_WEIGHT}
