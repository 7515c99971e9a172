"""Date arithmetic of time limits: service of notices and limits in days, months and years.

Month arithmetic goes through dateutil's relativedelta, which ends a limit on the
corresponding day of the final month, or on that month's last day when there is none
(IR art. 5), e.g. 2025-08-31 + 6 months = 2026-02-28.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

POSTAL_PRESUMPTION_DAYS = 15  # IR art. 4: presumed received 15 days after dispatch


@dataclass(frozen=True)
class Period:
    """A time limit of whole months (years are 12 months)."""

    months: int

    def label(self) -> str:
        if self.months % 12 == 0:
            return f"{self.months // 12}年"
        return f"{self.months}个月"

    def end(self, start: dt.date) -> dt.date:
        """The plain expiry: `start` is the day the limit counts from (itself not counted)."""
        return start + relativedelta(months=self.months)


def months(n: int) -> Period:
    return Period(n)


def years(n: int) -> Period:
    return Period(12 * n)


def served_on(dispatch: dt.date, service: str) -> dt.date:
    """The presumed day of service of a CNIPA notice.

    Paper by post: 15 days after dispatch, not moved for holidays (IR art. 4; Guidelines
    Part V ch. 6, 2.3.1 and ch. 7, 2.3). Electronic: the day it enters the party's system,
    presumed to be the dispatch date unless the party proves otherwise (same section).
    """
    if service == "paper":
        return dispatch + dt.timedelta(days=POSTAL_PRESUMPTION_DAYS)
    if service == "electronic":
        return dispatch
    raise ValueError(f"unknown service {service!r}")
