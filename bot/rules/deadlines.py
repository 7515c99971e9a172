"""Time limits from a date of the case or from the service of a notice (table rows in
`tables.py`), moved off rest days by the working calendar."""

from __future__ import annotations

import datetime as dt

from . import render, sources
from .models import DATE_KINDS, PATENT_TYPES, CalcContext, Computed, NeedsFact
from .periods import POSTAL_PRESUMPTION_DAYS, served_on
from .tables import DeadlineRule
from .workdays import DeadlineCalendar

SERVICE_QUESTION = "请问通知书是电子送达（在专利业务办理系统里收到）还是纸件邮寄收到的？"
TYPE_QUESTION = "请问是发明、实用新型还是外观设计？"


def compute_deadline(
    rule: DeadlineRule, ctx: CalcContext, calendar: DeadlineCalendar
) -> Computed | NeedsFact | None:
    period = rule.period
    if rule.by_type:
        if ctx.patent_type is None:
            return NeedsFact("patent_type", TYPE_QUESTION, ctx)
        period = rule.by_type[ctx.patent_type]
    if rule.rule_id == "calc:examination-request-deadline" and ctx.patent_type not in (None, "invention"):
        return None  # utility models and designs have no substantive examination: an FAQ
    steps: list[str] = [ctx.derived] if ctx.derived else []
    ctx.derived = None  # said once, in this answer
    notes: list[str] = []
    cited = list(rule.sources)
    if rule.start == "notice":
        start = _served(rule, ctx, steps, notes, cited)
    else:
        start = _case_date(rule, ctx, steps)
    if isinstance(start, NeedsFact):
        return start
    plain = period.end(start)
    steps.append(f"{cn(start)} + {period.label()} = {cn(plain)}")
    if rule.cap and rule.cap[0] in ctx.dates:
        kind, cap_period = rule.cap
        outer = cap_period.end(ctx.dates[kind])
        if outer < plain:
            steps.append(f"但最迟为{DATE_KINDS[kind]} {cn(ctx.dates[kind])} + {cap_period.label()} = {cn(outer)}")
            plain = outer
    ext = calendar.extend(plain)
    uncovered = set(ext.uncovered_years)
    if ext.moved:
        steps.append(render.extension_step(ext) or "")
        cited.extend(sources.EXPIRY_ON_REST_DAY)
    headline = f"{rule.action}的最后期限是 {render.cn_date_weekday(ext.end)}，当天办理完毕即可。"
    value = ext.end
    if rule.grace:
        grace_period, condition = rule.grace
        grace = calendar.extend(grace_period.end(start))
        uncovered |= set(grace.uncovered_years)
        moved = f"，遇休假日顺延至 {render.cn_date_weekday(grace.end)}" if grace.moved else ""
        grace_steps = f"{cn(start)} + {grace_period.label()} = {cn(grace.plain)}{moved}"
        if ctx.grace:  # the user asked for the later limit: it is the answer, the plain one a note
            value = grace.end
            headline = (f"{condition}，{rule.action}的最后期限是 {render.cn_date_weekday(grace.end)}"
                        f"（{grace_steps}）。")
            notes.append(f"不缴宽限费的期限是 {render.cn_date_weekday(ext.end)}。")
        else:
            notes.append(
                f"{condition}，最晚可在自{_start_label(rule, ctx)}起{grace_period.label()}内办理：{grace_steps}。"
            )
        if grace.moved:
            cited.extend(sources.EXPIRY_ON_REST_DAY)
    if rule.note:
        notes.append(rule.note)
    ctx.pending = None
    return Computed(
        rule_id=rule.rule_id,
        value=value,
        text=render.reply(headline, steps, notes, cited),
        sources=list(dict.fromkeys(cited)),
        caveat=render.calendar_caveat(uncovered),
        context=ctx,
    )


def cn(day: dt.date) -> str:
    return render.cn_date(day)


def _served(
    rule: DeadlineRule, ctx: CalcContext, steps: list[str], notes: list[str], cited: list[str]
) -> dt.date | NeedsFact:
    """The day the notice counts as received, from the date received or dispatched."""
    if "receipt" in ctx.dates:
        steps.append(f"期限自收到{rule.notice}之日起算")
        return ctx.dates["receipt"]
    if "dispatch" in ctx.dates:
        if ctx.service is None:
            ctx.pending = "service"
            return NeedsFact("service", SERVICE_QUESTION, ctx)
        dispatch = ctx.dates["dispatch"]
        served = served_on(dispatch, ctx.service)
        cited.extend(sources.SERVICE)
        if ctx.service == "paper":
            steps.append(
                f"纸件邮寄：发文日 {cn(dispatch)} + {POSTAL_PRESUMPTION_DAYS}日 = 推定收到日 {cn(served)}"
                "（推定收到日遇休假日不顺延）"
            )
            notes.append("如能提供证据证明实际收到日期，以实际收到日为准。")
        else:
            steps.append(f"电子送达：以发文日 {cn(dispatch)} 推定为送达日")
        return served
    if "unknown" in ctx.dates:
        ctx.pending = "date_kind"
        return NeedsFact(
            "date_kind",
            f"请问 {cn(ctx.dates['unknown'])} 是{rule.notice}上的发文日，还是您实际收到的日期？",
            ctx,
        )
    return _ask_date(ctx, f"请问{rule.notice}的发文日（或您实际收到的日期）是哪天？")


def _case_date(rule: DeadlineRule, ctx: CalcContext, steps: list[str]) -> dt.date | NeedsFact:
    for kind in rule.prefer:
        if kind in ctx.dates:
            steps.append(f"要求了优先权的，以{DATE_KINDS[kind]} {cn(ctx.dates[kind])} 起算")
            return ctx.dates[kind]
    for kind in (rule.start, *rule.accepts):
        if kind in ctx.dates:
            if kind != rule.start:
                steps.append(f"按您给出的日期 {cn(ctx.dates[kind])} 作为{DATE_KINDS[rule.start]}计算")
            return ctx.dates[kind]
    return _ask_date(ctx, f"请问{DATE_KINDS[rule.start]}是哪天？")


def _start_label(rule: DeadlineRule, ctx: CalcContext) -> str:
    return DATE_KINDS[rule.start] if rule.start != "notice" else f"收到{rule.notice}之日"


def _ask_date(ctx: CalcContext, question: str) -> NeedsFact:
    if ctx.partial_date:
        month, day, _ = ctx.partial_date
        ctx.pending = "calendar_year"
        return NeedsFact("calendar_year", f"请问是哪一年的{month}月{day}日？", ctx)
    ctx.pending = "date"
    return NeedsFact("date", question, ctx)


def type_label(ctx: CalcContext) -> str:
    return PATENT_TYPES[ctx.patent_type] if ctx.patent_type else "专利"
