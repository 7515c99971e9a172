"""The time-limit rules, one row each: what starts the limit, how long it runs, the source.

A row whose limit counts from a notice's service (送达) needs either the date received or the
dispatch date and the kind of service; the others count from a fixed date of the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import sources
from .periods import Period, months, years


@dataclass(frozen=True)
class DeadlineRule:
    rule_id: str
    action: str  # what must be done by the end of the limit, as said in the reply
    start: str  # "notice" (served notice) or a date kind of models.DATE_KINDS
    period: Period
    sources: tuple[str, ...]
    notice: str = ""  # the notice whose service starts the limit
    accepts: tuple[str, ...] = ()  # other date kinds read as the start date
    by_type: dict[str, Period] = field(default_factory=dict)  # period per patent type
    grace: tuple[Period, str] | None = None  # a later limit with a condition (PCT grace fee)
    note: str = ""  # one line shown under the steps
    prefer: tuple[str, ...] = ()  # date kinds that count instead of `start` when given (IR 12)
    cap: tuple[str, Period] | None = None  # an outer limit from another date of the case


DEADLINE_RULES: dict[str, DeadlineRule] = {
    r.rule_id: r
    for r in (
        DeadlineRule(
            "calc:registration-deadline", "办理登记手续（同时缴纳授予专利权当年的年费）",
            "notice", months(2),
            (sources.rules("第六十条、第一百一十四条"),),
            notice="授予专利权通知书",
            note="期满未办理登记手续的，视为放弃取得专利权的权利。",
        ),
        DeadlineRule(
            "calc:reexamination-deadline", "提出复审请求（并缴纳复审费）", "notice", months(3),
            (sources.law("第四十一条"), sources.rules("第一百一十三条")),
            notice="驳回决定",
        ),
        DeadlineRule(
            "calc:restoration-deadline", "请求恢复权利（并缴纳恢复权利请求费）", "notice", months(2),
            (sources.rules("第六条第二款、第一百一十六条"),),
            notice="权利丧失的通知书",
            note="这是因正当理由延误期限的情形；因不可抗拒事由延误的，自障碍消除之日起2个月内且自期限届满之日起2年内请求（细则第六条第一款）。",
        ),
        DeadlineRule(
            "calc:restoration-reexamination-deadline", "请求恢复提出复审请求的权利（并缴纳恢复权利请求费）",
            "expiry", months(2),
            (sources.rules("第六条第二款"),),
            accepts=("unknown",),
            note="延误复审请求期限的，自复审请求期限届满之日起2个月内请求恢复权利，并说明理由。",
        ),
        DeadlineRule(
            "calc:restoration-force-majeure-deadline", "因不可抗拒的事由请求恢复权利",
            "obstacle_removed", months(2),
            (sources.rules("第六条第一款"),),
            cap=("expiry", years(2)),
            note="因不可抗拒的事由延误期限的，自障碍消除之日起2个月内，最迟自期限届满之日起2年内，可以请求恢复权利。",
        ),
        DeadlineRule(
            "calc:priority-deadline", "提出要求优先权的在后申请", "priority", years(1),
            (sources.law("第二十九条"),),
            accepts=("filing", "unknown"),
            by_type={"invention": months(12), "utility_model": months(12), "design": months(6)},
            note="期限自第一次提出申请之日（优先权日）起算。",
        ),
        DeadlineRule(
            "calc:examination-request-deadline", "提出实质审查请求（并缴纳实质审查费）", "filing",
            years(3),
            (sources.law("第三十五条"), sources.rules("第十二条")),
            accepts=("priority", "unknown"),
            prefer=("priority",),
            note="实质审查请求只适用于发明专利申请；要求了优先权的，申请日指优先权日（细则第十二条）。",
        ),
        DeadlineRule(
            "calc:pct-national-phase", "办理进入中国国家阶段的手续", "priority", months(30),
            (sources.rules("第一百二十条"),),
            accepts=("filing", "unknown"),
            grace=(months(32), "缴纳宽限费后"),
            note="优先权日指专利合作条约第二条所称的优先权日；没有要求优先权的，即国际申请日。",
        ),
        DeadlineRule(
            "calc:term-compensation-deadline", "请求专利权期限补偿", "grant_announcement", months(3),
            (sources.rules("第七十七条"), sources.guidelines("第五部分第九章第2.1节")),
            accepts=("unknown",),
        ),
    )
}
