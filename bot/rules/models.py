"""The three answers of the calculator and the facts it carries between turns.

`CalcContext` is stored in a Rasa slot between turns, so it must survive a JSON round trip.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Patent types as stored in the context, with the words used in replies.
PATENT_TYPES: dict[str, str] = {
    "invention": "发明专利",
    "utility_model": "实用新型专利",
    "design": "外观设计专利",
}

# What a date given by the user means; the labels are used in the reply steps.
DATE_KINDS: dict[str, str] = {
    "dispatch": "发文日",
    "receipt": "收到日",
    "filing": "申请日",
    "priority": "优先权日",
    "grant_announcement": "授权公告日",
    "expiry": "期限届满日",
    "obstacle_removed": "障碍消除日",
    "unknown": "日期",
}

SERVICES: dict[str, str] = {"electronic": "电子送达", "paper": "纸件邮寄"}


@dataclass
class CalcContext:
    """Facts read so far for one calculation, possibly over several turns."""

    rule: str | None = None
    patent_type: str | None = None
    year_number: int | None = None
    grant_year_number: int | None = None  # the patent year in which the right was granted
    reduction: bool = False  # the user asked for the reduced (费减) amount
    reduction_rate: int | None = None  # percent taken off: 85 or 70
    applicant_count: str | None = None  # "single" or "several"
    applicant_kind: str | None = None  # "individual" or "organisation", as said
    months_late: int | None = None
    dates: dict[str, dt.date] = field(default_factory=dict)  # kind -> date
    service: str | None = None  # "electronic" or "paper"
    calendar_year: int | None = None
    partial_date: tuple[int, int, str] | None = None  # (month, day, kind) waiting for a year
    pending: str | None = None  # the fact asked for in the last turn
    reexamination: bool = False  # the limit missed was the re-examination request's
    rejection: bool = False  # the date given is the rejection decision's
    derived: str | None = None  # a step worked out before this limit (the re-examination limit)
    force_majeure: bool | None = None  # the user says force majeure caused the delay (False: said it did not)
    total: bool = False  # "一共多少": the fee and its surcharge together
    open_licence: bool = False  # the patent is under open licensing: its annual fees are 15% off
    filing_calendar_year: int | None = None  # the year of filing, when only the year was said
    grant_calendar_year: int | None = None  # the year of grant, when only the year was said
    grace: bool = False  # the later limit that a grace fee buys (PCT: 32 months) is asked for

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: dates as ISO strings, the partial date as a list."""
        data = asdict(self)
        data["dates"] = {k: v.isoformat() for k, v in self.dates.items()}
        data["partial_date"] = list(self.partial_date) if self.partial_date else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CalcContext:
        """Inverse of `to_dict`; unknown keys (from a newer version) are ignored."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["dates"] = {
            str(k): dt.date.fromisoformat(str(v)) for k, v in (data.get("dates") or {}).items()
        }
        partial = data.get("partial_date")
        values["partial_date"] = (int(partial[0]), int(partial[1]), str(partial[2])) if partial else None
        return cls(**values)


@dataclass
class Computed:
    """A figure with its steps and sources, ready to send."""

    rule_id: str
    value: int | dt.date
    text: str
    sources: list[str]
    caveat: str | None = None
    context: CalcContext | None = None


@dataclass
class NeedsFact:
    """One missing fact, the question to ask for it, and what is known so far."""

    fact: str
    question: str
    context: CalcContext
