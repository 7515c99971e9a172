"""The fee and time-limit calculator (bot/rules): worked examples, properties, parsing, questions.

Worked examples come from the Examination Guidelines (2025) where it gives one; the others are
hand-worked in a comment from the rule they test. Calendar facts are those of
bot/handoff/calendar_cn.yml (2026 only).
"""

from __future__ import annotations

import calendar as pycal
import datetime as dt
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rules import CalcContext, Computed, NeedsFact, compute, fees
from bot.rules.parse import cn_number, parse
from bot.rules.periods import months, served_on, years
from bot.rules.workdays import default_calendar

TODAY = dt.date(2026, 7, 1)
D = dt.date


def ask(message: str, context: CalcContext | None = None) -> Computed | NeedsFact | None:
    return compute(message, context, today=TODAY)


def computed(message: str, context: CalcContext | None = None) -> Computed:
    result = ask(message, context)
    assert isinstance(result, Computed), result
    assert any(re.search(r"\d{4}年", s) for s in result.sources), result.sources
    return result


def needs(message: str, fact: str, context: CalcContext | None = None) -> NeedsFact:
    result = ask(message, context)
    assert isinstance(result, NeedsFact), result
    assert result.fact == fact, (result.fact, result.question)
    assert result.question.endswith("？")
    return result


# --- worked examples of the Examination Guidelines --------------------------------------------


def test_guidelines_examination_request_example():
    # Guidelines V-7 2.3: filed 1998-06-01, the examination request limit ends 2001-06-01.
    result = computed("发明专利申请日是1998年6月1日，实质审查请求最晚哪天提")
    assert result.rule_id == "calc:examination-request-deadline"
    assert result.value == D(2001, 6, 1)
    assert result.caveat and "2001年" in result.caveat  # no 2001 holidays in our calendar


def test_guidelines_postal_and_electronic_service_examples():
    # Guidelines V-7 2.3: posted 2008-06-06, presumed served 2008-06-21, 2 months -> 2008-08-21.
    served = served_on(D(2008, 6, 6), "paper")
    assert served == D(2008, 6, 21)
    assert months(2).end(served) == D(2008, 8, 21)
    # Same section: sent electronically 2022-12-31, served that day, 2 months -> 2023-02-28.
    served = served_on(D(2022, 12, 31), "electronic")
    assert served == D(2022, 12, 31)
    assert months(2).end(served) == D(2023, 2, 28)


def test_guidelines_annual_fee_year_example():
    # Guidelines V-9 4.2.1.2: filed 1997-06-03, the 6th year's fee is due by 2002-06-03 (a Monday).
    result = computed("申请日是1997年6月3日，发明专利第6年年费最晚哪天交")
    assert result.rule_id == "calc:annual-fee-due"
    assert result.value == D(2002, 6, 3)
    assert "1200 元" in result.text


def test_guidelines_surcharge_example():
    # Guidelines V-9 4.2.1.3: the 5 % surcharge was 45 yuan and the 10 % one 90 yuan (fee 900).
    assert fees.surcharge(900, 2) == 45
    assert fees.surcharge(900, 3) == 90
    assert fees.surcharge(900, 1) == 0
    assert fees.surcharge_percent(6) == 25


# --- time limits (hand-worked) -----------------------------------------------------------------


def test_registration_paper_and_electronic():
    first = needs("授予专利权通知书的发文日是2026年9月16日，登记手续最晚哪天办", "service")
    # Paper: 9-16 + 15 days = 10-01 (not moved, though a holiday); + 2 months = 12-01 (Tuesday).
    paper = computed("纸件邮寄的", first.context)
    assert paper.rule_id == "calc:registration-deadline"
    assert paper.value == D(2026, 12, 1)
    assert paper.text.index("2026年12月1日") < paper.text.index("计算")
    assert "推定收到日 2026年10月1日" in paper.text and "2026年10月1日 + 2个月 = 2026年12月1日" in paper.text
    # Electronic: served on the dispatch date; 9-16 + 2 months = 11-16 (Monday).
    electronic = computed("电子送达", first.context)
    assert electronic.value == D(2026, 11, 16)


