"""Facts read from one message: dates and what they are, patent type, year numbers,
reduction, the kind of service and months late.

Only what the user wrote is read; nothing is guessed. Chinese numerals go through cn2an.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import cn2an

_CN_DIGITS = "零〇一二两三四五六七八九十百"
_NUM = rf"(?:\d+|[{_CN_DIGITS}]+)"

# Full dates first; their spans are masked before month-day dates are looked for.
_CN_YEAR_DIGIT = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"零": "0"}
_CN_YEAR_DIGITS = "".join(_CN_YEAR_DIGIT)
_FULL_DATE_RES = (
    re.compile(rf"(\d{{4}}|[{_CN_YEAR_DIGITS}]{{4}})\s*年\s*({_NUM})\s*月\s*({_NUM})\s*[日号]?"),
    re.compile(r"(?<!\d)(\d{4})\s*([./\-])\s*(\d{1,2})\s*\2\s*(\d{1,2})(?!\d)"),
)
_YEAR_BOUNDS = (1980, 2100)
_RELATIVE_YEARS = {"前年": -2, "去年": -1, "今年": 0, "明年": 1}
_RELATIVE_DATE_RE = re.compile(
    rf"(前年|去年|今年|明年)\s*({_NUM})\s*月\s*({_NUM})\s*[日号]?"
)
_MONTH_DAY_RE = re.compile(rf"(?<![\d年])({_NUM})\s*月\s*({_NUM})\s*[日号]")
_YEAR_ONLY_RE = re.compile(r"(?<!\d)(\d{4})\s*年?(?![\d月./\-])")

# Words that say what a date is, nearest to the date wins. Nouns before verbs.
_KIND_WORDS: tuple[tuple[str, str], ...] = (
    ("priority", r"优先权日|首次申请日?|第一次申请|在先申请日?|最早的?申请日"),
    ("grant_announcement", r"授权公告日?|公告授权|授权公告的日期|授予专利权公告"),
    ("obstacle_removed", r"障碍.{0,4}消除|消除"),
    ("expiry", r"届满|到期|截止|截至"),
    ("filing", r"国际申请日|申请日|提交申请|提出申请|递交申请|申请的日期|申请于|申请时间"),
    ("dispatch", r"发文日期?|发文|发出|寄出|下发|签发|发送|发的|印的日期|落款"),
    ("receipt", r"收到日?|接到|拿到|送达|收的"),
)
_CLAUSE_BREAK = re.compile(r"[，。；;！？!?\n]|,(?!\d)")

_TYPE_WORDS: tuple[tuple[str, str], ...] = (
    ("utility_model", r"实用新型|实用型|实新"),
    ("design", r"外观设计|外观"),
    ("invention", r"发明(?!人)"),
)

_YEAR_NUMBER_RE = re.compile(rf"第\s*({_NUM})\s*(?:个)?\s*年(?:度)?")
_GRANT_YEAR_RE = re.compile(
    rf"第\s*({_NUM})\s*(?:个)?\s*年(?:度)?\s*(?:的时候|时)?\s*(?:授权|授予|拿到证书|获得授权)"
    rf"|(?:授权|授予专利权)(?:的|那|当)?(?:年|时)?(?:是|为|在)?第\s*({_NUM})\s*(?:个)?\s*年"
)
_OPEN_LICENCE_RE = re.compile(r"开放许可")
# "2017年申请、2019年授权的": calendar years of the filing and of the grant, without dates
_EVENT_YEAR_RE = re.compile(r"(?<!\d)(\d{4})\s*年\s*(?:的时候|时)?\s*(?:(申请|提交|递交)|(授权|拿证|拿到证书|获得授权|授予))")
_REDUCTION_RE = re.compile(r"费减|减缴|费用减缴|减免|减费|打折")
_RATE_RES = (
    (85, re.compile(r"85\s*%|百分之八十五|减缴?85|减免85")),
    (70, re.compile(r"70\s*%|百分之七十(?!五)|减缴?70|减免70")),
)
_SEVERAL_RE = re.compile(
    r"(?:两|二|多|几|[2-9三四五六七八九])\s*(?:个|家|位|名)?\s*(?:申请人|公司|单位|企业|权利人|专利权人|人一起|人共同|人合伙)"
    r"|两家|两人|共同申请|一起申请|联合申请|合伙申请|共有|共同拥有|共同的"
)
_SINGLE_RE = re.compile(r"一个(?:申请人|人|公司|单位)|一家公司|单个|单独|独自|只有我|个人申请|就我|^\s*(?:一个|一家|一人|就一个)")
_INDIVIDUAL_RE = re.compile(r"个人|自然人|我自己")
_ORGANISATION_RE = re.compile(r"公司|企业|单位|高校|大学|研究所|院所|事业单位")

_SERVICE_WORDS: tuple[tuple[str, str], ...] = (
    ("electronic", r"电子送达|电子申请|电子|网上|在线|线上|系统里|系统中|客户端|业务办理系统"),
    ("paper", r"纸件|纸质|邮寄|寄来|寄给|挂号|信件|快递|邮局|邮政|寄到"),
)
# "不是电子的，是纸件": the kind denied is not the kind meant
_NEGATED_SERVICE_RE = re.compile(
    r"(?:不是|并非|没有|没|不是用|没用|非)(?:寄|收到|用|走)?(?:电子送达|电子|网上|在线|纸件|纸质|邮寄)"
    r"|(?:纸件|纸质|邮寄|电子)[^，。,；;]{0,3}(?:没收到|没有收到|没寄|没有寄|没来)"
)
_MONTHS_LATE_RE = re.compile(
    rf"(?:逾期|超期|晚交|迟交|晚了|迟了|拖了|过了|延误了?|过期|超过(?:期限|缴费期限|规定期限)?)\s*了?\s*({_NUM})\s*个?\s*(多)?\s*(?:整)?月"
)
# "没有费减", "无费减": the full fee is meant, so the applicants need not be asked about
_NO_REDUCTION_RE = re.compile(r"(?:没有|没|无|不|未)(?:申请|办|做|享受|备案|算|计|考虑|包括|含|用|要)?(?:费减|减缴|减免)"
                              r"|(?:费减|减缴|减免)(?:之?前|以前)")
# "交宽限费的话", "32个月": the later PCT limit is asked for
_REEXAMINATION_RE = re.compile(r"复审|复申")
_REJECTION_RE = re.compile(r"驳回")
_FORCE_MAJEURE_RE = re.compile(r"不可抗")
_NOT_FORCE_MAJEURE_RE = re.compile(r"(?:不是|并非|不属于|没有|并不是|不算)(?:因为|由于|是)?不可抗")
_TOTAL_RE = re.compile(r"一共|总共|合计|总计|加起来|连.{0,6}一起|连滞纳金")
_GRACE_RE = re.compile(r"宽限|32\s*个月|三十二个月")
_NO_GRACE_RE = re.compile(r"(?:不|没|没有|不想|不打算)(?:交|缴|付|缴纳)?宽限")
_LESS_THAN_MONTH_RE = re.compile(r"(?:逾期|超期|晚了|迟了)\s*(?:不到|不足|没到)\s*(?:一|1)\s*个?月|晚了几天|逾期几天")
# "逾期35天", "过了截止日二十来天": days late; "3个月零10天": whole months and some days
_DAYS_LATE_RE = re.compile(
    rf"(?:逾期|超期|晚交了?|迟交了?|晚了|迟了|拖了|过了)[^，。,；;\d一二两三四五六七八九十几]{{0,6}}({_NUM})\s*来?\s*(?:多)?\s*天"
)
_MONTHS_AND_DAYS_RE = re.compile(rf"({_NUM})\s*个?\s*月\s*(?:零|又)?\s*({_NUM})\s*天")


@dataclass
class DateFact:
    """A date in the message and what it is ("unknown" when no word says)."""

    kind: str
    value: dt.date | None  # None: month and day given, year still missing
    month: int
    day: int
    start: int


@dataclass
class Facts:
    """Everything read from one message."""

    dates: list[DateFact] = field(default_factory=list)
    invalid_date: bool = False
    year_only: int | None = None
    kind_word: str | None = None  # a date kind named without a date ("是发文日")
    patent_types: set[str] = field(default_factory=set)
    year_number: int | None = None
    grant_year_number: int | None = None
    reduction: bool = False
    reduction_rate: int | None = None
    applicant_count: str | None = None
    applicant_kind: str | None = None
    service: str | None = None
    months_late: int | None = None
    no_reduction: bool = False
    grace: bool = False
    total: bool = False
    reexamination: bool = False
    rejection: bool = False
    force_majeure: bool | None = None  # None: not said
    no_grace: bool = False
    open_licence: bool = False  # the patent is under open licensing (its annual fees: 15% off)
    filing_calendar_year: int | None = None  # "2017年申请" (a year, not a date)
    grant_calendar_year: int | None = None  # "2019年授权"

    def any(self) -> bool:
        return bool(
            self.dates or self.year_only or self.kind_word or self.patent_types
            or self.year_number or self.grant_year_number or self.reduction
            or self.reduction_rate or self.applicant_count or self.service
            or self.months_late is not None or self.no_reduction or self.grace or self.total
            or self.applicant_kind or self.no_grace or self.force_majeure is not None
            or self.open_licence or self.filing_calendar_year or self.grant_calendar_year
        )


def cn_number(text: str) -> int | None:
    """An Arabic or Chinese numeral ("7", "七", "十二", "两") as int, via cn2an."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        value = cn2an.cn2an(text, "smart")
    except (ValueError, KeyError, IndexError):
        return None
    return int(value) if float(value).is_integer() else None


