"""Service reports over the enquiry records: `patentdesk report` and the supervisor page.

`compute_report(engine, start, end)` is the one place the figures are computed; the CLI
prints them and draws charts from the same dict, and the agent console shows it as JSON.
The period is half-open, [start, end), and selects enquiries by when they started; every
figure is about those enquiries (their messages, ratings and feedback included), so the
numbers of one report always add up.

Days are calendar days in China time (UTC+8, no daylight saving), the desk's own clock.
Definitions, so that the figures can be checked by hand:

- `resolved_by`: as stored for closed enquiries; an open one that has been quiet for the
  idle timeout counts as the writer's sweep would close it (episodes.resolve); others
  are `open`. `bot_resolution_rate` = bot / finished (all but open).
- `handoff_rate` = enquiries handed to the agent queue / all enquiries.
- `wait`: seconds from joining the queue to an agent taking the conversation, over the
  enquiries that reached an agent; median (mean of the two middle values for an even
  count) and 95th percentile by nearest rank (the value at rank ceil(0.95 n)).
- `handle_per_agent`: handle seconds (agent took it -> closed or handed back) by the
  agent who finished it: count, median, mean, total.
- `satisfaction`: ratings 1 非常满意 .. 4 不满意; `follow_up` counts the unhappy ones.
- `complaints`: enquiries handed off as complaints or given a grade, by grade A-D.
- `overdue_tickets`: left messages answered after their due time, or unanswered and
  past it at `now`.
- `knowledge_gaps`: user questions the bot could not answer (fallback) or had to
  clarify, and questions whose answer was marked unhelpful, grouped by their text;
  `enquiries` names up to 5 enquiries they came from, newest first (the console shows
  the conversation, and an agent drafts an entry from it).
- `top_entries`: knowledge entries by the number of answers given from them.
- `per_team`: per team (the team of the enquiry's last handoff; the left message's own
  team for its ticket figures; enquiries recorded before teams count under the default
  team), over the enquiries handed off: `wait` (median, p95) and `handle` (median, mean)
  as above, `tickets` opened / answered / overdue (overdue as in `overdue_tickets`), and
  `satisfaction` (ratings after an agent: count, average).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.records.episodes import idle_due, resolve, utc
from bot.records.events import RATINGS
from bot.records.retention import ANONYMISED
from bot.records.schema import RESOLVED_BY, enquiries, enquiry_events, messages

REPORT_TZ = timezone(timedelta(hours=8), "UTC+08:00")
GAP_DECISIONS = {"fallback": "unanswered", "clarify": "clarified"}
GRADES = ("A", "B", "C", "D")
GAP_ENQUIRIES = 5  # enquiries named per knowledge gap


def as_datetime(value: date | datetime, tz: timezone = REPORT_TZ) -> datetime:
    """A date means its midnight in China time; a naive datetime is China time too."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value
    return datetime.combine(value, time(), tz)


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def p95(values: list[float]) -> float | None:
    """Nearest rank: the smallest value with at least 95 % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[math.ceil(0.95 * len(ordered)) - 1], 3)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _iso(value: datetime | None) -> str | None:
    return utc(value).isoformat() if value is not None else None


_VOICE = re.compile(r"^\[语音\]\s*")
_TRAILING = re.compile(r"[\s?？。.!！~～、,，]+$")


def question_key(text: str) -> str:
    """Group a question's spellings: no voice mark, spaces, trailing punctuation or case."""
    return _TRAILING.sub("", re.sub(r"\s+", "", _VOICE.sub("", text))).lower()


def _load(engine: Engine, start: datetime, end: datetime) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    # bounds in UTC: SQLite compares the stored UTC wall-clock text with the bound's own
    in_period = (enquiries.c.started_at >= utc(start)) & (enquiries.c.started_at < utc(end))
    gap_or_answer = ((messages.c.who == "user") & messages.c.decision.in_(list(GAP_DECISIONS))) | (
        (messages.c.who == "bot") & (messages.c.decision == "answer"))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(enquiries).where(in_period)
                                                       .order_by(enquiries.c.started_at))]
        msgs = conn.execute(
            select(messages.c.who, messages.c.text, messages.c.decision, messages.c.entry_id, messages.c.reply_to,
                   messages.c.enquiry_id)
            .join(enquiries, enquiries.c.id == messages.c.enquiry_id).where(in_period, gap_or_answer)
            .order_by(messages.c.at, messages.c.id)).all()
        feedback = conn.execute(
            select(enquiry_events.c.helpful, enquiry_events.c.entry_id, enquiry_events.c.text,
                   enquiry_events.c.enquiry_id)
            .join(enquiries, enquiries.c.id == enquiry_events.c.enquiry_id)
            .where(in_period, enquiry_events.c.kind == "feedback").order_by(enquiry_events.c.at)).all()
    return rows, msgs, feedback