def test_reexamination_from_dispatch():
    first = needs("驳回决定是2026年3月2日发出的，复审请求最晚哪天提", "service")
    # Paper: 3-02 + 15 = 3-17; + 3 months = 6-17 (Wednesday). Electronic: 3-02 + 3 months = 6-02.
    assert computed("邮寄的", first.context).value == D(2026, 6, 17)
    assert computed("在系统里收到的", first.context).value == D(2026, 6, 2)


def test_pct_national_phase_and_grace():
    # 2024-03-15 + 30 months = 2026-09-15 (Tuesday); + 32 months = 2026-11-15, a Sunday -> 11-16.
    result = computed("PCT申请的优先权日是2024年3月15日，进入中国国家阶段最晚哪天")
    assert result.rule_id == "calc:pct-national-phase"
    assert result.value == D(2026, 9, 15)
    assert "2026年11月16日" in result.text and "宽限费" in result.text


def test_priority_depends_on_type():
    first = needs("在先申请日是2025年11月20日，优先权最晚哪天要", "patent_type")
    # Design: 6 months -> 2026-05-20 (Wednesday). Utility model: 12 months -> 2026-11-20 (Friday).
    assert computed("外观设计", first.context).value == D(2026, 5, 20)
    assert computed("实用新型", first.context).value == D(2026, 11, 20)


def test_term_compensation_and_restoration():
    # 2026-04-10 + 3 months = 2026-07-10 (Friday).
    result = computed("授权公告日是2026年4月10日，期限补偿最晚哪天请求")
    assert (result.rule_id, result.value) == ("calc:term-compensation-deadline", D(2026, 7, 10))
    # Received 2026-03-05 + 2 months = 2026-05-05, inside 劳动节 (05-01..05) -> Wednesday 05-06.
    result = computed("2026年3月5日收到的通知书，恢复权利最晚哪天")
    assert (result.rule_id, result.value) == ("calc:restoration-deadline", D(2026, 5, 6))
    assert "顺延" in result.text and "第五条" in result.text


def test_holiday_then_adjusted_saturday_moves_to_monday():
    # Received 2025-11-01 + 2 months = 2026-01-01 (元旦 01-01..03); 01-04 is a Sunday made a
    # working day (调休), a weekly rest day for time limits (Guidelines V-7 2.3) -> Monday 01-05.
    result = computed("2025年11月1日收到授予专利权通知书，登记最晚哪天办")
    assert result.value == D(2026, 1, 5)
    # Received 2026-07-10 + 3 months = 2026-10-10, a Saturday working day (调休) -> Monday 10-12.
    result = computed("2026年7月10日收到驳回决定，复审最晚哪天")
    assert result.value == D(2026, 10, 12)


def test_year_outside_calendar_gets_caveat():
    # Received 2026-11-20 + 3 months = 2027-02-20, a Saturday -> Monday 2027-02-22, but 2027's
    # holidays are not in our calendar: the date may move, and the reply says so.
    result = computed("2026年11月20日收到驳回决定，复审请求最晚哪天")
    assert result.value == D(2027, 2, 22)
    assert result.caveat and "2027年" in result.caveat and "代理师" in result.caveat
    inside = computed("2026年3月20日收到驳回决定，复审请求最晚哪天")
    assert inside.caveat is None


# --- fees ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "value"),
    [
        ("发明专利第7年年费多少钱", 2000),
        ("发明专利第十二年的年费是多少", 4000),
        ("实用新型第4年年费多少", 900),
        ("外观设计第1年年费多少", 600),
        ("发明第二十年年费多少", 8000),
        ("实用新型第4年年费费减后是多少，个人申请", 135),  # 900 x 15 %
        ("实用新型第4年年费，两个公司一起费减，要交多少", 270),  # 900 x 30 %
        ("发明专利第7年年费减缴85%后多少", 300),  # 2000 x 15 %
    ],
)
def test_annual_fee_amounts(message, value):
    result = computed(message)
    assert result.rule_id == "calc:annual-fee"
    assert result.value == value
    assert result.text.startswith(result.text.split("。")[0]) and str(value) in result.text.split("\n")[0]