def year_number(text: str) -> int:
    """A four-digit year written in Arabic or Chinese digits ("2026", "二〇二六"), digit by digit."""
    return int("".join(_CN_YEAR_DIGIT.get(c, c) for c in text))


def parse(message: str, today: dt.date) -> Facts:
    """Read every fact of `message`; `today` resolves 今年/去年."""
    facts = Facts()
    text = message.replace("（", "(").replace("）", ")").replace("：", ":")
    masked = _read_dates(text, today, facts)
    has_full_date = any(d.value is not None for d in facts.dates)
    facts.year_only = _year_only(masked, today) if not has_full_date else None
    if not facts.dates:
        facts.kind_word = _kind_word(masked)
    facts.patent_types = {kind for kind, words in _TYPE_WORDS if re.search(words, masked)}
    _read_years(masked, facts)
    _read_reduction(masked, facts)
    facts.service = _service(masked)
    _read_months_late(masked, facts)
    facts.grace = bool(_GRACE_RE.search(masked)) and not _NO_GRACE_RE.search(masked)
    facts.total = bool(_TOTAL_RE.search(masked))
    facts.reexamination = bool(_REEXAMINATION_RE.search(masked))
    facts.rejection = bool(_REJECTION_RE.search(masked))
    facts.force_majeure = (False if _NOT_FORCE_MAJEURE_RE.search(masked)
                           else True if _FORCE_MAJEURE_RE.search(masked) else None)
    facts.no_grace = bool(_NO_GRACE_RE.search(masked))
    facts.open_licence = bool(_OPEN_LICENCE_RE.search(masked))
    for m in _EVENT_YEAR_RE.finditer(masked):
        if _YEAR_BOUNDS[0] <= int(m.group(1)) <= _YEAR_BOUNDS[1]:
            if m.group(2):
                facts.filing_calendar_year = int(m.group(1))
            else:
                facts.grant_calendar_year = int(m.group(1))
    return facts


