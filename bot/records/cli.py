"""`patentdesk records migrate|list|show|export|purge` and `patentdesk report`.

bot/cli/commands.py registers these with `add_parsers`; everything else lives here. Dates on the
command line are calendar days in China time (`--from` inclusive, `--to` inclusive), or
ISO datetimes (`--to` then exclusive). Tables go to the terminal through rich; exports
are plain CSV or JSON Lines on stdout or in `--out`.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from bot.config import Settings

ENQUIRY_COLUMNS = ("id", "channel", "user", "started_at", "last_at", "closed_at", "resolved_by", "category",
                   "handed_off", "reason", "agent", "wait_seconds", "handle_seconds", "outcome", "complaint_grade",
                   "ticket_id", "ticket_due_at", "ticket_answered_at", "rating", "rating_after", "follow_up",
                   "conv_id", "closed_by", "anonymised_at", "scene")
MESSAGE_COLUMNS = ("enquiry_id", "id", "at", "channel", "direction", "who", "text", "msg_type", "path", "decision",
                   "entry_id", "confidence", "candidates", "agent", "latency_ms", "event_key", "delivered_via")


def day_or_time(value: str) -> date | datetime:
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD or an ISO datetime, got {value!r}") from exc


def period(args: argparse.Namespace, default_days: int | None = None) -> tuple[datetime | None, datetime | None]:
    """[start, end) from --from/--to; a --to day is included whole."""
    from bot.records.report import REPORT_TZ, as_datetime

    start = as_datetime(args.since) if args.since else None
    end = None
    if args.until is not None:
        end = as_datetime(args.until + timedelta(days=1) if not isinstance(args.until, datetime) else args.until)
    if default_days is not None:
        if end is None:
            end = as_datetime(datetime.now(REPORT_TZ).date() + timedelta(days=1))
        if start is None:
            start = end - timedelta(days=default_days)
    return start, end


def _filters(args: argparse.Namespace) -> Any:
    from bot.records.store import Filters

    start, end = period(args)
    return Filters(start=start, end=end, channel=args.channel, resolved_by=args.resolved_by,
                   category=args.category, agent=args.agent, follow_up=True if args.follow_up else None)


def _engine(settings: Settings) -> Any:
    from bot.records.store import make_engine

    return make_engine(settings.database_url)


def _plain(value: Any) -> Any:
    """A value as JSON/CSV wants it: datetimes as ISO 8601 in UTC."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _local(value: datetime | None) -> str:
    from bot.records.report import REPORT_TZ

    return value.astimezone(REPORT_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}s"


def _console() -> Any:
    """Rich output; wide when piped (rich assumes 80 columns then, which cuts the tables)."""
    from rich.console import Console

    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)


# ---- records ------------------------------------------------------------------------