def test_reduction_asks_count_then_grant_year_beyond_ten():
    first = needs("实用新型第4年年费费减后是多少", "applicant_count")
    assert computed("就我一个人", first.context).value == 135
    second = needs("发明专利第12年年费费减后多少，一个申请人", "grant_year_number")
    # Granted in year 3: reducible years 3..12 -> 4000 x 15 % = 600. Granted in year 2: 2..11.
    assert computed("第3年", second.context).value == 600
    assert computed("第2年授权的", second.context).value == 4000


def test_open_licence_takes_15_percent_off_and_does_not_add_to_a_reduction():
    # 财税〔2024〕23号: 15% off annual fees while under open licensing; the better relief applies.
    result = computed("开放许可的实用新型第4年年费多少")
    assert (result.rule_id, result.value) == ("calc:annual-fee", 765)  # 900 x 85 %
    assert "财税〔2024〕23号" in result.text and "不能重复享受" in result.text
    assert computed("我的发明专利做了开放许可，第12年年费要交多少").value == 3400  # 4000 x 85 %
    both = computed("开放许可的发明第5年年费费减后多少，我一个人申请的")
    assert both.value == 180  # the fee reduction (1200 x 15 %) beats open licensing (1020)
    beyond = needs("发明专利第15年年费费减后多少 开放许可 一个申请人", "grant_year_number")
    assert computed("第3年授权的", beyond.context).value == 5100  # past the 10 reduced years: 6000 x 85 %
    assert compute("开放许可年费能减免吗", None, TODAY) is None  # in general: the FAQ answers


def test_grant_year_from_the_calendar_years_of_filing_and_grant():
    # Filed 2017, granted 2019: the grant fell in patent year 2 or 3, so reductions end by year 12.
    beyond = computed("发明专利2017年申请、2019年授权的，一个人费减，第14年年费多少")
    assert beyond.value == 6000 and "第2或第3个年度" in beyond.text
    assert computed("发明专利2017年申请2019年授权，一个人费减，第11年年费多少").value == 600
    needs("发明专利2017年申请2019年授权，一个人费减，第12年年费多少", "grant_year_number")  # year 2 or 3: it depends


def test_surcharge():
    # Invention year 7 (2000 yuan), 3 whole months late: tier "2 to 3 months" = 10 % -> 200.
    result = computed("发明专利第7年年费逾期3个月补缴，滞纳金多少")
    assert (result.rule_id, result.value) == ("calc:annual-fee-surcharge", 200)
    assert computed("实用新型第4年年费逾期不到一个月，要交滞纳金吗").value == 0
    needs("发明专利第7年年费逾期8个月了，滞纳金多少", "months_late")
    needs("发明专利年费逾期三个月，滞纳金多少", "year_number")


def test_annual_fee_due_on_national_day_with_schedule():
    # Filed 2020-10-01: year 7 begins 2026-10-01 (国庆 10-01..07) -> due Thursday 2026-10-08.
    result = computed("发明专利申请日2020年10月1日，第7年年费最晚什么时候交")
    assert result.value == D(2026, 10, 8)
    # Late window: 2026-10-01 + 6 months = 2027-04-01; surcharge 5 % of 2000 = 100 in month 2.
    assert "2026年10月9日至2026年11月1日补缴：不缴纳滞纳金" in result.text  # 10-08 is on time
    assert "2026年11月2日至2026年12月1日补缴：滞纳金为全额年费的5%，100元" in result.text
    assert "2027年3月2日至2027年4月1日补缴：滞纳金为全额年费的25%，500元" in result.text
    assert result.caveat and "2027年" in result.caveat


