"""Which calculation a message asks for, if any.

Conservative on purpose: a question about a rule in general ("复审期限是多久",
"年费多少") is for the FAQ table, so a rule is claimed only when the message brings its own
number (a year, a date, months late) or plainly asks for a day ("最晚哪天").
"""

from __future__ import annotations

import re

from .parse import Facts

# Checked in order: the first row whose words match names the rule.
_RULE_WORDS: tuple[tuple[str, str], ...] = (
    ("calc:examination-request-deadline", r"实质审查请求|实审请求|提实审|请求实审"),
    ("calc:pct-national-phase", r"(?i)(?:pct|国际申请).*(?:国家阶段|进入中国|进中国|进入国内|宽限|3[02]\s*个月)"
                                r"|(?:国家阶段|进入中国).*(?i:pct)"),
    ("calc:term-compensation-deadline", r"期限补偿"),
    ("calc:restoration-deadline", r"恢复(?!费|权利请求费)"),
    ("calc:annual-fee", r"年[费废]"),
    ("calc:registration-deadline", r"登记手续|办理登记|办登记|登记通知|授予专利权(?:的)?通知|授权通知|办理授权"),
    ("calc:reexamination-deadline", r"复[审申](?!费)"),
    ("calc:examination-request-deadline", r"实质审查请求|实审请求|提实审|请求实审|实质审查|实审"),
    ("calc:priority-deadline", r"优先权"),
)
_DEADLINE_CUE = re.compile(
    r"最晚|最迟|最后一天|最后期限|最后哪天|截止|截至|哪天|哪一天|几号|几月几|什么时候(?:之前|前|截止|到期|交|缴|提|办|要)|到期|来得及|期限届满|还能不能|deadline",
    re.IGNORECASE,
)
# "第3年年费多少" asks an amount; "第3年年费怎么缴纳" or "在哪里交" does not
_AMOUNT_CUE = re.compile(r"多少|几多|多钱|几百|几千|金额|价格|收费|标准|费减后|减缴后|减免后|交几|缴几|要交多|得交多")
_SURCHARGE_CUE = re.compile(r"滞纳金|逾期|超期|晚交|迟交|补缴|晚了|迟了|过期|拖了")


def rule_for(message: str, facts: Facts) -> str | None:
    """The rule id a message asks to compute, or None (not a computation)."""
    rule_id = next((rid for rid, words in _RULE_WORDS if re.search(words, message)), None)
    if rule_id is None:
        return None
    if rule_id == "calc:annual-fee":
        return _annual_fee_rule(message, facts)
    if facts.dates or _DEADLINE_CUE.search(message):
        return rule_id
    return None


def _annual_fee_rule(message: str, facts: Facts) -> str | None:
    """Amount for a year, surcharge for months late, or the due date from a filing date."""
    if _SURCHARGE_CUE.search(message) and (facts.year_number or facts.months_late is not None):
        return "calc:annual-fee-surcharge" if _AMOUNT_CUE.search(message) or facts.months_late is not None else None
    if facts.dates or (facts.year_number and _DEADLINE_CUE.search(message)):
        return "calc:annual-fee-due"
    if not _AMOUNT_CUE.search(message):
        return None
    if facts.year_number or (facts.reduction and facts.patent_types and not facts.no_reduction):
        return "calc:annual-fee"  # with 费减 but no year: which year decides the reduced amount
    return None