def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.records.migrate import migrate

    engine = _engine(settings)
    try:
        print(f"records database at revision {migrate(engine)}")
    finally:
        engine.dispose()
    return 0


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from rich.table import Table

    from bot.records.store import list_enquiries

    engine = _engine(settings)
    try:
        rows = list_enquiries(engine, _filters(args), limit=args.limit, newest_first=True)
    finally:
        engine.dispose()
    table = Table(title=f"{len(rows)} enquiries (newest first)", show_lines=False)
    for name in ("id", "started (UTC+8)", "channel", "user", "category", "resolved by", "agent", "wait", "handle",
                 "rating", "follow-up"):
        table.add_column(name)
    for r in rows:
        table.add_row(str(r["id"]), _local(r["started_at"]), r["channel"], (r["user"] or "-")[:14],
                      r["category"] or "", r["resolved_by"] or "open", r["agent"] or "", _seconds(r["wait_seconds"]),
                      _seconds(r["handle_seconds"]), str(r["rating"] or ""), "!" if r["follow_up"] else "")
    _console().print(table)
    return 0


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    from rich.table import Table

    from bot.records.store import get_enquiry

    engine = _engine(settings)
    try:
        enq = get_enquiry(engine, args.id)
    finally:
        engine.dispose()
    if enq is None:
        print(f"no enquiry {args.id}", file=sys.stderr)
        return 1
    console = _console()
    facts = Table.grid(padding=(0, 2))
    for name in ENQUIRY_COLUMNS:
        value = enq[name]
        if value is not None and value is not False:
            facts.add_row(name, _local(value) if isinstance(value, datetime) else str(value))
    console.print(facts)
    lines = Table(title="messages and events")
    for name in ("time (UTC+8)", "who", "text", "decision / entry"):
        lines.add_column(name)
    timeline = [(m["at"], m["id"], m["who"], m["text"], " ".join(
        str(x) for x in (m["decision"], m["entry_id"], m["confidence"], m["agent"],
                         f"via {m['delivered_via']}" if m.get("delivered_via") else None) if x is not None))
        for m in enq["messages"]]
    timeline += [(e["at"], e["id"], "event", e["kind"] + (f" {e['step']}" if e["step"] else ""), " ".join(
        str(x) for x in (e["agent"], e["rating"], e["helpful"], e["entry_id"], e["text"]) if x is not None))
        for e in enq["events"]]
    for at, _, who, text, extra in sorted(timeline, key=lambda t: (t[0], t[1])):
        lines.add_row(_local(at), who, text, extra)
    console.print(lines)
    return 0


def _export_rows(engine: Any, filters: Any, with_messages: bool) -> Iterator[dict[str, Any]]:
    from bot.records.store import list_enquiries, messages_of

    rows = list_enquiries(engine, filters)
    for i in range(0, len(rows), 500):
        chunk = rows[i:i + 500]
        msgs = messages_of(engine, [r["id"] for r in chunk]) if with_messages else {}
        for r in chunk:
            yield {**{k: r[k] for k in ENQUIRY_COLUMNS}, **({"messages": msgs[r["id"]]} if with_messages else {})}


def export(engine: Any, filters: Any, fmt: str, out: IO[str], per_message: bool = False) -> int:
    """Write enquiries as JSON Lines (one enquiry per line, its messages nested) or CSV
    (one enquiry per row, or with `per_message` one message per row); returns the rows."""
    count = 0
    if fmt == "jsonl":
        for row in _export_rows(engine, filters, with_messages=True):
            row["messages"] = [{k: _plain(m[k]) for k in MESSAGE_COLUMNS} for m in row["messages"]]
            out.write(json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False) + "\n")
            count += 1
        return count
    columns = MESSAGE_COLUMNS if per_message else ENQUIRY_COLUMNS
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in _export_rows(engine, filters, with_messages=per_message):
        for item in row["messages"] if per_message else [row]:
            values = {k: _plain(item[k]) for k in columns}
            if per_message and values["candidates"] is not None:
                values["candidates"] = " ".join(values["candidates"])
            writer.writerow(values)
            count += 1
    return count


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    engine = _engine(settings)
    try:
        if args.out:
            with Path(args.out).open("w", encoding="utf-8", newline="") as fh:
                count = export(engine, _filters(args), args.format, fh, args.messages)
            print(f"{count} row(s) written to {args.out}", file=sys.stderr)
        else:
            export(engine, _filters(args), args.format, sys.stdout, args.messages)
    finally:
        engine.dispose()
    return 0


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    from bot.records.retention import purge

    days = settings.records_retention_days if args.older_than is None else args.older_than
    engine = _engine(settings)
    try:
        done = purge(engine, days, dry_run=args.dry_run)
    finally:
        engine.dispose()
    verb = "would anonymise" if args.dry_run else "anonymised"
    print(f"{verb} {done.enquiries} enquiries ({done.messages} messages) last active before "
          f"{done.cutoff:%Y-%m-%d %H:%M} UTC; {done.rejected} unreadable event(s) "
          f"{'would be ' if args.dry_run else ''}deleted")
    return 0