def test_year_beyond_term_is_asked_again():
    result = needs("实用新型第12年年费多少", "year_number")
    assert "第10年" in result.question


# --- not a computation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "发明专利申请费多少", "年费多少", "复审请求的期限是多久", "你好", "专利年费怎么交",
        "优先权是什么意思", "实审什么时候出结果", "复审费多少钱",
    ],
)
def test_not_a_computation(message):
    assert ask(message) is None


def test_unrelated_follow_up_leaves_the_calculation():
    first = needs("驳回决定是2026年3月2日发出的，复审请求最晚哪天提", "service")
    assert ask("谢谢，人工客服在吗", first.context) is None


# --- questions for missing facts and follow-ups --------------------------------------------------


def test_missing_type_date_and_year():
    needs("第7年年费多少钱", "patent_type")
    needs("登记手续最晚哪天办", "date")
    needs("PCT进入国家阶段最晚哪天", "date")
    first = needs("3月2日收到驳回决定，复审最晚哪天提", "calendar_year")
    # Received 2026-03-02 + 3 months = 2026-06-02.
    assert computed("2026年", first.context).value == D(2026, 6, 2)


def test_unknown_date_kind_is_asked_then_answered():
    first = needs("驳回决定上的日期是2026年3月2日，复审最晚哪天", "date_kind")
    assert computed("这是收到的日期", first.context).value == D(2026, 6, 2)


def test_context_survives_json_round_trip():
    first = needs("授予专利权通知书的发文日是2026年9月16日，登记手续最晚哪天办", "service")
    stored = json.loads(json.dumps(first.context.to_dict()))
    restored = CalcContext.from_dict(stored)
    assert restored == first.context
    assert computed("纸件", restored).value == D(2026, 12, 1)
    assert CalcContext.from_dict(None) == CalcContext()


def test_pending_date_is_answered_by_a_bare_date():
    first = needs("登记手续最晚哪天办", "date")
    second = needs("发文日是2026年9月16日", "service", first.context)
    assert computed("电子的", second.context).value == D(2026, 11, 16)


def test_invalid_date_is_questioned():
    needs("驳回决定2026年2月30日发出，复审最晚哪天", "date")


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2026年3月2日", "2026年03月02日", "2026.3.2", "2026-03-02", "2026/3/2", "2026年3月2号", "今年3月2日", "今年三月二日",
     "2026年三月二日", "二〇二六年三月二日", "二零二六年三月二号"],
)
def test_date_forms(text):
    facts = parse(f"驳回决定{text}发出", TODAY)
    assert [(d.kind, d.value) for d in facts.dates] == [("dispatch", D(2026, 3, 2))]


def test_relative_and_year_less_dates():
    assert parse("去年3月2日收到", TODAY).dates[0].value == D(2025, 3, 2)
    partial = parse("3月2日收到", TODAY).dates[0]
    assert (partial.value, partial.month, partial.day, partial.kind) == (None, 3, 2, "receipt")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("发文日是2026年9月16日", "dispatch"),
        ("2026年9月16日收到的", "receipt"),
        ("申请日2020年10月1日", "filing"),
        ("PCT申请的优先权日是2024年3月15日", "priority"),
        ("授权公告日是2026年4月10日", "grant_announcement"),
        ("日期是2026年4月10日", "unknown"),
    ],
)
def test_date_kinds(text, kind):
    assert parse(text, TODAY).dates[0].kind == kind


@pytest.mark.parametrize(
    ("text", "number"),
    [("第7年", 7), ("第七年", 7), ("第十二年", 12), ("第二十年", 20), ("第7年度", 7), ("第十年", 10), ("第两年", 2)],
)
def test_year_numerals(text, number):
    assert parse(f"发明{text}年费", TODAY).year_number == number


def test_cn_number():
    assert [cn_number(t) for t in ("7", "七", "十二", "二十", "两")] == [7, 7, 12, 20, 2]
    assert cn_number("年") is None


