"""`compute`: one message (plus the context so far) to a figure, a question, or None."""

from __future__ import annotations

import datetime as dt
from copy import deepcopy

from . import annual, render
from .context import merge
from .deadlines import compute_deadline
from .intent import rule_for
from .models import CalcContext, Computed, NeedsFact
from .parse import parse
from .tables import DEADLINE_RULES
from .workdays import DeadlineCalendar, default_calendar


def compute(
    message: str,
    context: CalcContext | None = None,
    today: dt.date | None = None,
    calendar: DeadlineCalendar | None = None,
) -> Computed | NeedsFact | None:
    """Answer a calculation request, ask for one missing fact, or return None (not ours).

    A message that names no rule continues the calculation in `context` when it brings a fact
    (the answer to the last question); otherwise it is not a calculation.
    """
    today = today or dt.date.today()
    facts = parse(message, today)
    ctx = deepcopy(context) if context else CalcContext()
    rule_id = rule_for(message, facts)
    if rule_id is not None:
        if rule_id != ctx.rule and not _same_family(rule_id, ctx.rule):
            ctx = CalcContext(rule=rule_id)
        ctx.rule = rule_id
    elif ctx.rule is None or not (facts.any() or facts.invalid_date):
        return None
    merge(ctx, facts)
    if facts.invalid_date and not facts.dates:
        ctx.pending = "date"
        return NeedsFact("date", "这个日期好像不存在，请再确认一下是哪年哪月哪日？", ctx)
    result = _dispatch(ctx, calendar or default_calendar())
    if isinstance(result, Computed) and isinstance(result.value, dt.date) and result.value < today:
        result.text += "\n" + PASSED.format(end=render.cn_date(result.value), today=render.cn_date(today))
    return result


# a deadline already behind the user is said plainly, with the way that may still be open
PASSED = ("请注意：按您给出的日期，这个期限已于{end}届满（今天是{today}）。因正当理由或不可抗力延误的，"
          "可以了解能否请求恢复权利（专利法实施细则第六条）；需要的话，回复“转人工”由客服为您核实。")


def _same_family(new: str, old: str | None) -> bool:
    """The annual-fee questions share their facts (type, year, reduction)."""
    return bool(old) and new.startswith("calc:annual-fee") and str(old).startswith("calc:annual-fee")


def _dispatch(ctx: CalcContext, calendar: DeadlineCalendar) -> Computed | NeedsFact | None:
    if ctx.rule == "calc:annual-fee":
        return annual.compute_annual_fee(ctx)
    if ctx.rule == "calc:annual-fee-surcharge":
        return annual.compute_surcharge(ctx)
    if ctx.rule == "calc:annual-fee-due":
        return annual.compute_due_date(ctx, calendar)
    rule_id = _variant(ctx)
    if rule_id == "calc:restoration-reexamination-deadline" and "expiry" not in ctx.dates:
        # "2026年1月8号收到的驳回决定，忘了提复审": the re-examination limit's last day first
        limit = compute_deadline(DEADLINE_RULES["calc:reexamination-deadline"], deepcopy(ctx), calendar)
        if not isinstance(limit, Computed):
            return limit
        ctx.dates["expiry"] = limit.value  # type: ignore[assignment]
        ctx.derived = f"复审请求期限（收到驳回决定之日起3个月）于 {render.cn_date(limit.value)} 届满"  # type: ignore[arg-type]
        result = compute_deadline(DEADLINE_RULES[rule_id], ctx, calendar)
        ctx.dates.pop("expiry", None)  # worked out, not said: a corrected receipt date recomputes it
        return result
    rule = DEADLINE_RULES.get(rule_id or "")
    if rule is None:
        return None
    return compute_deadline(rule, ctx, calendar)


def _variant(ctx: CalcContext) -> str | None:
    """Restoration runs from a different day when the limit missed was the re-examination
    request's, or when force majeure caused the delay (IR art. 6)."""
    if ctx.rule != "calc:restoration-deadline":
        return ctx.rule
    if ctx.force_majeure is not False and ("obstacle_removed" in ctx.dates or ctx.force_majeure):
        return "calc:restoration-force-majeure-deadline"
    if ctx.reexamination and (ctx.rejection or not set(ctx.dates) & {"dispatch", "receipt"}):
        return "calc:restoration-reexamination-deadline"
    return ctx.rule