# ---- report -------------------------------------------------------------------------

def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    from bot.records.report import compute_report

    start, end = period(args, default_days=7)
    assert start is not None and end is not None
    from bot.handoff import load_calendar, load_teams

    teams = load_teams(settings.handoff_teams or None, load_calendar(settings.handoff_calendar or None))
    engine = _engine(settings)
    try:
        report = compute_report(engine, start, end, idle_timeout=settings.records_idle_timeout, top=args.top,
                                default_team=teams.default, team_names={t.team_id: t.name for t in teams})
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report)
    if args.charts:
        from bot.records.charts import render_charts

        for path in render_charts(report, Path(args.charts)):
            print(f"chart: {path}", file=sys.stderr)
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def print_report(report: dict[str, Any]) -> None:
    from rich.table import Table

    console = _console()
    p, e = report["period"], report["enquiries"]
    console.print(f"[bold]Service report[/bold] {p['from'][:16].replace('T', ' ')} to "
                  f"{p['to'][:16].replace('T', ' ')} {p['timezone']} (end excluded)")
    summary = Table.grid(padding=(0, 2))
    rb, wait = report["resolved_by"], report["wait"]
    for name, value in (
        ("enquiries", f"{e['total']} ({e['finished']} finished; " + ", ".join(
            f"{k} {v}" for k, v in e["by_channel"].items()) + ")"),
        ("by scene", ", ".join(f"{k} {v}" for k, v in e.get("by_scene", {}).items()) or "-"),
        ("resolved by", ", ".join(f"{k} {v}" for k, v in rb.items())),
        ("bot resolution rate", _pct(report["bot_resolution_rate"])),
        ("handoff rate", _pct(report["handoff_rate"])),
        ("wait for an agent", f"median {_seconds(wait['median']) or '-'}, 95th percentile "
                              f"{_seconds(wait['p95']) or '-'} (n={wait['count']})"),
        ("satisfaction", ", ".join(f"{d['rating']} {d['label']} {d['count']}"
                                   for d in report["satisfaction"]["distribution"])
         + f" (average {report['satisfaction']['average'] or '-'}, follow-up {report['satisfaction']['follow_up']})"),
        ("complaints", ", ".join(f"{k} {v}" for k, v in report["complaints"]["by_grade"].items())
         + f" (total {report['complaints']['total']})"),
        ("tickets overdue", f"{report['overdue_tickets']['overdue']} of {report['overdue_tickets']['tickets']}"),
    ):
        summary.add_row(f"[bold]{name}[/bold]", value)
    console.print(summary)

    def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
        t = Table(title=title)
        for c in columns:
            t.add_column(c)
        for r in rows:
            t.add_row(*("" if v is None else str(v) for v in r))
        console.print(t)

    table("enquiries per day", ["day", "enquiries", "bot", "agent", "ticket", "abandoned", "open"],
          [[d["day"], d["enquiries"], d["bot"], d["agent"], d["ticket"], d["abandoned"], d["open"]]
           for d in report["per_day"]])
    table("handle time per agent (seconds)", ["agent", "enquiries", "median", "mean", "total"],
          [[a["agent"], a["enquiries"], a["median"], a["mean"], a["total"]] for a in report["handle_per_agent"]])
    table("per team", ["team", "waits", "wait median", "wait p95", "handle median", "tickets opened", "answered",
                       "overdue", "ratings", "average"],
          [[t["name"], t["wait"]["count"], t["wait"]["median"], t["wait"]["p95"], t["handle"]["median"],
            t["tickets"]["opened"], t["tickets"]["answered"], t["tickets"]["overdue"], t["satisfaction"]["count"],
            t["satisfaction"]["average"]] for t in report["per_team"]])
    table("overdue tickets", ["ticket", "enquiry", "agent", "due", "answered", "late (h)"],
          [[t["ticket_id"], t["enquiry_id"], t["agent"], t["due_at"], t["answered_at"] or "not yet", t["late_hours"]]
           for t in report["overdue_tickets"]["items"]])
    table("knowledge gaps: unanswered, clarified or unhelpful", ["question", "count", "unanswered", "clarified",
                                                                 "unhelpful"],
          [[g["question"], g["count"], g["unanswered"], g["clarified"], g["unhelpful"]]
           for g in report["knowledge_gaps"]])
    table("most-used knowledge entries", ["entry", "answers", "unhelpful"],
          [[t["entry_id"], t["answers"], t["unhelpful"]] for t in report["top_entries"]])


