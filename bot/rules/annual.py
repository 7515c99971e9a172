"""Annual fees: the amount for a year (full or reduced), the late-payment surcharge and the
due date with its surcharge schedule."""

from __future__ import annotations

from dateutil.relativedelta import relativedelta

from . import fees, render, sources
from .deadlines import TYPE_QUESTION, _ask_date, cn
from .models import PATENT_TYPES, CalcContext, Computed, NeedsFact
from .periods import months, years
from .workdays import DeadlineCalendar

COUNT_QUESTION = "请问是一个申请人（专利权人）单独费减（减缴85%），还是两个及以上共同费减（减缴70%）？"
YEAR_QUESTION = "请问是第几年（第几个年度）的年费？"


def _check_type_and_year(ctx: CalcContext) -> NeedsFact | None:
    if ctx.patent_type is None:
        ctx.pending = "patent_type"
        return NeedsFact("patent_type", TYPE_QUESTION, ctx)
    if ctx.year_number is None:
        ctx.pending = "year_number"
        return NeedsFact("year_number", YEAR_QUESTION, ctx)
    last = fees.term_years(ctx.patent_type)
    if not 1 <= ctx.year_number <= last:
        ctx.pending = "year_number"
        bad, ctx.year_number = ctx.year_number, None
        return NeedsFact(
            "year_number",
            f"{PATENT_TYPES[ctx.patent_type]}最长缴到第{last}年，没有第{bad}年的年费。请问是第几年？",
            ctx,
        )
    return None


def _design_caveat(ctx: CalcContext) -> str | None:
    if ctx.patent_type == "design" and ctx.year_number and ctx.year_number > 10:
        return (
            f"外观设计专利保护期15年只适用于{fees.DESIGN_15_YEARS_FROM}以后（含当日）申请的专利，"
            "之前申请的外观设计保护期为10年，没有第11年以后的年费。"
        )
    return None


def compute_annual_fee(ctx: CalcContext) -> Computed | NeedsFact:
    """The annual fee of one year, reduced when asked and applicable."""
    missing = _check_type_and_year(ctx)
    if missing:
        return missing
    assert ctx.patent_type and ctx.year_number
    band = fees.annual_fee_band(ctx.patent_type, ctx.year_number)
    assert band
    label = f"{PATENT_TYPES[ctx.patent_type]}第{ctx.year_number}年"
    steps = [f"{PATENT_TYPES[ctx.patent_type]}第{band.first_year}—{band.last_year}年的年费标准为每年{band.yuan}元"]
    cited = list(fees.ANNUAL_FEE_SOURCES)
    notes: list[str] = []
    value = band.yuan
    headline = f"{label}的年费是 {band.yuan} 元（全额）。"
    if ctx.reduction:
        if ctx.reduction_rate is None:
            ctx.pending = "applicant_count"
            return NeedsFact("applicant_count", COUNT_QUESTION, ctx)
        from_years = _grant_year_from_calendar_years(ctx)
        if from_years:
            steps.append(from_years)
        if ctx.year_number > fees.REDUCED_ANNUAL_FEE_YEARS and ctx.grant_year_number is None:
            ctx.pending = "grant_year_number"
            return NeedsFact(
                "grant_year_number",
                "年费减缴只适用于授予专利权当年起的10个年度。请问专利是在第几年（第几个年度）授权的？",
                ctx,
            )
        cited.extend(fees.REDUCTION_SOURCES)
        grant = ctx.grant_year_number or 1
        if fees.reduction_applies(ctx.year_number, grant):
            value = fees.reduced(band.yuan, ctx.reduction_rate)
            headline = f"{label}的年费费减后是 {value} 元（全额 {band.yuan} 元，减缴{ctx.reduction_rate}%）。"
            steps.append(f"{band.yuan}元 ×（1 − {ctx.reduction_rate}%）= {value}元")
            notes.append("费减需要事先提出请求并经备案认可；年费减缴只适用于授予专利权当年起的10个年度。")
        else:
            headline = f"{label}已超出费减的10个年度，需按全额缴纳 {band.yuan} 元。"
            last = grant + fees.REDUCED_ANNUAL_FEE_YEARS - 1
            steps.append(f"减缴最晚只适用到第{last}年度" if from_years else
                         f"第{grant}年度授权，减缴只适用于第{grant}—{last}年度")
    if ctx.open_licence:
        value, headline = _open_licence(ctx, band.yuan, value, label, headline, steps, notes, cited)
    return _fee_answer("calc:annual-fee", value, headline, steps, notes, cited, ctx)


