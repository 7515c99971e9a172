"""Working days and hours for ticket due dates ("two working days").

Chinese public holidays move every year and weekend days become working days (调休),
so the dates are data: a small YAML file per year, filled from the State Council's
notice, never computed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

DEFAULT_TZ = "Asia/Shanghai"
_SEARCH_LIMIT_DAYS = 800  # a calendar with no working day in two years is a configuration error


@dataclass(frozen=True)
class WorkingCalendar:
    """Weekday hours plus holidays and adjusted working days.

    Naive datetimes are read as local time of the calendar's zone.
    """

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TZ))
    opens: dt.time = dt.time(8, 30)
    closes: dt.time = dt.time(17, 0)
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()  # 调休: weekend days that are working days
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0

    def __post_init__(self) -> None:
        if self.opens >= self.closes:
            raise ValueError("working hours must open before they close")
        if self.holidays & self.workdays:
            clash = sorted(self.holidays & self.workdays)
            raise ValueError(f"dates both holiday and working day: {clash}")

    def local(self, when: dt.datetime) -> dt.datetime:
        if when.tzinfo is None:
            return when.replace(tzinfo=self.tz)
        return when.astimezone(self.tz)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays

    def is_open(self, when: dt.datetime) -> bool:
        """Within working hours of a working day (opening time included, closing excluded)."""
        local = self.local(when)
        return self.is_working_day(local.date()) and self.opens <= local.time() < self.closes

    def next_open(self, when: dt.datetime) -> dt.datetime:
        """`when` itself if open, else the next opening time."""
        local = self.local(when)
        if self.is_open(local):
            return local
        day = local.date()
        if not (self.is_working_day(day) and local.time() < self.opens):
            day = self._next_working_day(day)
        return dt.datetime.combine(day, self.opens, tzinfo=self.tz)

    def add_working_days(self, when: dt.datetime, n: int) -> dt.datetime:
        """The same time of day `n` working days later.

        A start outside working hours counts from the next opening, so a message left on
        Friday evening with n=2 is due on Wednesday at opening time (= Tuesday's close).
        """
        if n < 0:
            raise ValueError("n must not be negative")
        start = self.next_open(when)
        day = start.date()
        for _ in range(n):
            day = self._next_working_day(day)
        return dt.datetime.combine(day, start.time(), tzinfo=self.tz)

    def _next_working_day(self, day: dt.date) -> dt.date:
        for _ in range(_SEARCH_LIMIT_DAYS):
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError("the calendar has no working day ahead")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WorkingCalendar:
        """Build from the YAML layout of `calendar_cn.yml`."""
        holidays: set[dt.date] = set()
        workdays: set[dt.date] = set(_dates(data.get("workdays") or ()))
        for entry in data.get("holidays") or ():
            if isinstance(entry, Mapping):
                first = _date(entry["from"])
                last = _date(entry.get("to", entry["from"]))
                if last < first:
                    raise ValueError(f"holiday {entry.get('name', first)} ends before it starts")
                holidays.update(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
                workdays.update(_dates(entry.get("workdays") or ()))
            else:
                holidays.add(_date(entry))
        weekdays = data.get("weekdays")
        return cls(
            tz=ZoneInfo(str(data.get("timezone", DEFAULT_TZ))),
            opens=_time(data.get("opens", "08:30")),
            closes=_time(data.get("closes", "17:00")),
            holidays=frozenset(holidays),
            workdays=frozenset(workdays),
            weekdays=frozenset(int(d) - 1 for d in weekdays) if weekdays else frozenset(range(5)),
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> WorkingCalendar:
        with open(path, encoding="utf-8") as fh:
            return cls.from_mapping(yaml.safe_load(fh) or {})


def load_calendar(path: str | Path | None = None) -> WorkingCalendar:
    """The given YAML file, or the packaged Chinese calendar."""
    if path is not None:
        return WorkingCalendar.from_yaml(path)
    text = resources.files("bot.handoff").joinpath("calendar_cn.yml").read_text(encoding="utf-8")
    return WorkingCalendar.from_mapping(yaml.safe_load(text) or {})


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _dates(values: Iterable[Any]) -> list[dt.date]:
    return [_date(v) for v in values]


def _time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 17:00 as sexagesimal minutes
        return dt.time(value // 60, value % 60)
    return dt.time.fromisoformat(str(value))