# ---- registration -------------------------------------------------------------------

def _add_filters(p: argparse.ArgumentParser) -> None:
    from bot.records.schema import RESOLVED_BY

    p.add_argument("--from", dest="since", metavar="DAY", type=day_or_time, help="first day (YYYY-MM-DD, China time)")
    p.add_argument("--to", dest="until", metavar="DAY", type=day_or_time, help="last day, included (YYYY-MM-DD)")
    p.add_argument("--channel", help="wechat | web")
    p.add_argument("--resolved-by", choices=RESOLVED_BY)
    p.add_argument("--category", help="knowledge category, e.g. 费用")
    p.add_argument("--agent", help="agent login")
    p.add_argument("--follow-up", action="store_true", help="only enquiries rated unhappy (to call back)")


def add_parsers(sub: Any, settings: Callable[[], Settings]) -> None:
    """Add `records` and `report` to the `patentdesk` subcommands."""

    def run(fn: Callable[[Settings, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        return lambda args: fn(settings(), args)

    p = sub.add_parser("records", help="enquiry records: migrate, list, show, export, purge")
    rsub = p.add_subparsers(dest="records_command", required=True)
    r = rsub.add_parser("migrate", help="create or upgrade the records tables (the gateway also does this)")
    r.set_defaults(func=run(cmd_migrate))
    r = rsub.add_parser("list", help="list enquiries, newest first")
    _add_filters(r)
    r.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    r.set_defaults(func=run(cmd_list))
    r = rsub.add_parser("show", help="one enquiry with its messages and events")
    r.add_argument("id", type=int)
    r.set_defaults(func=run(cmd_show))
    r = rsub.add_parser("export", help="export enquiries as CSV or JSON Lines")
    _add_filters(r)
    r.add_argument("--format", choices=("csv", "jsonl"), default="jsonl",
                   help="jsonl: one enquiry per line, messages nested; csv: one enquiry per row")
    r.add_argument("--messages", action="store_true", help="csv: one row per message instead")
    r.add_argument("--out", help="file to write (default: stdout)")
    r.set_defaults(func=run(cmd_export))
    purge_help = ("anonymise (not delete) records older than the retention age: message texts and feedback "
                  "questions become [已匿名], pseudonymous user ids and conversation ids are dropped; the "
                  "figures reports need are kept; only unreadable events are deleted")
    r = rsub.add_parser("purge", help=purge_help, description=purge_help)
    r.add_argument("--older-than", type=int, metavar="DAYS",
                   help="age in days of the last activity (default RECORDS_RETENTION_DAYS)")
    r.add_argument("--dry-run", action="store_true", help="only count what would be anonymised")
    r.set_defaults(func=run(cmd_purge))

    p = sub.add_parser("report", help="service report: volumes, resolution, waits, satisfaction, gaps (--charts)")
    p.add_argument("--from", dest="since", metavar="DAY", type=day_or_time, help="first day (default: 7 days ago)")
    p.add_argument("--to", dest="until", metavar="DAY", type=day_or_time, help="last day, included (default: today)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--charts", metavar="DIR", help="also write PNG charts into DIR")
    p.add_argument("--top", type=int, default=10, help="rows in the knowledge-gap and entry tables")
    p.set_defaults(func=run(cmd_report))
