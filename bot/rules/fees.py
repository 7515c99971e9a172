"""Annual fees, the fee reduction and the late-payment surcharge, as tables.

Amounts in yuan before reduction, checked in shared/notes/patent-facts.md against the
official fee schedule. The surcharge schedule is the one of the Examination Guidelines
Part V, ch. 9, 4.2.1.3: nothing for the first month, then 5 % of the FULL annual fee for
each further month begun, up to 25 % in the sixth month (IR art. 115).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import sources

# (first year, last year, yuan per year) per patent type.
ANNUAL_FEES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "invention": (
        (1, 3, 900), (4, 6, 1200), (7, 9, 2000), (10, 12, 4000), (13, 15, 6000), (16, 20, 8000),
    ),
    "utility_model": ((1, 3, 600), (4, 5, 900), (6, 8, 1200), (9, 10, 2000)),
    "design": ((1, 3, 600), (4, 5, 900), (6, 8, 1200), (9, 10, 2000), (11, 15, 3000)),
}
ANNUAL_FEE_SOURCES = [sources.FEE_SCHEDULE, sources.rules("第一百一十条")]

# Years 11-15 of a design exist only for applications filed from 2021-06-01 (PL art. 42).
DESIGN_15_YEARS_FROM = "2021年6月1日"

# Percent taken off, by number of eligible applicants; reducible for the 10 years from the
# year of grant (since 2018-08-01).
REDUCTION_RATES: dict[str, int] = {"single": 85, "several": 70}
REDUCED_ANNUAL_FEE_YEARS = 10
OPEN_LICENCE_PERCENT_OFF = 15  # annual fees while under open licensing (财税〔2024〕23号)
REDUCTION_SOURCES = [sources.FEE_REDUCTION, sources.rules("第一百一十七条")]

LATE_WINDOW_MONTHS = 6  # IR art. 115
SURCHARGE_STEP_PERCENT = 5
SURCHARGE_SOURCES = [sources.rules("第一百一十五条"), sources.guidelines("第五部分第九章第4.2.1.3节")]


@dataclass(frozen=True)
class FeeBand:
    first_year: int
    last_year: int
    yuan: int


def term_years(patent_type: str) -> int:
    """The last patent year that has an annual fee."""
    return ANNUAL_FEES[patent_type][-1][1]


def annual_fee_band(patent_type: str, year: int) -> FeeBand | None:
    for first, last, yuan in ANNUAL_FEES[patent_type]:
        if first <= year <= last:
            return FeeBand(first, last, yuan)
    return None


def reduced(yuan: int, percent_off: int) -> int:
    """What is paid after taking `percent_off` %; exact in whole yuan for every table row."""
    paid = yuan * (100 - percent_off)
    if paid % 100:
        raise ValueError(f"{yuan} less {percent_off}% is not a whole number of yuan")
    return paid // 100


def reduction_applies(year: int, grant_year: int) -> bool:
    """Annual fees are reducible from the year of grant for 10 years."""
    return grant_year <= year < grant_year + REDUCED_ANNUAL_FEE_YEARS


def surcharge_percent(months_late: int) -> int:
    """Percent of the full annual fee due when paying within the `months_late`-th month late.

    Month 1 (up to one whole month late): 0; month 2: 5; ... month 6: 25.
    """
    if not 1 <= months_late <= LATE_WINDOW_MONTHS:
        raise ValueError("the late window is six months")
    return SURCHARGE_STEP_PERCENT * (months_late - 1)


def surcharge(full_fee: int, months_late: int) -> int:
    """Surcharge in yuan; on the full (unreduced) fee, exact for every table row."""
    amount = full_fee * surcharge_percent(months_late)
    if amount % 100:
        raise ValueError(f"{months_late} months on {full_fee} is not a whole number of yuan")
    return amount // 100