def _open_licence(ctx: CalcContext, full: int, value: int, label: str, headline: str,
                  steps: list[str], notes: list[str], cited: list[str]) -> tuple[int, str]:
    """Open licensing takes 15% off; it does not add to a fee reduction: the better one applies."""
    cited.append(sources.OPEN_LICENCE_FEES)
    notes.append("开放许可的年费减免只适用于开放许可实施期间；同时符合其他专利收费减免政策的，"
                 "可以选择最优惠的一项，但不能重复享受。")
    off = fees.OPEN_LICENCE_PERCENT_OFF
    open_value = fees.reduced(full, off)
    if value <= open_value:  # the fee reduction already applied is the better one
        steps.append(f"开放许可减免{off}%为 {open_value} 元，不如费减优惠，按费减后的金额缴纳")
        return value, headline
    steps.append(f"开放许可实施期间年费减免{off}%：{full}元 ×（1 − {off}%）= {open_value}元")
    return open_value, f"{label}的年费在开放许可实施期间是 {open_value} 元（全额 {full} 元，减免{off}%）。"


def _grant_year_from_calendar_years(ctx: CalcContext) -> str | None:
    """"2017年申请、2019年授权": the grant fell in the patent's 3rd year, or its 2nd when the grant
    came before the filing date's anniversary; when the reduction reaches the asked year either
    way (or neither way), the calendar years are enough and the user need not be asked."""
    f, g, n = ctx.filing_calendar_year, ctx.grant_calendar_year, ctx.year_number
    if ctx.grant_year_number is not None or not (f and g and n) or g < f or n <= fees.REDUCED_ANNUAL_FEE_YEARS:
        return None
    candidates = [y for y in (g - f, g - f + 1) if y >= 1]
    if len({fees.reduction_applies(n, y) for y in candidates}) != 1:
        return None
    ctx.grant_year_number = candidates[-1]
    which = "或".join(f"第{y}" for y in candidates)
    return f"{f}年申请、{g}年授权，授权在{which}个年度（视授权日在申请日对应日之前还是之后），两种情况下结论相同"


def _fee_answer(rule_id: str, value: int, headline: str, steps: list[str], notes: list[str],
                cited: list[str], ctx: CalcContext) -> Computed:
    """A fee worked out: the calculation is complete, nothing is pending."""
    ctx.pending = None
    return Computed(rule_id=rule_id, value=value, text=render.reply(headline, steps, notes, cited),
                    sources=list(dict.fromkeys(cited)), caveat=_design_caveat(ctx), context=ctx)


def compute_surcharge(ctx: CalcContext) -> Computed | NeedsFact:
    """The surcharge for paying a year's fee a number of whole months late."""
    missing = _check_type_and_year(ctx)
    if missing:
        return missing
    assert ctx.patent_type and ctx.year_number
    if ctx.months_late is None:
        ctx.pending = "months_late"
        return NeedsFact("months_late", "请问超过缴费期限几个月了？", ctx)
    if ctx.months_late > fees.LATE_WINDOW_MONTHS:
        ctx.pending = "months_late"
        bad, ctx.months_late = ctx.months_late, None
        return NeedsFact(
            "months_late",
            f"年费只能在期满之日起6个月内补缴，逾期{bad}个月已超出补缴期，专利权会自应缴年费期满之日起终止，"
            "需要另行请求恢复权利，建议咨询专利代理师。请问实际逾期几个月？",
            ctx,
        )
    band = fees.annual_fee_band(ctx.patent_type, ctx.year_number)
    assert band
    label = f"{PATENT_TYPES[ctx.patent_type]}第{ctx.year_number}年年费"
    cited = list(fees.SURCHARGE_SOURCES) + list(fees.ANNUAL_FEE_SOURCES)
    if ctx.months_late == 0:
        value = 0
        headline = f"{label}超过期限不足一个月补缴的，不需要缴纳滞纳金，补缴年费即可。"
        steps = ["补缴时间超过规定期限但不足一个月时，不缴纳滞纳金"]
    else:
        m = ctx.months_late
        pct = fees.surcharge_percent(m)
        value = fees.surcharge(band.yuan, m)
        headline = f"{label}逾期{m}个月补缴，滞纳金是 {value} 元（全额年费 {band.yuan} 元的{pct}%），另需补缴当年年费。"
        tier = "超过规定期限不足一个月" if m == 1 else f"超过规定期限{m - 1}个月至{m}个月（含{m}个整月）"
        steps = [
            f"按超过规定期限{m}个整月计，属于“{tier}”一档，滞纳金为全额年费的{pct}%",
            f"{band.yuan}元 × {pct}% = {value}元",
        ]
    if ctx.total and not ctx.reduction:
        # "一共要交多少": the year's full fee and the surcharge together
        steps.append(f"补缴合计：年费 {band.yuan}元 + 滞纳金 {value}元 = {band.yuan + value}元")
        headline = (f"{label}逾期补缴一共是 {band.yuan + value} 元：全额年费 {band.yuan} 元，"
                    f"加滞纳金 {value} 元。")
        value += band.yuan
    notes = [
        "滞纳金按全额年费计算，不因费减而减少；超过整月又多出几天的，按下一档计算。",
    ]
    return _fee_answer("calc:annual-fee-surcharge", value, headline, steps, notes, cited, ctx)