@pytest.mark.parametrize(
    ("text", "ptype"),
    [("发明专利", "invention"), ("实用新型", "utility_model"), ("实用型", "utility_model"),
     ("外观", "design"), ("外观设计", "design")],
)
def test_patent_types(text, ptype):
    assert parse(f"{text}第3年年费", TODAY).patent_types == {ptype}
    assert parse("发明人是谁", TODAY).patent_types == set()


def test_reduction_service_and_months_late():
    facts = parse("两个公司一起费减", TODAY)
    assert (facts.reduction, facts.applicant_count, facts.applicant_kind) == (True, "several", "organisation")
    assert parse("减缴70%", TODAY).reduction_rate == 70
    assert parse("个人申请，费减", TODAY).applicant_count == "single"
    assert parse("纸件邮寄", TODAY).service == "paper"
    assert parse("电子送达的", TODAY).service == "electronic"
    assert parse("逾期三个月", TODAY).months_late == 3
    assert parse("晚了2个月", TODAY).months_late == 2


# --- properties ---------------------------------------------------------------------------------

CAL = default_calendar()
days_2026 = st.dates(min_value=D(2026, 1, 1), max_value=D(2026, 12, 24))


@settings(max_examples=300, deadline=None)
@given(start=st.dates(min_value=D(2000, 1, 1), max_value=D(2060, 12, 31)), n=st.integers(1, 60))
def test_month_end_rule(start, n):
    end = months(n).end(start)
    total = start.month - 1 + n
    year, month = start.year + total // 12, total % 12 + 1
    last = pycal.monthrange(year, month)[1]
    assert (end.year, end.month) == (year, month)
    assert end.day == min(start.day, last)  # corresponding day, or the month's last day


def test_month_end_examples():
    assert months(6).end(D(2025, 8, 31)) == D(2026, 2, 28)
    assert months(12).end(D(2028, 2, 29)) == D(2029, 2, 28)
    assert years(4).end(D(2024, 2, 29)) == D(2028, 2, 29)
    assert months(3).end(D(2027, 11, 30)) == D(2028, 2, 29)


@settings(max_examples=300, deadline=None)
@given(plain=days_2026)
def test_extension_lands_on_first_working_day(plain):
    ext = CAL.extend(plain)
    assert ext.end >= plain
    assert not CAL.is_rest_day(ext.end)
    assert ext.end.weekday() < 5 and ext.end not in CAL.holidays
    day = plain
    while day < ext.end:  # nothing between the plain date and the result is a working day
        assert CAL.is_rest_day(day)
        day += dt.timedelta(days=1)
    assert ext.uncovered_years == ()


@settings(max_examples=200, deadline=None)
@given(received=st.dates(min_value=D(2025, 10, 1), max_value=D(2026, 9, 20)))
def test_reexamination_never_ends_on_rest_day(received):
    result = compute(f"{received.year}年{received.month}月{received.day}日收到驳回决定，复审最晚哪天", today=TODAY)
    assert isinstance(result, Computed)
    assert isinstance(result.value, dt.date)
    assert result.value >= months(3).end(received)
    assert not CAL.is_rest_day(result.value)


# --- readings added after the dev split of data/eval/computed ------------------------------
def test_some_months_and_days_late_count_as_the_next_month() -> None:
    """"两个多月": two whole months and some days, paid within the third month: 10% (Guidelines
    Part V ch. 9 §4.2.1.3: from one to two months late 5%, from two to three 10%)."""
    assert parse("发明第8年年费晚交了两个多月", TODAY).months_late == 3
    assert computed("发明第8年年费晚交了两个多月，滞纳金要多少").value == 200  # 2000 x 10%


def test_no_reduction_said_and_total_asked() -> None:
    result = computed("外观第4年年费拖了五个多月才去交，总共要交多少（没有费减的）")
    assert result.value == 900 + 225  # full fee and 25% of it
    assert "900" in result.text and "225" in result.text