def _gaps(msgs: list[Any], feedback: list[Any], top: int) -> list[dict[str, Any]]:
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    where: dict[str, list[int]] = defaultdict(list)  # enquiry ids, oldest first

    def note(text: str, what: str, enquiry: int) -> None:
        key = question_key(text or "")
        if key and text != ANONYMISED:  # purged questions say nothing about the knowledge base
            groups[key][what] += 1
            spellings[key][_VOICE.sub("", text).strip()] += 1
            if enquiry not in where[key]:
                where[key].append(enquiry)

    for m in msgs:
        if m.who == "user":
            note(m.text, GAP_DECISIONS[m.decision], m.enquiry_id)
    for f in feedback:
        if not f.helpful:
            note(f.text or "", "unhelpful", f.enquiry_id)
    rows: list[dict[str, Any]] = [
        {"question": spellings[k].most_common(1)[0][0], "count": sum(c.values()),
         "unanswered": c["unanswered"], "clarified": c["clarified"], "unhelpful": c["unhelpful"],
         "enquiries": where[k][::-1][:GAP_ENQUIRIES]}
        for k, c in groups.items()]
    rows.sort(key=lambda r: (-r["count"], r["question"]))
    return rows[:top]


def _entries(msgs: list[Any], feedback: list[Any], top: int) -> list[dict[str, Any]]:
    answered: dict[str, set[str]] = defaultdict(set)
    for m in msgs:
        if m.who == "bot" and m.entry_id:
            answered[m.entry_id].add(m.reply_to or "")
    unhelpful = Counter(f.entry_id for f in feedback if not f.helpful and f.entry_id)
    rows: list[dict[str, Any]] = [{"entry_id": e, "answers": len(keys), "unhelpful": unhelpful[e]}
                                  for e, keys in answered.items()]
    rows.sort(key=lambda r: (-r["answers"], r["entry_id"]))
    return rows[:top]


def _per_team(rows: list[dict[str, Any]], overdue_ids: set[str], default_team: str,
              names: Mapping[str, str]) -> list[dict[str, Any]]:
    """The per-team figures (module docstring); teams with no handoff in the period are
    listed with zeros when named, so a quiet team shows as quiet rather than missing."""
    teams: dict[str, dict[str, list[Any]]] = {t: defaultdict(list) for t in names}
    for r in rows:
        if r["handed_off"]:
            team = teams.setdefault(r.get("team") or default_team, defaultdict(list))
            if r["assigned_at"] is not None and r["wait_seconds"] is not None:
                team["waits"].append(float(r["wait_seconds"]))
            if r["agent"] and r["handle_seconds"] is not None:
                team["handles"].append(float(r["handle_seconds"]))
            if r["rating"] is not None and r["rating_after"] == "agent":
                team["ratings"].append(int(r["rating"]))
        if r["ticket_id"]:
            ticket_team = teams.setdefault(r.get("ticket_team") or r.get("team") or default_team, defaultdict(list))
            ticket_team["opened"].append(r["ticket_id"])
            if r["ticket_answered_at"] is not None:
                ticket_team["answered"].append(r["ticket_id"])
            if r["ticket_id"] in overdue_ids:
                ticket_team["overdue"].append(r["ticket_id"])
    return [{"team": t, "name": names.get(t, t),
             "wait": {"count": len(f["waits"]), "median": median(f["waits"]), "p95": p95(f["waits"])},
             "handle": {"count": len(f["handles"]), "median": median(f["handles"]),
                        "mean": round(statistics.fmean(f["handles"]), 3) if f["handles"] else None},
             "tickets": {"opened": len(f["opened"]), "answered": len(f["answered"]), "overdue": len(f["overdue"])},
             "satisfaction": {"count": len(f["ratings"]),
                              "average": round(statistics.fmean(f["ratings"]), 3) if f["ratings"] else None}}
            for t, f in teams.items()]