def compute_due_date(ctx: CalcContext, calendar: DeadlineCalendar) -> Computed | NeedsFact:
    """When a year's fee is due (the filing date's corresponding day) and the late schedule."""
    if ctx.year_number is None:
        ctx.pending = "year_number"
        return NeedsFact("year_number", "请问要算第几年（第几个年度）的年费？", ctx)
    if ctx.year_number < 2:
        ctx.pending = "year_number"
        ctx.year_number = None
        return NeedsFact(
            "year_number",
            "授予专利权当年的年费在办理登记手续时缴纳，以后各年的年费在上一年度期满前缴纳。请问要算第几年的年费？",
            ctx,
        )
    if ctx.patent_type and ctx.year_number > fees.term_years(ctx.patent_type):
        return _check_type_and_year(ctx) or NeedsFact("year_number", YEAR_QUESTION, ctx)
    filing = ctx.dates.get("filing") or ctx.dates.get("unknown")
    if filing is None:
        return _ask_date(ctx, "年费年度从申请日起算，请问专利的申请日是哪天？")
    n = ctx.year_number
    plain = filing + years(n - 1).months * relativedelta(months=1)
    ext = calendar.extend(plain)
    steps = [f"申请日 {cn(filing)} + {n - 1}年 = {cn(plain)}（第{n}年度开始之日，即缴费期限届满日）"]
    cited = [sources.rules("第一百一十五条"), sources.guidelines("第五部分第九章第4.2.1节")]
    uncovered = set(ext.uncovered_years)
    if ext.moved:
        steps.append(render.extension_step(ext) or "")
        cited.extend(sources.EXPIRY_ON_REST_DAY)
    late = calendar.extend(months(fees.LATE_WINDOW_MONTHS).end(plain))
    uncovered |= set(late.uncovered_years)
    band = fees.annual_fee_band(ctx.patent_type, n) if ctx.patent_type else None
    what = f"{PATENT_TYPES[ctx.patent_type]}第{n}年度" if ctx.patent_type else f"第{n}年度"
    headline = f"{what}的年费最晚应在 {render.cn_date_weekday(ext.end)} 缴纳。"
    if band:
        headline += f"全额为 {band.yuan} 元。"
    schedule = []
    for k in range(1, fees.LATE_WINDOW_MONTHS + 1):
        # Paying on a moved expiry day is on time, so the first month starts after it.
        opened = ext.end if k == 1 else months(k - 1).end(plain)
        first, last = opened + relativedelta(days=1), months(k).end(plain)
        pct = fees.surcharge_percent(k)
        if pct == 0:
            schedule.append(f"{cn(first)}至{cn(last)}补缴：不缴纳滞纳金")
            continue
        amount = f"，{fees.surcharge(band.yuan, k)}元" if band else ""
        schedule.append(f"{cn(first)}至{cn(last)}补缴：滞纳金为全额年费的{pct}%{amount}")
    notes = [
        f"逾期未缴的，可在期满之日起6个月内补缴并缴纳滞纳金，补缴最晚到 {render.cn_date_weekday(late.end)}：",
        *(f"· {line}" for line in schedule),
        "6个月内仍未缴纳的，专利权自应缴年费期满之日起终止。",
    ]
    cited.extend(fees.SURCHARGE_SOURCES)
    caveats = [
        c for c in (
            render.calendar_caveat(uncovered),
            "各滞纳金时段按期满日逐月推算；恰好在两个时段交界那天缴纳的，请以缴费系统显示的金额为准。",
            _design_caveat(ctx),
        ) if c
    ]
    ctx.pending = None
    return Computed(
        rule_id="calc:annual-fee-due",
        value=ext.end,
        text=render.reply(headline, steps, notes, cited),
        sources=list(dict.fromkeys(cited)),
        caveat="\n".join(caveats),
        context=ctx,
    )