def test_a_fee_asked_without_the_reduction_is_the_full_fee() -> None:
    """"不算费减的话一年要多少钱" asks for the full fee: no question about who applies."""
    for said in ("不算费减的话", "不考虑减缴", "费减之前"):
        assert parse(f"发明第7年年费{said}多少钱", TODAY).no_reduction, said
        assert computed(f"发明第7年年费{said}多少钱").value == 2000, said


def test_grace_fee_limit_asked_for_pct() -> None:
    plain = computed("PCT申请优先权日2023年8月31日，进入中国国家阶段最晚哪天")
    grace = computed("PCT申请优先权日2023年8月31日，交宽限费的话进入中国国家阶段最晚哪天")
    assert grace.value == dt.date(2026, 4, 30)  # + 32 months, a Thursday
    assert plain.value < grace.value


def test_restoration_after_a_missed_reexamination_request_counts_from_its_expiry() -> None:
    """IR art. 6(2), 2023: 延误复审请求期限的，自复审请求期限届满之日起2个月内."""
    result = computed("复审期限2026年5月8日就到期了我忘了提，想请求恢复，最晚哪天")
    assert result.value == dt.date(2026, 7, 8)


def test_force_majeure_restoration_is_capped_two_years_after_the_missed_limit() -> None:
    near = computed("不可抗力耽误了，原期限2025年11月20日届满，障碍2026年3月10日消除，恢复权利最晚哪天")
    assert near.value == dt.date(2026, 5, 11)  # 5月10日 is a Sunday
    far = computed("不可抗力耽误了，原期限2024年3月20日届满，障碍2026年3月10日消除，恢复权利最晚哪天")
    assert far.value == dt.date(2026, 3, 20)  # two years after the limit, earlier than 5月10日
    denied = compute("不是不可抗力，纸件发文日2026年4月1日的通知，恢复权利最晚哪天", None, TODAY)
    assert isinstance(denied, Computed) and denied.value == dt.date(2026, 6, 16)


def test_examination_request_counts_from_the_priority_date_when_one_is_claimed() -> None:
    result = computed("发明申请日2023年9月20日，优先权日2023年2月14日，实审最晚哪天请求")
    assert result.value == dt.date(2026, 2, 24)  # 2月14日 + 3 years falls in 春节


# --- readings added after the second writer's dev questions ---------------------------------
def test_a_denied_grace_fee_means_the_30_month_limit() -> None:
    plain = computed("pct优先权日2023年12月4日，不交宽限费的话进中国最晚哪天")
    assert plain.value == dt.date(2026, 6, 4)
    assert not parse("不交宽限费的话", TODAY).grace and parse("交宽限费的话", TODAY).grace


def test_days_late_and_months_past_are_read() -> None:
    assert parse("年费过了截止日二十来天才想起来", TODAY).months_late == 0
    assert parse("年费忘了交 已经过了3个多月了", TODAY).months_late == 4
    assert computed("外观专利第9年年费忘了交 已经过了3个多月了 滞纳金是多少").value == 2000 * 15 // 100  # years 9-10: 2000


def test_a_year_in_brackets_and_a_kind_in_the_clause_before() -> None:
    fm = computed("地震（不可抗力）耽误了，原来的期限2025年9月10日届满，7月5号（今年2026年）障碍才消除，恢复权利截止哪天")
    assert fm.value == dt.date(2026, 9, 7)  # 7月5日 + 2 months = 9月5日, a Saturday
    reg = computed("今年(2026)的事，授权通知我哪天收到的呢，是7月19号，办登记最晚哪天呀")
    assert reg.value == dt.date(2026, 9, 21)  # 9月19日 is a Saturday, 9月20日 a 调休 Sunday


def test_restoration_of_a_missed_reexamination_from_the_rejection_received() -> None:
    result = computed("2026年1月8号收到的驳回决定，当时忘了提复审，期限过了，现在想请求恢复权利，最晚到哪天")
    assert result.value == dt.date(2026, 6, 8)  # limit 4月8日, then + 2 months
    assert "2026年4月8日" in result.text


