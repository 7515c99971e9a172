"""Which days a time limit may end on, read from the desk's working calendar.

The Examination Guidelines (Part V, ch. 7, 2.3) move a limit that ends on a statutory holiday
or a moved weekly rest day (移用周休息日) to the first working day after it, and if that day
is a weekly rest day (a Saturday or Sunday made a working day by 调休), on to the Monday. So
for time limits a working day is Monday to Friday and not a holiday: the weekend working days
of `calendar_cn.yml`, right for ticket due dates, do not count here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.handoff.calendar import DEFAULT_TZ, WorkingCalendar, load_calendar

_SEARCH_LIMIT_DAYS = 60  # the longest holiday block is nine days; more means a broken calendar


@dataclass(frozen=True)
class Extension:
    """A limit's plain end, the day it really ends, and the years the calendar lacked."""

    plain: dt.date
    end: dt.date
    uncovered_years: tuple[int, ...]

    @property
    def moved(self) -> bool:
        return self.end != self.plain


@dataclass(frozen=True)
class DeadlineCalendar:
    """Holidays by year; a year is covered when the calendar has its holiday block."""

    holidays: frozenset[dt.date]
    covered_years: frozenset[int]

    @classmethod
    def from_working_calendar(cls, calendar: WorkingCalendar) -> DeadlineCalendar:
        years = {d.year for d in calendar.holidays} | {d.year for d in calendar.workdays}
        return cls(holidays=calendar.holidays, covered_years=frozenset(years))

    def is_rest_day(self, day: dt.date) -> bool:
        """A statutory holiday or a weekly rest day (Saturday, Sunday), 调休 or not."""
        return day.weekday() >= 5 or day in self.holidays

    def extend(self, plain: dt.date) -> Extension:
        """The first day from `plain` on that is not a rest day (IR art. 5)."""
        day = plain
        uncovered: set[int] = set()
        for _ in range(_SEARCH_LIMIT_DAYS):
            if day.year not in self.covered_years:
                uncovered.add(day.year)
            if not self.is_rest_day(day):
                return Extension(plain, day, tuple(sorted(uncovered)))
            day += dt.timedelta(days=1)
        raise ValueError(f"no working day within {_SEARCH_LIMIT_DAYS} days of {plain}")


@lru_cache(maxsize=1)
def default_calendar() -> DeadlineCalendar:
    """The packaged calendar of the handoff desk, loaded once."""
    return DeadlineCalendar.from_working_calendar(load_calendar())


def local_today() -> dt.date:
    """Today where the desk works: "今年" and "去年" in a message mean the calendar's year there."""
    return dt.datetime.now(ZoneInfo(DEFAULT_TZ)).date()
