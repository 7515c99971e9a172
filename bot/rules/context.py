"""Merging the facts of a new message into the context of the calculation under way.

A later message corrects an earlier one, so new facts replace old ones; a bare answer ("2026年",
"第3年", "发文日") fills the fact that was asked for.
"""

from __future__ import annotations

import datetime as dt

from .fees import REDUCTION_RATES
from .models import CalcContext
from .parse import Facts

_FLAGS_SAID_ONCE = ("reduction", "grace", "total", "reexamination", "rejection", "open_licence")


def merge(ctx: CalcContext, facts: Facts) -> None:
    """Write `facts` into `ctx` in place."""
    if len(facts.patent_types) == 1:
        ctx.patent_type = next(iter(facts.patent_types))
    if facts.grant_year_number:
        ctx.grant_year_number = facts.grant_year_number
    if facts.year_number:
        if ctx.pending == "grant_year_number" and not facts.grant_year_number:
            ctx.grant_year_number = facts.year_number
        else:
            ctx.year_number = facts.year_number
    if facts.no_reduction:
        ctx.reduction, ctx.reduction_rate = False, None
    for flag in _FLAGS_SAID_ONCE:  # said once, they hold for the rest of the calculation
        if getattr(facts, flag):
            setattr(ctx, flag, True)
    if facts.no_grace:
        ctx.grace = False
    if facts.force_majeure is not None:
        ctx.force_majeure = facts.force_majeure
    if facts.applicant_kind and ctx.pending == "applicant_count" and not facts.applicant_count:
        # "个人" or "公司" in reply to "一个申请人还是几个": one applicant of that kind
        facts.applicant_count = "single"
        ctx.applicant_count = "single"
        if ctx.reduction and ctx.reduction_rate is None:
            ctx.reduction_rate = REDUCTION_RATES["single"]
    if facts.reduction_rate:
        ctx.reduction_rate = facts.reduction_rate
    if facts.applicant_count:
        ctx.applicant_count = facts.applicant_count
        if ctx.reduction_rate is None or not facts.reduction_rate:
            ctx.reduction_rate = REDUCTION_RATES[facts.applicant_count] if ctx.reduction else None
    if facts.applicant_kind:
        ctx.applicant_kind = facts.applicant_kind
    if facts.service:
        ctx.service = facts.service
    for said in ("filing_calendar_year", "grant_calendar_year"):
        if getattr(facts, said):
            setattr(ctx, said, getattr(facts, said))
    if facts.months_late is not None:
        ctx.months_late = facts.months_late
    _merge_dates(ctx, facts)


def _merge_dates(ctx: CalcContext, facts: Facts) -> None:
    # a lone year beside an annual fee ("今年要交") is the year of payment, not of filing
    year_of_dates = ctx.pending == "calendar_year" or not str(ctx.rule).startswith("calc:annual-fee")
    if facts.year_only and year_of_dates:
        ctx.calendar_year = facts.year_only
    for date in facts.dates:
        if date.value is not None:
            _put(ctx, date.kind, date.value)
            ctx.calendar_year = ctx.calendar_year or date.value.year
        elif ctx.calendar_year and ctx.pending != "calendar_year":
            _complete(ctx, ctx.calendar_year, date.month, date.day, date.kind)
        else:
            ctx.partial_date = (date.month, date.day, date.kind)
    if ctx.partial_date and facts.year_only and year_of_dates:
        month, day, kind = ctx.partial_date
        _complete(ctx, facts.year_only, month, day, kind)
    if facts.kind_word and ctx.pending == "date_kind" and "unknown" in ctx.dates:
        ctx.dates[facts.kind_word] = ctx.dates.pop("unknown")


def _complete(ctx: CalcContext, year: int, month: int, day: int, kind: str) -> None:
    try:
        _put(ctx, kind, dt.date(year, month, day))
        ctx.partial_date = None
    except ValueError:  # 2月29日 of a common year: ask again
        ctx.partial_date = (month, day, kind)


def _put(ctx: CalcContext, kind: str, value: dt.date) -> None:
    # A newly given date replaces the dates of the same meaning given before.
    if kind in ("dispatch", "receipt", "unknown"):
        for other in ("dispatch", "receipt", "unknown"):
            ctx.dates.pop(other, None)
    ctx.dates[kind] = value