def test_typos_and_other_words_for_the_notice() -> None:
    assert computed("我的实用型被驳回了，驳回决定是2026年3月31日收到的，复申最后一天是哪天").value == dt.date(2026, 6, 30)
    assert computed("登记通知是邮寄纸件，通知书上的发文日2026-08-03，最晚哪天？").value == dt.date(2026, 10, 19)


# --- defects found in review (each once gave a wrong figure, a loop or an exception) --------
@pytest.mark.parametrize("message", [
    "发明专利第3年年费怎么缴纳", "发明专利第一年的年费在哪里交", "实用新型第5年年费能开发票吗",
    "发明专利第3年年费忘交了会怎样", "发明专利第3年年费没交，专利权终止了怎么恢复",
])
def test_a_year_and_a_fee_without_asking_an_amount_is_the_faqs(message: str) -> None:
    assert compute(message, None, TODAY) is None


def test_days_late_beyond_four_weeks_are_asked_as_months_not_read_as_none() -> None:
    assert parse("发明第4年年费逾期35天滞纳金多少", TODAY).months_late is None
    assert needs("发明第4年年费逾期35天滞纳金多少", "months_late")
    assert computed("发明第4年年费过了3个月零10天，滞纳金多少").value == 180  # 1200 x 15%


def test_a_lone_year_beside_an_annual_fee_is_not_the_filing_year() -> None:
    asked = needs("发明第3年年费今年要交，申请日是3月1日，最晚哪天", "calendar_year")
    assert computed("2024年", asked.context).value == D(2026, 3, 2)  # 3月1日 is a Sunday


def test_denied_kinds_of_service_and_force_majeure() -> None:
    for message in ("驳回决定2026年3月2日发的，没有寄纸件，是电子送达的，复审最晚哪天",
                    "驳回决定2026年3月2日发的，纸件没收到，在系统里看到的，复审最晚哪天"):
        assert computed(message).value == D(2026, 6, 2), message
    assert needs("驳回决定2026年3月2日发的，电子和纸件都有，复审最晚哪天", "service")
    assert computed("2026年3月20日收到权利丧失通知，并不是因为不可抗力，恢复最晚哪天").value == D(2026, 5, 20)


def test_a_worked_out_limit_is_recomputed_when_the_date_is_corrected() -> None:
    first = computed("2026年2月10号收到的驳回决定，忘了提复审，恢复最晚哪天")
    assert first.value == D(2026, 7, 13)
    assert computed("那如果是2026年1月8号收到的呢", first.context).value == D(2026, 6, 8)


def test_the_examination_request_of_a_pct_application_and_applicants_counted_by_patents() -> None:
    assert computed("PCT申请进入中国国家阶段后，实审请求最晚哪天提？国际申请日2024年1月31日").value == D(2027, 2, 1)
    assert computed("我个人申请的，手上有两个专利，发明第4年年费费减后多少").value == 180  # 85% off


def test_impossible_dates_are_asked_again_not_computed() -> None:
    for message in ("9999年12月1日收到驳回决定，复审最晚哪天", "2026年2月30日收到驳回决定，复审最晚哪天",
                    "2月30日收到驳回决定，复审最晚哪天"):
        assert needs(message, "date")


def test_a_one_word_applicant_answers_the_count_question() -> None:
    asked = needs("第4年年费费减后多少，发明", "applicant_count")
    assert computed("个人", asked.context).value == 180


def test_a_deadline_already_passed_is_said_plainly() -> None:
    late = compute("驳回决定是2025年3月2日收到的，复审最晚哪天", None, TODAY)
    assert isinstance(late, Computed) and late.value < TODAY
    assert "已于" in late.text and "恢复权利" in late.text and "转人工" in late.text
    current = computed("驳回决定是2026年6月2日收到的，复审最晚哪天")
    assert "已于" not in current.text