def compute_report(engine: Engine, start: date | datetime, end: date | datetime, now: datetime | None = None,
                   idle_timeout: float = 1800.0, top: int = 10, default_team: str = "business",
                   team_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every figure of the service report for enquiries started in [start, end), as a
    JSON-serialisable dict (the module docstring defines each figure). It only reads the
    database; being synchronous SQL, an aiohttp handler runs it in an executor.
    `now` (default: the current time) decides which quiet enquiries count as finished
    and which tickets are overdue. `team_names`: the configured teams (id -> name), listed
    in `per_team` even without handoffs; `default_team` takes enquiries from before teams."""
    start_at, end_at = as_datetime(start), as_datetime(end)
    now = utc(now or datetime.now(UTC))
    idle = timedelta(seconds=idle_timeout)
    rows, msgs, feedback = _load(engine, start_at, end_at)

    def effective(row: dict[str, Any]) -> str:
        if row["resolved_by"]:
            return str(row["resolved_by"])
        return resolve(row) if idle_due(row, now, idle) else "open"

    outcome = [effective(r) for r in rows]
    resolved = Counter(outcome)
    finished = len(rows) - resolved["open"]

    days: dict[str, Counter[str]] = {}
    day = start_at.astimezone(REPORT_TZ).date()
    while as_datetime(day) < end_at:
        days[day.isoformat()] = Counter()
        day += timedelta(days=1)
    for row, how in zip(rows, outcome, strict=True):
        counter = days.setdefault(utc(row["started_at"]).astimezone(REPORT_TZ).date().isoformat(), Counter())
        counter["enquiries"] += 1
        counter[how] += 1
    per_day = [{"day": d, "enquiries": c["enquiries"], **{k: c[k] for k in (*RESOLVED_BY, "open")}}
               for d, c in sorted(days.items())]

    waits = [float(r["wait_seconds"]) for r in rows if r["assigned_at"] is not None and r["wait_seconds"] is not None]
    handles: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r["agent"] and r["handle_seconds"] is not None:
            handles[r["agent"]].append(float(r["handle_seconds"]))

    ratings = Counter(int(r["rating"]) for r in rows if r["rating"] is not None)
    n_rated = sum(ratings.values())
    complaints = [r for r in rows if r["reason"] == "complaint" or r["complaint_grade"]]
    grades = Counter(r["complaint_grade"] if r["complaint_grade"] in GRADES else "ungraded" for r in complaints)

    tickets = [r for r in rows if r["ticket_id"] and r["ticket_due_at"] is not None]
    overdue = []
    for r in tickets:
        done_at = utc(r["ticket_answered_at"]) if r["ticket_answered_at"] is not None else now
        late = done_at - utc(r["ticket_due_at"])
        if late > timedelta(0):
            overdue.append({"ticket_id": r["ticket_id"], "enquiry_id": r["id"], "agent": r["agent"],
                            "due_at": _iso(r["ticket_due_at"]), "answered_at": _iso(r["ticket_answered_at"]),
                            "late_hours": round(late.total_seconds() / 3600, 2)})
    overdue.sort(key=lambda t: -t["late_hours"])

    return {
        "period": {"from": start_at.isoformat(), "to": end_at.isoformat(), "timezone": "UTC+08:00"},
        "generated_at": now.isoformat(),
        "enquiries": {"total": len(rows), "finished": finished,
                      "by_channel": dict(sorted(Counter(r["channel"] for r in rows).items())),
                      # where users came from: enquiries that began with a QR code's scene
                      "by_scene": dict(sorted(Counter(r["scene"] for r in rows if r.get("scene")).items()))},
        "per_day": per_day,
        "resolved_by": {k: resolved[k] for k in (*RESOLVED_BY, "open")},
        "bot_resolution_rate": _rate(resolved["bot"], finished),
        "handoff_rate": _rate(sum(1 for r in rows if r["handed_off"]), len(rows)),
        "wait": {"count": len(waits), "median": median(waits), "p95": p95(waits)},
        "handle_per_agent": [
            {"agent": agent, "enquiries": len(v), "median": median(v), "mean": round(statistics.fmean(v), 3),
             "total": round(sum(v), 3)} for agent, v in sorted(handles.items())],
        "satisfaction": {
            "count": n_rated,
            "distribution": [{"rating": k, "label": label, "count": ratings[k], "share": _rate(ratings[k], n_rated)}
                             for k, label in sorted(RATINGS.items())],
            "average": round(sum(k * n for k, n in ratings.items()) / n_rated, 3) if n_rated else None,
            "follow_up": sum(1 for r in rows if r["follow_up"]),
        },
        "complaints": {"total": len(complaints), "by_grade": {g: grades[g] for g in (*GRADES, "ungraded")}},
        "overdue_tickets": {"tickets": len(tickets), "overdue": len(overdue), "items": overdue},
        "per_team": _per_team(rows, {t["ticket_id"] for t in overdue}, default_team, team_names or {}),
        "knowledge_gaps": _gaps(msgs, feedback, top),
        "top_entries": _entries(msgs, feedback, top),
    }
