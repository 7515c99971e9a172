"""The team on handoffs and left messages in the records, the per-team report, and charts
that say 暂无数据 when a period has no figures (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.records import charts
from bot.records.episodes import apply_events
from bot.records.report import compute_report
from bot.records.store import list_enquiries
from tests.records_kit import User

pytest_plugins = ["tests.records_fixtures"]

NOW = datetime(2025, 3, 5, 6, 0, tzinfo=UTC)
NAMES = {"business": "业务咨询", "tech": "技术支持"}


def at(day: int, hour: float) -> datetime:
    return datetime(2025, 3, day, tzinfo=UTC) + timedelta(hours=hour)


def team_events() -> list[dict[str, Any]]:
    """A technical problem served by tech (rated 1), a business request passed to tech (rated 3),
    a business ticket answered late, a ticket moved to tech and answered in time, and one
    handoff recorded before teams (no team: the default team's)."""
    ev: list[dict[str, Any]] = []
    a = User("u_tech", base=at(3, 1))
    ev += [a.says(0, "电子申请提交报错", decision="handoff"), a.handoff(0, "queued", reason="technical", team="tech"),
           a.handoff(2, "assigned", agent="t1", wait_seconds=120.0, team="tech"),
           a.handoff(12, "closed", agent="t1", outcome="resolved", handle_seconds=600.0), a.rating(13, 1)]
    b = User("u_moved", base=at(3, 2))
    ev += [b.says(0, "转人工", decision="handoff"), b.handoff(0, "queued", team="business"),
           b.handoff(1, "assigned", agent="b1", wait_seconds=60.0, team="business"),
           b.handoff(3, "team_transferred", agent="b1", team="tech", from_team="business", note="系统问题"),
           b.handoff(5, "assigned", agent="t1", wait_seconds=120.0, team="tech"),
           b.handoff(9, "closed", agent="t1", outcome="resolved", handle_seconds=240.0), b.rating(10, 3)]
    c = User("u_late", base=at(3, 3))
    ev += [c.says(0, "转人工", decision="handoff"), c.handoff(0, "queued", team="business"),
           c.handoff(1, "ticket", ticket_id="T1", due_at=at(3, 9).isoformat(), team="business"),
           c.ticket_answer(12 * 60, "T1", "b1", "已处理")]
    d = User("u_ticket_moved", base=at(3, 4))
    ev += [d.says(0, "转人工", decision="handoff"), d.handoff(0, "queued", team="business"),
           d.handoff(1, "ticket", ticket_id="T2", due_at=at(4, 9).isoformat(), team="business"),
           d.handoff(60, "ticket_transfer", ticket_id="T2", team="tech", from_team="business", note="证书问题")]
    e = User("u_old", base=at(3, 5))
    ev += [e.says(0, "转人工", decision="handoff"), e.handoff(0, "queued"),
           e.handoff(1, "assigned", agent="b1", wait_seconds=30.0),
           e.handoff(4, "closed", agent="b1", outcome="resolved", handle_seconds=180.0)]
    return ev


@pytest.fixture
def teamed(engine):
    apply_events(engine, team_events(), 1800.0)
    return engine


def test_records_show_the_team_on_handoffs_and_tickets(teamed) -> None:
    by_user = {e["user"]: e for e in list_enquiries(teamed)}
    assert by_user["u_tech"]["team"] == "tech" and by_user["u_tech"]["reason"] == "technical"
    assert by_user["u_moved"]["team"] == "tech" and by_user["u_moved"]["agent"] == "t1"
    assert by_user["u_late"]["team"] == "business" and by_user["u_late"]["ticket_team"] == "business"
    assert by_user["u_ticket_moved"]["ticket_team"] == "tech" and by_user["u_ticket_moved"]["team"] == "business"
    assert by_user["u_old"]["team"] is None  # recorded before teams


def test_report_per_team(teamed) -> None:
    report = compute_report(teamed, date(2025, 3, 3), date(2025, 3, 5), now=NOW, default_team="business",
                            team_names=NAMES)
    teams = {t["team"]: t for t in report["per_team"]}
    assert set(teams) == {"business", "tech"} and teams["tech"]["name"] == "技术支持"
    tech, business = teams["tech"], teams["business"]
    # waits summed per enquiry (60 + 120 for the moved one), handle times, ratings after an agent
    assert tech["wait"] == {"count": 2, "median": 150.0, "p95": 180.0}
    assert tech["handle"] == {"count": 2, "median": 420.0, "mean": 420.0}
    assert tech["satisfaction"] == {"count": 2, "average": 2.0}
    assert business["wait"] == {"count": 1, "median": 30.0, "p95": 30.0}  # the one from before teams
    assert business["satisfaction"] == {"count": 0, "average": None}
    # T1 answered 3 h late (business); T2 moved to tech, open and not yet due at NOW? due 3-4 09:00 < NOW: overdue
    assert business["tickets"] == {"opened": 1, "answered": 1, "overdue": 1}
    assert tech["tickets"] == {"opened": 1, "answered": 0, "overdue": 1}
    assert report["overdue_tickets"]["overdue"] == 2


def test_a_chart_without_figures_says_no_data(engine, monkeypatch) -> None:
    drawn: dict[str, Any] = {}
    monkeypatch.setattr(charts, "_save", lambda fig, out: drawn.setdefault("fig", fig))
    empty = compute_report(engine, date(2025, 1, 1), date(2025, 1, 3), now=NOW, team_names=NAMES)
    for name in charts.CHARTS:
        drawn.clear()
        charts.render_chart(empty, name, __import__("io").BytesIO(), chinese=None)
        (ax,) = drawn["fig"].axes
        assert not ax.axison, name  # no axes, so no ticks, negative or otherwise
        words = [t.get_text() for t in ax.texts]
        assert words in (["暂无数据"], ["No data"]), (name, words)


def test_a_chart_with_figures_has_axes(teamed, monkeypatch) -> None:
    drawn: dict[str, Any] = {}
    monkeypatch.setattr(charts, "_save", lambda fig, out: drawn.setdefault("fig", fig))
    report = compute_report(teamed, date(2025, 3, 3), date(2025, 3, 5), now=NOW, team_names=NAMES)
    charts.render_chart(report, "tickets_per_team", __import__("io").BytesIO())
    (ax,) = drawn["fig"].axes
    assert ax.axison and min(ax.get_yticks()) >= 0 and not ax.texts