def _read_dates(text: str, today: dt.date, facts: Facts) -> str:
    """Fill `facts.dates`; returns the text with the dates blanked out."""
    chars = list(text)
    found: list[tuple[int, int, int | None, int | None, int | None]] = []

    def take(match: re.Match[str], year: int | None, month: int | None, day: int | None) -> None:
        found.append((match.start(), match.end(), year, month, day))
        for i in range(match.start(), match.end()):
            chars[i] = " "

    for rx in _FULL_DATE_RES:
        for m in rx.finditer("".join(chars)):
            groups = [g for g in m.groups() if g not in {".", "/", "-"}]
            take(m, year_number(groups[0]), cn_number(groups[1]), cn_number(groups[2]))
    for m in _RELATIVE_DATE_RE.finditer("".join(chars)):
        take(m, today.year + _RELATIVE_YEARS[m.group(1)], cn_number(m.group(2)), cn_number(m.group(3)))
    for m in _MONTH_DAY_RE.finditer("".join(chars)):
        take(m, _year_beside(text, m.end(), today), cn_number(m.group(1)), cn_number(m.group(2)))

    for start, end, year, month, day in sorted(found):
        if month is None or day is None:
            facts.invalid_date = True
            continue
        value: dt.date | None = None
        if year is not None and not _YEAR_BOUNDS[0] <= year <= _YEAR_BOUNDS[1]:
            facts.invalid_date = True  # 9999年 or 0001年: not a date of a patent case
            continue
        try:
            value = dt.date(year if year is not None else 2000, month, day)
        except ValueError:
            facts.invalid_date = True  # 2月30日, 4月31日, 13月1日
            continue
        if year is None:
            value = None
        kind = _kind_near(text, start, end)
        facts.dates.append(DateFact(kind, value, month, day, start))
    return "".join(chars)


_YEAR_BESIDE_RE = re.compile(r"\s*[（(]\s*(?:(前年|去年|今年|明年)\s*)?(?:(\d{4})\s*年?)?")


