"""The calculator on the FAQ's answer path: one turn, follow-ups, and a question for a missing fact."""

from __future__ import annotations

import datetime as dt

from bot.knowledge import dialogue

TODAY = dt.date(2026, 12, 4)


def test_a_fee_for_the_users_year_is_computed_and_a_type_switch_recomputes_it(index) -> None:
    first = dialogue.ask(index, "发明专利第7年年费多少钱", today=TODAY)
    assert first.decision == "answer" and first.entry_id == "calc:annual-fee" and first.value == 2000
    assert first.text.startswith("发明专利第7年") and "依据" in first.text
    assert first.payload()["patentdesk"]["value"] == 2000
    switched = dialogue.ask(index, "那实用新型呢", first.context, today=TODAY)
    assert switched.entry_id == "calc:annual-fee" and switched.value == 1200  # utility model, years 6-8


def test_a_missing_fact_is_asked_for_once_and_the_reply_completes_it(index) -> None:
    asked = dialogue.ask(index, "驳回决定是2026年3月2日发出的，复审请求最晚哪天提", today=TODAY)
    assert asked.decision == "clarify" and asked.asks == "service" and asked.entry_id is None
    assert asked.payload()["patentdesk"]["asks"] == "service" and "电子" in asked.text
    assert dialogue.awaits_fact(asked.context)
    done = dialogue.ask(index, "纸件邮寄的", asked.context, today=TODAY)
    # 3月2日 + 15 days = 3月17日 presumed receipt; + 3 months = 6月17日, a Wednesday
    assert done.decision == "answer" and done.value == "2026-06-17" and "6月17日" in done.text
    assert not dialogue.awaits_fact(done.context)


def test_a_general_question_after_a_calculation_goes_to_the_faq(index) -> None:
    first = dialogue.ask(index, "发明专利第7年年费多少钱", today=TODAY)
    faq = dialogue.ask(index, "实用新型专利保护期是多少年", first.context, today=TODAY)
    assert faq.entry_id is None or not faq.entry_id.startswith("calc:")
    assert faq.context.calc is None


def test_rule_questions_without_the_users_numbers_stay_with_the_faq(index) -> None:
    for text in ("发明专利申请费多少", "年费什么时候交", "复审期限是多久"):
        turn = dialogue.ask(index, text, today=TODAY)
        assert not (turn.entry_id or "").startswith("calc:") and turn.asks is None, text


def test_a_denied_kind_of_service_is_not_the_one_meant(index) -> None:
    asked = dialogue.ask(index, "驳回决定是2026年3月2日发出的，复审请求最晚哪天提", today=TODAY)
    done = dialogue.ask(index, "不是电子的，是纸件邮寄的", asked.context, today=TODAY)
    assert done.decision == "answer" and done.value == "2026-06-17"


def test_which_missing_facts_leave_the_first_word_to_the_faq() -> None:
    """A rule asked in general is the FAQ's (its answer then offers the figure); a case with
    the user's own date is the calculator's, which asks what it lacks."""
    from bot.rules import CalcContext, NeedsFact

    def lacking(fact: str) -> NeedsFact:
        return NeedsFact(fact, "?", CalcContext())

    assert dialogue._rule_in_general(lacking("date"), "PCT进中国最晚啥时候")
    assert dialogue._rule_in_general(lacking("patent_type"), "年费晚交了一个月")
    assert not dialogue._rule_in_general(lacking("date"), "发明第7年年费晚交了两个月")
    assert not dialogue._rule_in_general(lacking("service"), "驳回决定是2026年3月2日发出的，复审最晚哪天")
    assert not dialogue._rule_in_general(lacking("patent_type"), "优先权日2026年3月2日，最晚哪天提")


def test_an_offered_calculation_does_not_take_the_next_question(index) -> None:
    from bot.rules import CalcContext

    offered = CalcContext(rule="calc:annual-fee", year_number=3, pending="patent_type").to_dict() | {"offered": True}
    ctx = dialogue.Context(last_query="第3年年费多少", last_entry="annual-fee-invention", calc=offered)
    turn = dialogue.ask(index, "外观设计的保护期是多久", ctx, today=TODAY)
    assert not (turn.entry_id or "").startswith("calc:")
    assert dialogue.ask(index, "外观设计", ctx, today=TODAY).value == 600  # the fact it offered to use


def test_odd_input_never_breaks_the_answer_path(index) -> None:
    for text in ("", "😀😀", "9999年12月1日收到驳回决定，复审最晚哪天", "2026年3月2日" * 200):
        turn = dialogue.ask(index, text, today=TODAY)
        assert turn.decision in {"answer", "clarify", "handoff", "smalltalk"} and turn.text


def test_a_new_question_asked_at_length_is_not_taken_for_the_calculations_fact(index) -> None:
    """While the calculator waits for who applies, or after it worked out a fee, a long question
    of its own ("我自己……配方这种东西能申请专利吗") is answered by the FAQ: "我自己" is not the
    answer to "一个申请人还是几个？", nor "这种" a lean on the fee just given."""
    recipe = "我自己调了个奶茶配方卖得挺好，想保护起来，配方这种东西能拿去申请专利吗"
    asked = dialogue.ask(index, "发明专利第7年年费多少 能费减", today=TODAY)
    assert asked.asks == "applicant_count"
    turn = dialogue.ask(index, recipe, asked.context, today=TODAY)
    assert turn.decision == "answer" and turn.entry_id == "qa-formula-recipe"
    computed = dialogue.ask(index, "发明专利第7年年费多少钱", today=TODAY)
    after = dialogue.ask(index, recipe, computed.context, today=TODAY)
    assert after.decision == "answer" and after.entry_id == "qa-formula-recipe"
    # a long follow-up that brings the calculation's facts still carries it on
    one = dialogue.ask(index, "个人", asked.context, today=TODAY)
    assert one.value == 300
    joint = dialogue.ask(index, "那如果我是跟另外一个公司一起申请的，这种情况下费减之后要交多少钱呢", one.context,
                         today=TODAY)
    assert joint.entry_id == "calc:annual-fee" and joint.value == 600   # 2000 x (1 - 70%)
