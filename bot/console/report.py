"""The supervisor's service report in the console (issue 6): the figures and charts of
`patentdesk report`, for a period given the way the command line takes it.

The period comes from the `from`/`to` query values through the CLI's own date handling
(bot.records.cli: days in China time, `to` included, the last 7 days by default), so the
page and `patentdesk report --from ... --to ...` always cover the same enquiries. The
figures are `compute_report`'s dict as it is; the charts are bot.records.charts' drawings,
into memory instead of files. Both are blocking (SQL, matplotlib): handlers call them
through `run_sync`.
"""

from __future__ import annotations

import argparse
import io
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.records.cli import day_or_time, period

DEFAULT_DAYS = 7
MAX_DAYS = 366  # a year a page: every day is a table row and a bar
FIELDS = {"from": "开始日期", "to": "结束日期"}

# matplotlib's rcParams (fonts) are process-wide: the executor's threads draw in turn
_drawing = threading.Lock()


class BadPeriod(ValueError):
    """The query's dates make no report period; the message (Chinese) says why."""


def report_period(query: Mapping[str, str]) -> tuple[datetime, datetime]:
    """[start, end) for `from`/`to` as `patentdesk report --from/--to` reads them."""
    days: dict[str, Any] = {}
    for key, label in FIELDS.items():
        raw = query.get(key, "").strip()
        try:
            days[key] = day_or_time(raw) if raw else None
        except argparse.ArgumentTypeError:
            raise BadPeriod(f"{label}格式不正确，请按 YYYY-MM-DD 填写，例如 2025-03-03。") from None
    try:
        start, end = period(argparse.Namespace(since=days["from"], until=days["to"]), default_days=DEFAULT_DAYS)
        assert start is not None and end is not None  # default_days fills both
        for bound in (start, end):
            bound.astimezone(UTC)  # the report compares in UTC, which 0001-01-01 in China lacks
    except OverflowError:
        raise BadPeriod("日期超出了可以查询的范围，请重新选择。") from None
    if start >= end:
        raise BadPeriod("开始日期不能晚于结束日期，请重新选择。")
    if end - start > timedelta(days=MAX_DAYS):
        raise BadPeriod(f"一次最多查询 {MAX_DAYS} 天，请缩小日期范围。")
    return start, end


def chart_png(report: dict[str, Any], name: str) -> bytes:
    """Chart `name` (one of bot.records.charts.CHARTS) of `report` as PNG bytes."""
    from bot.records import charts

    out = io.BytesIO()
    with _drawing:
        charts.render_chart(report, name, out)
    return out.getvalue()
