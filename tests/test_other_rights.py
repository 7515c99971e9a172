"""Trademark and copyright questions are redirected, patent questions that mention them are not."""

from __future__ import annotations

from bot.knowledge.other_rights import Offered, other_right

REDIRECT = Offered("neighbours-trademark", "注册商标也是在专利这里办吗？", True)
SOFTWARE_TERM = Offered("neighbours-software-term", "软件著作权保护期是多久？", False)
DESIGN_CONFLICT = Offered("design-prior-rights", "外观设计和别人的商标或著作权冲突会怎样？", False)


def test_a_trademark_or_copyright_question_goes_where_it_belongs() -> None:
    assert other_right("别人用了和我一样的商标算侵权吗") == "redir-trademark-matters"
    assert other_right("我画的插画怎么做版权登记") == "redir-copyright-works"
    assert other_right("Trademark 被抢注了") is None, "the glossary, not this module, maps English words"


def test_a_patent_question_that_names_another_right_is_left_to_retrieval() -> None:
    assert other_right("专利和商标有什么区别") is None
    assert other_right("外观设计和商标冲突了怎么办") is None
    assert other_right("年费晚交了怎么办") is None


def test_what_retrieval_came_close_to_decides_between_redirection_and_fact() -> None:
    # a redirection that names the right, ranked close: it is the nearer answer
    assert other_right("商标注册要多久", [REDIRECT]) == "neighbours-trademark"
    # an entry stating a fact about the right: the knowledge answers, not the redirection
    assert other_right("软著保护多少年", [SOFTWARE_TERM]) is None
    # a patent entry that mentions the right does not count
    assert other_right("别人用了和我一样的商标算侵权吗", [DESIGN_CONFLICT]) == "redir-trademark-matters"