def _year_beside(text: str, end: int, today: dt.date) -> int | None:
    """"7月5号（今年2026年）": the year said in brackets right after a month and day."""
    m = _YEAR_BESIDE_RE.match(text, end)
    if not m:
        return None
    if m.group(2):
        return int(m.group(2))
    return today.year + _RELATIVE_YEARS[m.group(1)] if m.group(1) else None


def _kind_near(text: str, start: int, end: int) -> str:
    """The date kind named in the date's own clause, the word nearest to the date winning."""
    left = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, start)), default=0)
    right_match = _CLAUSE_BREAK.search(text, end)
    right = right_match.start() if right_match else len(text)
    best: tuple[int, int, str] | None = None
    for rank, (kind, words) in enumerate(_KIND_WORDS):
        for m in re.finditer(words, text[left:right]):
            a, b = m.start() + left, m.end() + left
            distance = start - b if b <= start else a - end if a >= end else 0
            key = (distance, rank, kind)
            if best is None or key < best:
                best = key
    if best is None and left > 0:
        # "授权通知我哪天收到的呢，是7月19号": the kind is named in the clause just before
        before = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, left - 1)), default=0)
        found: list[tuple[int, int, str]] = [(m.end(), rank, kind) for rank, (kind, w) in enumerate(_KIND_WORDS)
                                             for m in re.finditer(w, text[before:left])]
        if found:
            return max(found, key=lambda x: (x[0], -x[1]))[2]
    return best[2] if best else "unknown"


def _kind_word(text: str) -> str | None:
    return _first_kind(text, _KIND_WORDS)


def _first_kind(text: str, table: tuple[tuple[str, str], ...]) -> str | None:
    """The kind whose word appears first in `text` (ties: table order)."""
    hits = [(m.start(), i, kind) for i, (kind, words) in enumerate(table) if (m := re.search(words, text))]
    return min(hits)[2] if hits else None


def _service(text: str) -> str | None:
    """Paper or electronic, once the kinds denied are set aside; both named: not known (ask)."""
    kept = _NEGATED_SERVICE_RE.sub(" ", text)
    named = {kind for kind, words in _SERVICE_WORDS if re.search(words, kept)}
    return next(iter(named)) if len(named) == 1 else None


def _year_only(text: str, today: dt.date) -> int | None:
    """A year given alone ("2026年", "今年"), the answer to "which year?"."""
    m = _YEAR_ONLY_RE.search(text)
    if m and 1980 <= int(m.group(1)) <= 2100:
        return int(m.group(1))
    for word, offset in _RELATIVE_YEARS.items():
        if word in text:
            return today.year + offset
    return None


def _read_years(text: str, facts: Facts) -> None:
    grant = _GRANT_YEAR_RE.search(text)
    if grant:
        facts.grant_year_number = cn_number(grant.group(1) or grant.group(2))
        text = text[: grant.start()] + " " * (grant.end() - grant.start()) + text[grant.end():]
    m = _YEAR_NUMBER_RE.search(text)
    if m:
        facts.year_number = cn_number(m.group(1))


def _read_reduction(text: str, facts: Facts) -> None:
    if _NO_REDUCTION_RE.search(text):
        facts.no_reduction = True
        return
    for rate, rx in _RATE_RES:
        if rx.search(text):
            facts.reduction_rate = rate
            facts.reduction = True
    if _REDUCTION_RE.search(text):
        facts.reduction = True
    if _SEVERAL_RE.search(text):
        facts.applicant_count = "several"
    elif _SINGLE_RE.search(text):
        facts.applicant_count = "single"
    if _INDIVIDUAL_RE.search(text):
        facts.applicant_kind = "individual"
    elif _ORGANISATION_RE.search(text):
        facts.applicant_kind = "organisation"


def _read_months_late(text: str, facts: Facts) -> None:
    if _LESS_THAN_MONTH_RE.search(text):
        facts.months_late = 0
        return
    both = _MONTHS_AND_DAYS_RE.search(text)
    if both and _MONTHS_LATE_RE.search(text):
        whole = cn_number(both.group(1))
        facts.months_late = whole + 1 if whole is not None else None  # within the next month
        return
    days = _DAYS_LATE_RE.search(text)
    if days and not _MONTHS_LATE_RE.search(text):
        n = cn_number(days.group(1))
        # up to 28 days is inside the first month whatever the month; more: ask for months
        facts.months_late = 0 if n is not None and n <= 28 else None
        return
    m = _MONTHS_LATE_RE.search(text)
    if m:
        whole = cn_number(m.group(1))
        # "两个多月": two whole months and some days, so paid within the third month late
        facts.months_late = whole + 1 if whole is not None and m.group(2) else whole
