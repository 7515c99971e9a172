"""The service report against figures computed by hand, the charts, the CLI (list, show,
export, purge, report) and retention; SQLite and PostgreSQL.

The fixture: two days in China time, 2025-03-03 and 2025-03-04 (UTC+8), so the period is
[2025-03-02 16:00Z, 2025-03-04 16:00Z). Times below are UTC.

  E0  A  wechat 03-02 15:00  (23:00 on 03-02: outside)       answer fee-x
  E1  A  wechat 03-03 01:00  answer, answer (fee-application-amount), rating 1   -> bot
  E2  B  wechat 03-03 02:00  clarify "个人申请专利能减费吗", answer fee-reduction-who,
                             feedback unhelpful on fee-reduction-who            -> bot
  E3  C  web    03-03 03:00  fallback "外观设计可以加急吗"                       -> abandoned
  E4  D  wechat 03-03 05:00  queued, assigned li (wait 60), closed (handle 300),
                             category 费用, rating 2                             -> agent
  E5  E  wechat 03-03 15:30  (23:30 on 03-03) complaint, assigned wang (wait 240),
                             closed (handle 600) grade B, rating 4 (follow-up)  -> agent
  E6  F  web    03-03 16:30  (00:30 on 03-04) queued, left after 90 s           -> abandoned
  E7  G  wechat 03-04 02:00  queued, ticket T1 due 03-04 09:00, answered 03-05 01:00
                             (16 h late)                                         -> ticket
  E8  H  wechat 03-04 03:00  queued, assigned li (wait 30), closed (handle 100),
                             rating 3                                            -> agent
  E9  I  wechat 03-04 04:00  fallback "外观设计可以加急吗？", answer fee-application-amount -> bot
  E10 J  web    03-04 06:00  queued, ticket T2 due 03-04 12:00, never answered  -> ticket
  E12 K  wechat 03-04 07:00  queued, nothing since (23 h in the queue at `now`) -> open
  E11 L  wechat 03-04 16:00  (00:00 on 03-05: outside)       answer

now = 2025-03-05 06:00Z: T2 is 18 h overdue.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.records.episodes import apply_events, close_idle
from bot.records.report import compute_report, p95
from bot.records.retention import purge
from bot.records.store import get_enquiry, list_enquiries
from tests.records_kit import User

pytest_plugins = ["tests.records_fixtures"]

NOW = datetime(2025, 3, 5, 6, 0, tzinfo=UTC)
DAY = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)


def at(day: int, hour: float) -> datetime:
    """2025-03-<day> <hour>:00 UTC"""
    return datetime(2025, 3, day, tzinfo=UTC) + timedelta(hours=hour)


def fixture_events() -> list[dict]:
    ev: list[dict] = []
    a0 = User("u_A", base=at(2, 15))
    ev += [a0.says(0, "年费", entry_id="fee-x")]
    a = User("u_A", base=at(3, 1))
    ev += [a.says(0, "申请费多少", entry_id="fee-application-amount"),
           a.says(2, "发明专利申请费多少", entry_id="fee-application-amount"),
           a.rating(3, 1, after="bot"), a.feedback(3, True, "fee-application-amount", "申请费多少")]
    b = User("u_B", base=at(3, 2))
    ev += [b.says(0, "个人申请专利能减费吗", decision="clarify", candidates=["fee-reduction-who", "fee-reduction-items"]),
           b.says(1, "1", entry_id="fee-reduction-who"),
           b.feedback(2, False, "fee-reduction-who", "个人申请专利能减费吗？")]
    c = User("u_C", channel="web", base=at(3, 3))
    ev += [c.says(0, "外观设计可以加急吗", decision="fallback")]
    d = User("u_D", base=at(3, 5))
    ev += [d.says(0, "转人工", decision="handoff"), d.handoff(0, "queued"),
           d.handoff(1, "assigned", agent="li", wait_seconds=60.0),
           d.handoff(6, "closed", agent="li", outcome="resolved", category="费用", handle_seconds=300.0),
           d.rating(7, 2)]
    e = User("u_E", base=at(3, 15.5))
    ev += [e.says(0, "我要投诉", decision="handoff"), e.handoff(0, "queued", reason="complaint"),
           e.handoff(4, "assigned", agent="wang", wait_seconds=240.0),
           e.handoff(14, "closed", agent="wang", outcome="resolved", grade="B", handle_seconds=600.0),
           e.rating(15, 4)]
    f = User("u_F", channel="web", base=at(3, 16.5))
    ev += [f.says(0, "人工客服", decision="handoff"), f.handoff(0, "queued"), f.handoff(1.5, "left", wait_seconds=90.0)]
    g = User("u_G", base=at(4, 2))
    ev += [g.says(0, "转人工", decision="handoff"), g.handoff(0, "queued"),
           g.handoff(1, "ticket", ticket_id="T1", due_at=at(4, 9).isoformat()),
           g.ticket_answer(23 * 60, "T1", "li", "已处理")]
    h = User("u_H", base=at(4, 3))
    ev += [h.says(0, "转人工", decision="handoff"), h.handoff(0, "queued"),
           h.handoff(0.5, "assigned", agent="li", wait_seconds=30.0),
           h.handoff(2, "closed", agent="li", outcome="resolved", handle_seconds=100.0), h.rating(3, 3)]
    i = User("u_I", base=at(4, 4))
    ev += [i.says(0, "外观设计可以加急吗？", decision="fallback"), i.says(1, "申请费是多少", entry_id="fee-application-amount")]
    j = User("u_J", channel="web", base=at(4, 6))
    ev += [j.says(0, "人工", decision="handoff"), j.handoff(0, "queued"),
           j.handoff(1, "ticket", ticket_id="T2", due_at=at(4, 12).isoformat())]
    k = User("u_K", base=at(4, 7))
    ev += [k.says(0, "人工", decision="handoff"), k.handoff(0, "queued")]
    ll = User("u_L", base=at(4, 16))
    ev += [ll.says(0, "年费", entry_id="fee-y")]
    return ev


@pytest.fixture
def filled(engine):
    apply_events(engine, fixture_events(), 1800.0)
    return engine


EXPECTED = {
    "enquiries": {"total": 11, "finished": 10, "by_channel": {"web": 3, "wechat": 8}, "by_scene": {}},
    "per_day": [
        {"day": "2025-03-03", "enquiries": 5, "bot": 2, "agent": 2, "ticket": 0, "abandoned": 1, "open": 0},
        {"day": "2025-03-04", "enquiries": 6, "bot": 1, "agent": 1, "ticket": 2, "abandoned": 1, "open": 1},
    ],
    "resolved_by": {"bot": 3, "agent": 3, "ticket": 2, "abandoned": 2, "open": 1},
    "bot_resolution_rate": 0.3,
    "handoff_rate": 0.6364,  # 7 / 11
    "wait": {"count": 3, "median": 60.0, "p95": 240.0},
    "handle_per_agent": [
        {"agent": "li", "enquiries": 2, "median": 200.0, "mean": 200.0, "total": 400.0},
        {"agent": "wang", "enquiries": 1, "median": 600.0, "mean": 600.0, "total": 600.0},
    ],
    "satisfaction": {
        "count": 4,
        "distribution": [{"rating": 1, "label": "非常满意", "count": 1, "share": 0.25},
                         {"rating": 2, "label": "满意", "count": 1, "share": 0.25},
                         {"rating": 3, "label": "一般", "count": 1, "share": 0.25},
                         {"rating": 4, "label": "不满意", "count": 1, "share": 0.25}],
        "average": 2.5,
        "follow_up": 1,
    },
    "complaints": {"total": 1, "by_grade": {"A": 0, "B": 1, "C": 0, "D": 0, "ungraded": 0}},
    "overdue_tickets": {"tickets": 2, "overdue": 2, "items": [
        {"ticket_id": "T2", "enquiry_id": None, "agent": None, "due_at": "2025-03-04T12:00:00+00:00",
         "answered_at": None, "late_hours": 18.0},
        {"ticket_id": "T1", "enquiry_id": None, "agent": "li", "due_at": "2025-03-04T09:00:00+00:00",
         "answered_at": "2025-03-05T01:00:00+00:00", "late_hours": 16.0},
    ]},
    "knowledge_gaps": [
        {"question": "个人申请专利能减费吗", "count": 2, "unanswered": 0, "clarified": 1, "unhelpful": 1},
        {"question": "外观设计可以加急吗", "count": 2, "unanswered": 2, "clarified": 0, "unhelpful": 0},
    ],
    "top_entries": [{"entry_id": "fee-application-amount", "answers": 3, "unhelpful": 0},
                    {"entry_id": "fee-reduction-who", "answers": 1, "unhelpful": 1}],
}


def assert_hand_computed(report: dict, enquiries: list[dict]) -> None:
    """`report` (for 2025-03-03..04) equals EXPECTED; overdue tickets name the stored enquiry ids."""
    ids = {e["ticket_id"]: e["id"] for e in enquiries if e["ticket_id"]}
    for item in report["overdue_tickets"]["items"]:
        assert item.pop("enquiry_id") == ids[item["ticket_id"]]
    stored = {e["id"] for e in enquiries}
    for gap in report["knowledge_gaps"]:  # the enquiries each gap came from, for the console
        named = gap.pop("enquiries")
        assert named and set(named) <= stored and len(named) == len(set(named)), named
    expected = json.loads(json.dumps(EXPECTED))
    for item in expected["overdue_tickets"]["items"]:
        item.pop("enquiry_id")
    for name, value in expected.items():
        assert report[name] == value, name
    assert report["period"] == {"from": "2025-03-03T00:00:00+08:00", "to": "2025-03-05T00:00:00+08:00",
                                "timezone": "UTC+08:00"}


def test_report_matches_the_hand_computed_figures(filled) -> None:
    report = compute_report(filled, date(2025, 3, 3), date(2025, 3, 5), now=NOW)
    assert_hand_computed(report, list_enquiries(filled))
    assert json.loads(json.dumps(report)) == report  # JSON as it is, for the console


def test_report_is_the_same_after_the_sweep_and_from_datetimes(filled) -> None:
    """The sweep stores what the report computed for idle enquiries; aware datetimes work too."""
    before = compute_report(filled, date(2025, 3, 3), date(2025, 3, 5), now=NOW)
    assert close_idle(filled, 1800.0, now=NOW) == 8  # E1-E3, E6, E7, E9-E11; not K (in the queue)
    after = compute_report(filled, datetime(2025, 3, 2, 16, tzinfo=UTC), datetime(2025, 3, 4, 16, tzinfo=UTC), now=NOW)
    assert {k: v for k, v in after.items() if k != "period"} == {k: v for k, v in before.items() if k != "period"}


def test_percentiles_by_nearest_rank() -> None:
    assert p95([]) is None and p95([7.0]) == 7.0
    assert p95([float(v) for v in range(1, 21)]) == 19.0  # rank ceil(0.95 * 20) = 19
    assert p95([float(v) for v in range(1, 22)]) == 20.0  # rank ceil(19.95) = 20


def test_an_empty_period_reports_zeros_not_errors(engine) -> None:
    report = compute_report(engine, date(2025, 1, 1), date(2025, 1, 3), now=NOW)
    assert report["enquiries"]["total"] == 0 and report["bot_resolution_rate"] is None
    assert report["wait"] == {"count": 0, "median": None, "p95": None}
    assert [d["enquiries"] for d in report["per_day"]] == [0, 0]


@pytest.mark.parametrize("chinese", [None, False])
def test_charts_are_png_files(filled, tmp_path, chinese) -> None:
    from bot.records.charts import render_charts

    report = compute_report(filled, date(2025, 3, 3), date(2025, 3, 5), now=NOW)
    paths = render_charts(report, tmp_path / "charts", chinese=chinese)
    assert [p.name for p in paths] == ["enquiries_per_day.png", "satisfaction.png", "handle_time_per_agent.png",
                                       "complaints_by_grade.png", "top_entries.png", "tickets_per_team.png"]
    for path in paths:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_purge_anonymises_old_records_and_keeps_the_figures(filled) -> None:
    before = compute_report(filled, date(2025, 3, 3), date(2025, 3, 5), now=NOW)
    later = at(4, 3.5) + timedelta(days=30)  # 30 days after 03-04 03:30: E0-E6 and E8 are older
    dry = purge(filled, 30, now=later, dry_run=True)
    assert dry.enquiries == 8 and list_enquiries(filled)[0]["user"] == "u_A"  # a dry run changes nothing
    done = purge(filled, 30, now=later)
    assert (done.enquiries, done.messages) == (dry.enquiries, dry.messages)
    assert purge(filled, 30, now=later).enquiries == 0  # idempotent
    enqs = list_enquiries(filled)
    old = [e for e in enqs if e["anonymised_at"] is not None]
    assert sorted(e["id"] for e in old) == [1, 2, 3, 4, 5, 6, 7, 9]
    assert all(e["user"] is None and e["conv_id"] is None for e in old)
    assert all(e["user"] is not None for e in enqs if e["anonymised_at"] is None)
    old_lines = [get_enquiry(filled, e["id"]) for e in old]
    assert {m["text"] for e in old_lines for m in e["messages"]} == {"[已匿名]"}
    assert {(ev["text"], json.dumps(ev["data"])) for e in old_lines for ev in e["events"]} <= {
        (None, "null"), ("[已匿名]", "null")}
    after = compute_report(filled, date(2025, 3, 3), date(2025, 3, 5), now=NOW)
    for name in ("enquiries", "per_day", "resolved_by", "wait", "handle_per_agent", "satisfaction", "complaints",
                 "overdue_tickets", "top_entries"):
        assert after[name] == before[name], name
    gaps = after["knowledge_gaps"]
    assert [len(g.pop("enquiries")) for g in gaps] == [1]
    assert gaps == [  # only the question still on record
        {"question": "外观设计可以加急吗？", "count": 1, "unanswered": 1, "clarified": 0, "unhelpful": 0}]


# ---- the command line ------------------------------------------------------------------

@pytest.fixture
def cli(filled, db_url, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*argv: str) -> str:
        capsys.readouterr()
        assert main(list(argv)) == 0
        return capsys.readouterr().out

    return run


def test_cli_list_and_show(cli, filled) -> None:
    out = cli("records", "list", "--from", "2025-03-03", "--to", "2025-03-04", "--resolved-by", "agent")
    assert "3 enquiries" in out and "wang" in out and "li" in out
    out = cli("records", "list", "--agent", "wang")
    assert "1 enquiries" in out
    out = cli("records", "list", "--follow-up")
    assert "1 enquiries" in out and "wang" in out  # E5, rated 4 不满意
    e5 = [e for e in list_enquiries(filled) if e["agent"] == "wang"][0]
    out = cli("records", "show", str(e5["id"]))
    assert "我要投诉" in out and "complaint_grade" in out and "closed" in out


def test_cli_export_csv_and_jsonl_with_filters(cli, tmp_path) -> None:
    rows = list(csv.DictReader(io.StringIO(cli("records", "export", "--format", "csv", "--channel", "web"))))
    assert [(r["user"], r["channel"], r["resolved_by"]) for r in rows] == [
        ("u_C", "web", ""), ("u_F", "web", ""), ("u_J", "web", "")]  # not swept yet: open
    out = tmp_path / "march.jsonl"
    cli("records", "export", "--from", "2025-03-03", "--to", "2025-03-03", "--out", str(out))
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["user"] for line in lines] == ["u_A", "u_B", "u_C", "u_D", "u_E"]
    assert [m["text"] for m in lines[1]["messages"]][:2] == ["个人申请专利能减费吗", "（答复）"]
    per_message = list(csv.DictReader(io.StringIO(cli("records", "export", "--format", "csv", "--messages",
                                                      "--category", "费用"))))
    assert {r["who"] for r in per_message} == {"user", "bot"} and len(per_message) == 2


def test_cli_report_json_and_charts(cli, tmp_path) -> None:
    report = json.loads(cli("report", "--from", "2025-03-03", "--to", "2025-03-04", "--json"))
    assert report["enquiries"]["total"] == 11 and report["top_entries"][0]["entry_id"] == "fee-application-amount"
    out = cli("report", "--from", "2025-03-03", "--to", "2025-03-04", "--charts", str(tmp_path / "c"))
    assert "bot resolution rate" in out and "外观设计可以加急吗" in out
    assert len(list((tmp_path / "c").glob("*.png"))) == 6


def test_cli_purge_dry_run_and_for_real(cli, filled, monkeypatch) -> None:
    monkeypatch.setenv("RECORDS_RETENTION_DAYS", "36500")  # the default age: nothing is that old
    assert "anonymised 0 enquiries" in cli("records", "purge")
    assert "would anonymise 13 enquiries" in cli("records", "purge", "--older-than", "0", "--dry-run")
    assert all(e["user"] for e in list_enquiries(filled))
    assert "anonymised 13 enquiries" in cli("records", "purge", "--older-than", "0")
    assert all(e["user"] is None for e in list_enquiries(filled))


def test_cli_migrate_creates_the_tables(tmp_path, monkeypatch, capsys) -> None:
    from bot.cli import main
    from bot.records.migrate import current
    from bot.records.store import make_engine

    url = f"sqlite:///{tmp_path / 'new' / 'records.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["records", "migrate"]) == 0
    assert "at revision 0004" in capsys.readouterr().out
    engine = make_engine(url)
    assert current(engine) == "0004"
    engine.dispose()
