"""How stream events become enquiries and messages: the episode rule, in one place.

**Which enquiry an event joins.** Enquiries belong to a (channel, user) pair. An event
joins the user's enquiry that started last at or before it (or, for an event that
arrives out of order, one that started within the idle timeout after it) when

- that enquiry was not closed by an agent before the event happened, and
- the event is within RECORDS_IDLE_TIMEOUT of the enquiry's last activity, or the
  enquiry has a handoff in progress (queued, assigned, transferred, reclaimed): a user
  waiting for or talking with a person is in the same episode however long it is quiet,
  up to HANDOFF_STALE, after which a lost queue cannot keep an enquiry open for ever.

Otherwise the event starts a new enquiry, and the one it did not join, if still open,
is closed as idle at its last activity. The handoff conversation id is no episode key:
the queue names it after the user, so it is the same for all of a user's handoffs.

Follow-ups (ratings, "was this helpful?" feedback, system notices such as the rating
request, answers to left messages, and an exchange whose decision is `rating`) join the
user's latest enquiry even when it is closed: they come after the close by design, and
must not open an enquiry of their own. A ticket answer joins the enquiry that holds its
ticket, however old.

**How an enquiry ends and who resolved it** (`resolve`): an agent closing the handoff
closes the enquiry at once; otherwise the writer's sweep closes it once it has been idle
for the timeout (`close_idle`), at its last activity. Then:

- `agent` when an agent took it (assigned at least once), whatever followed;
- `ticket` when the user left a message instead (the answer comes later);
- `abandoned` when it was handed off but never reached an agent or a ticket (the user
  left the queue or went quiet), unless the bot gave an answer after the user left
  the queue ("abandoned unless later resolved");
- `bot` when the bot gave at least one knowledge answer (decision `answer`);
- `abandoned` otherwise: the user went away without an answer (only a greeting, a
  fallback, a clarifying question left unanswered, an unsupported message).

The resolution is recomputed whenever a late event joins a closed enquiry, so replays
and out-of-order deliveries (a killed writer's batch reclaimed after newer ones) end in
the same state. Every event is applied at most once: its event_key is unique in
`messages` or `enquiry_events`, checked before applying and enforced by the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import String, Table, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError

from bot.records.events import RATINGS
from bot.records.masking import mask, mask_value
from bot.records.schema import enquiries, enquiry_events, messages, rejected_events

log = logging.getLogger("patentdesk.records")

KINDS = ("exchange", "agent_message", "notice", "handoff", "rating", "feedback", "ticket_answer", "delivery")
FOLLOW_UP_KINDS = frozenset({"rating", "feedback", "notice", "ticket_answer", "delivery"})
VIAS = ("custom", "notice", "refused")
FOLLOW_UP_DECISIONS = frozenset({"rating", "feedback"})
OPEN_STEPS = frozenset({"queued", "assigned", "transferred", "reclaimed", "team_transferred"})
STEPS = OPEN_STEPS | {"left", "ticket", "handed_back", "closed", "ticket_transfer"}
# exchange decisions whose texts come from the desk, not the bot (when the event has no `who`)
SYSTEM_DECISIONS = frozenset({"to_queue", "to_agent", "handoff_left", "leave_prompt", "ticket", "rating", "feedback",
                              "handoff_unavailable", "leave_confirm"})
UNHAPPY = 4  # 不满意: flagged for follow-up
HANDOFF_STALE = timedelta(hours=24)
MAX_KEY = 190  # event_key column is 200; replies append "#n"

_LOCK_ID = 0x7061746E  # "patn": serialises writers on PostgreSQL, one batch at a time
_COMMON = ("kind", "event_key", "channel", "user", "at")


class EventError(ValueError):
    """A stream entry that is no record event; it is kept in rejected_events instead."""


@dataclass(frozen=True)
class Event:
    kind: str
    key: str
    channel: str
    user: str
    at: datetime  # UTC
    data: Mapping[str, Any]  # the whole event as sent


@dataclass
class Applied:
    """What a batch did: events stored, already stored (replays), unreadable (kept aside)."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0

    def add(self, other: Applied) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected += other.rejected


def utc(value: datetime) -> datetime:
    """Aware UTC, whatever the driver returned (SQLite gives naive datetimes)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            return utc(datetime.fromisoformat(value))
        except ValueError as exc:
            raise EventError(f"unreadable time {value!r}") from exc
    raise EventError(f"missing or unreadable time {value!r}")


def _required(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise EventError(f"missing {name}")
    return value


def normalise(raw: Any) -> Event:
    """One stream entry (JSON text or a dict) as an Event; the legacy exchange shape (no
    `kind`, `msg_key`, `received_at`) is read as an exchange. Raises EventError."""
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise EventError("not JSON") from exc
    if not isinstance(raw, dict):
        raise EventError("not a JSON object")
    if raw.get("kind") is None and raw.get("msg_key"):
        raw = {**raw, "kind": "exchange", "event_key": raw.get("event_key") or raw["msg_key"],
               "at": raw.get("at") or raw.get("received_at")}
    kind = raw.get("kind")
    if kind not in KINDS:
        raise EventError(f"unknown kind {kind!r}")
    key = _required(raw, "event_key")
    if len(key) > MAX_KEY:
        raise EventError("event_key too long")
    if kind == "handoff" and raw.get("step") not in STEPS:
        raise EventError(f"unknown handoff step {raw.get('step')!r}")
    if kind == "rating" and (isinstance(raw.get("rating"), bool) or raw.get("rating") not in RATINGS):
        raise EventError(f"rating must be one of {sorted(RATINGS)}")
    if kind == "ticket_answer" or (kind == "handoff" and raw.get("step") == "ticket_transfer"):
        _required(raw, "ticket_id")  # the enquiry that holds the ticket is found by it
    if kind == "delivery" and raw.get("via") not in VIAS:
        raise EventError(f"delivery via must be one of {', '.join(VIAS)}")
    return Event(kind, key, _required(raw, "channel"), _required(raw, "user"), parse_time(raw.get("at")), raw)


def handoff_open(enq: Mapping[str, Any]) -> bool:
    return enq.get("handoff_state") in OPEN_STEPS


def resolve(enq: Mapping[str, Any]) -> str:
    """Who resolved a finished enquiry (the rule in the module docstring)."""
    if enq.get("assigned_at") is not None:
        return "agent"
    if enq.get("ticket_id"):
        return "ticket"
    answered, left = enq.get("bot_answered_at"), enq.get("left_at")
    if enq.get("handed_off"):
        if answered is not None and left is not None and utc(answered) > utc(left):
            return "bot"
        return "abandoned"
    return "bot" if answered is not None else "abandoned"


def idle_due(enq: Mapping[str, Any], now: datetime, idle: timedelta) -> bool:
    """Whether an open enquiry is over: quiet for the idle timeout, and no handoff in
    progress (or that handoff quiet for HANDOFF_STALE)."""
    quiet = now - utc(enq["last_at"])
    return quiet > (HANDOFF_STALE if handoff_open(enq) else idle)


def _aware(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _fit(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """Strings cut to their column's length: PostgreSQL would refuse the whole batch."""
    out = {}
    for name, value in values.items():
        col_type = table.c[name].type
        if isinstance(value, str) and isinstance(col_type, String) and col_type.length:
            value = value[: col_type.length]
        out[name] = value
    return out


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _opt_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _candidates(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    ids = [c.get("id") if isinstance(c, dict) else c for c in value]
    return [str(i) for i in ids if i]


class Applier:
    """Applies events to the database inside one transaction (`conn`)."""

    def __init__(self, conn: Connection, idle: timedelta, categories: Mapping[str, str]) -> None:
        self.conn = conn
        self.idle = idle
        self.categories = categories

    # ---- finding the enquiry -------------------------------------------------------

    def _one(self, query: Any) -> dict[str, Any] | None:
        row = self.conn.execute(query.limit(1)).first()
        return _aware(row._mapping) if row is not None else None

    def _joinable(self, enq: dict[str, Any], ev: Event) -> bool:
        if enq["closed_by"] == "agent" and ev.at > utc(enq["closed_at"]):
            return False
        gap = ev.at - utc(enq["last_at"])
        return gap <= (HANDOFF_STALE if handoff_open(enq) else self.idle)

    def find(self, ev: Event) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the enquiry to join or None, an open enquiry the event leaves behind)."""
        if ev.kind == "ticket_answer" or (ev.kind == "handoff" and ev.data.get("step") == "ticket_transfer") \
                or (ev.kind == "delivery" and ev.data.get("ticket_id")):
            held = self._one(select(enquiries).where(enquiries.c.ticket_id == ev.data["ticket_id"])
                             .order_by(enquiries.c.id.desc()))
            if held is not None:
                return held, None
        mine = (enquiries.c.channel == ev.channel) & (enquiries.c.user == ev.user)
        before = self._one(select(enquiries).where(mine, enquiries.c.started_at <= ev.at)
                           .order_by(enquiries.c.started_at.desc(), enquiries.c.id.desc()))
        follow_up = ev.kind in FOLLOW_UP_KINDS or (
            ev.kind == "exchange" and ev.data.get("decision") in FOLLOW_UP_DECISIONS)
        if before is not None and (follow_up or self._joinable(before, ev)):
            return before, None
        after = self._one(select(enquiries).where(mine, enquiries.c.started_at > ev.at)
                          .order_by(enquiries.c.started_at, enquiries.c.id))
        if after is not None and (follow_up and before is None or utc(after["started_at"]) - ev.at <= self.idle):
            return after, None
        left_behind = before if before is not None and before["closed_at"] is None and after is None else None
        return None, left_behind

    def _create(self, ev: Event) -> dict[str, Any]:
        row = {"channel": ev.channel, "user": ev.user, "started_at": ev.at, "last_at": ev.at,
               "handed_off": False, "follow_up": False}
        result = self.conn.execute(insert(enquiries).values(**_fit(enquiries, row)))
        enq = self._one(select(enquiries).where(enquiries.c.id == result.inserted_primary_key[0]))
        assert enq is not None
        return enq

    def _close_idle(self, enq: dict[str, Any]) -> None:
        self.conn.execute(update(enquiries).where(enquiries.c.id == enq["id"]).values(
            closed_at=utc(enq["last_at"]), closed_by="idle", resolved_by=resolve(enq)))

    # ---- applying ------------------------------------------------------------------

    def apply(self, ev: Event) -> None:
        """Store one event (not seen before) and update its enquiry."""
        enq, left_behind = self.find(ev)
        if left_behind is not None:
            self._close_idle(left_behind)
        if enq is None:
            enq = self._create(ev)
        before = dict(enq)
        enq["started_at"] = min(utc(enq["started_at"]), ev.at)
        enq["last_at"] = max(utc(enq["last_at"]), ev.at)
        getattr(self, f"_on_{ev.kind}")(ev, enq)
        self._settle(enq)
        changed = {k: v for k, v in enq.items() if k != "id" and v != before.get(k)}
        if changed:
            self.conn.execute(update(enquiries).where(enquiries.c.id == enq["id"])
                              .values(**_fit(enquiries, changed)))

    def _settle(self, enq: dict[str, Any]) -> None:
        """A closed enquiry's resolution follows what it now holds; a handoff starting in an
        enquiry the sweep had closed reopens it."""
        if enq["closed_by"] == "idle" and handoff_open(enq):
            enq.update(closed_at=None, closed_by=None, resolved_by=None)
        elif enq["closed_by"] == "idle":
            enq.update(closed_at=enq["last_at"], resolved_by=resolve(enq))
        elif enq["closed_by"] == "agent":
            enq["resolved_by"] = resolve(enq)

    def _message(self, enq: dict[str, Any], ev: Event, key: str, at: datetime, direction: str, who: str,
                 text_: str, **extra: Any) -> None:
        row = {"enquiry_id": enq["id"], "event_key": key, "at": at, "channel": ev.channel,
               "direction": direction, "who": who, "text": mask((text_ or "").replace("\x00", "")), **extra}
        self.conn.execute(insert(messages).values(**_fit(messages, row)))

    def _event(self, enq: dict[str, Any], ev: Event, **columns: Any) -> None:
        data = {k: v for k, v in ev.data.items() if k not in _COMMON}
        row = {"enquiry_id": enq["id"], "event_key": ev.key, "kind": ev.kind, "at": ev.at,
               "data": mask_value(data), **columns}
        self.conn.execute(insert(enquiry_events).values(**_fit(enquiry_events, row)))

    def _on_exchange(self, ev: Event, enq: dict[str, Any]) -> None:
        d = ev.data
        decision = _opt_str(d.get("decision"))
        path = _opt_str(d.get("path"))
        self._message(enq, ev, ev.key, ev.at, "in", "user", str(d.get("text_in") or ""),
                      msg_type=_opt_str(d.get("msg_type")), path=path, decision=decision,
                      intent=_opt_str(d.get("intent")))
        who = str(d["who"]) if d.get("who") in ("bot", "agent", "system") else (
            "agent" if decision == "agent" else "system" if decision in SYSTEM_DECISIONS else "bot")
        replied = parse_time(d["replied_at"]) if d.get("replied_at") else ev.at
        latency = d.get("latency_ms")
        # An agent's words carried back as this message's passive reply are recorded by
        # their own agent_message event; storing them here too would show them twice.
        outs = [] if who == "agent" else d.get("texts_out") or []
        for i, out in enumerate(outs, 1):
            self._message(enq, ev, f"{ev.key}#{i}", replied, "out", who, str(out), msg_type="text", path=path,
                          decision=decision, entry_id=_opt_str(d.get("entry_id")),
                          confidence=_opt_float(d.get("confidence")), candidates=_candidates(d.get("candidates")),
                          latency_ms=int(latency) if isinstance(latency, int | float) else None, reply_to=ev.key,
                          delivered_via="passive" if path == "passive" or path == "passive+async" and i == 1 else None)
        if decision == "answer" and who == "bot":
            enq["bot_answered_at"] = max(ev.at, utc(enq["bot_answered_at"])) if enq["bot_answered_at"] else ev.at
            entry = _opt_str(d.get("entry_id"))
            if enq["category"] is None and entry is not None and entry in self.categories:
                enq["category"] = self.categories[entry]
        if enq["conv_id"] is None and _opt_str(d.get("conv_id")):
            enq["conv_id"] = d["conv_id"]
        if enq.get("scene") is None and _opt_str(d.get("scene")):
            enq["scene"] = str(d["scene"])[:64]  # where the user came from: the first scene seen in the episode

    def _on_agent_message(self, ev: Event, enq: dict[str, Any]) -> None:
        agent = _opt_str(ev.data.get("agent"))
        self._message(enq, ev, ev.key, ev.at, "out", "agent", str(ev.data.get("text") or ""), msg_type="text",
                      path=_opt_str(ev.data.get("path")), agent=agent)
        enq["agent"] = agent or enq["agent"]

    def _on_notice(self, ev: Event, enq: dict[str, Any]) -> None:
        what = _opt_str(ev.data.get("what")) or "notice"
        self._message(enq, ev, ev.key, ev.at, "out", "system", str(ev.data.get("text") or ""),
                      msg_type=f"notice:{what}")

    def _on_ticket_answer(self, ev: Event, enq: dict[str, Any]) -> None:
        delivered = bool(ev.data.get("delivered"))
        self._message(enq, ev, ev.key, ev.at, "out", "agent", str(ev.data.get("text") or ""),
                      msg_type="ticket_answer", path="async" if delivered else "undelivered",
                      agent=_opt_str(ev.data.get("agent")))
        if enq["ticket_answered_at"] is None or ev.at < utc(enq["ticket_answered_at"]):
            enq["ticket_answered_at"] = ev.at
        enq["ticket_id"] = enq["ticket_id"] or ev.data["ticket_id"]
        enq["agent"] = _opt_str(ev.data.get("agent")) or enq["agent"]
        enq["ticket_team"] = _opt_str(ev.data.get("team")) or enq["ticket_team"]

    def _on_delivery(self, ev: Event, enq: dict[str, Any]) -> None:
        """What reached the user of a reply sent later (customer-service message, or the
        subscription notice past the 48-hour window, or refused): marks its messages."""
        via = str(ev.data["via"])
        undecided = (messages.c.enquiry_id == enq["id"]) & (messages.c.direction == "out") & (
            messages.c.delivered_via.is_(None))
        if ev.data.get("ticket_id"):
            target = undecided & (messages.c.msg_type == "ticket_answer")
        else:
            target = undecided & (messages.c.reply_to == str(ev.data.get("for_key") or ""))
        self.conn.execute(update(messages).where(target).values(delivered_via=via))
        self._event(enq, ev, step=via)

    def _on_rating(self, ev: Event, enq: dict[str, Any]) -> None:
        rating = int(ev.data["rating"])
        self._event(enq, ev, rating=rating)
        enq.update(rating=rating, rating_after=_opt_str(ev.data.get("after")), follow_up=rating >= UNHAPPY)

    def _on_feedback(self, ev: Event, enq: dict[str, Any]) -> None:
        self._event(enq, ev, helpful=bool(ev.data.get("helpful")), entry_id=_opt_str(ev.data.get("entry_id")),
                    text=mask(str(ev.data.get("question") or "")))

    def _on_handoff(self, ev: Event, enq: dict[str, Any]) -> None:
        d = ev.data
        step = d["step"]
        agent = _opt_str(d.get("agent"))
        self._event(enq, ev, step=step, agent=agent)
        team = _opt_str(d.get("team"))
        if step == "ticket_transfer":  # a left message passed to another team; the handoff is unchanged
            enq["ticket_team"] = team or enq["ticket_team"]
            return
        enq["handoff_state"] = step
        enq["conv_id"] = _opt_str(d.get("conv_id")) or enq["conv_id"]
        if team and step in ("queued", "assigned", "team_transferred", "ticket"):
            enq["team"] = team
        if step == "queued":
            reason = _opt_str(d.get("reason")) or "request"
            enq.update(handed_off=True, queued_at=ev.at,
                       reason="complaint" if "complaint" in (reason, enq["reason"]) else enq["reason"] or reason)
        elif step == "assigned":
            waited = _opt_float(d.get("wait_seconds"))
            if waited is None and enq["queued_at"] is not None:
                waited = max((ev.at - utc(enq["queued_at"])).total_seconds(), 0.0)
            enq.update(assigned_at=ev.at, agent=agent or enq["agent"], handed_off=True,
                       wait_seconds=(enq["wait_seconds"] or 0.0) + (waited or 0.0))
        elif step in ("transferred", "team_transferred"):
            enq["agent"] = agent or enq["agent"]
        elif step == "left":
            enq["left_at"] = ev.at
        elif step == "ticket":
            due = d.get("due_at")
            enq.update(ticket_id=_opt_str(d.get("ticket_id")) or enq["ticket_id"],
                       ticket_due_at=parse_time(due) if due else enq["ticket_due_at"],
                       ticket_team=team or enq["ticket_team"])
        elif step in ("closed", "handed_back"):
            handled = _opt_float(d.get("handle_seconds"))
            if handled is None and enq["assigned_at"] is not None:
                handled = max((ev.at - utc(enq["assigned_at"])).total_seconds(), 0.0)
            enq.update(agent=agent or enq["agent"], outcome=_opt_str(d.get("outcome")) or step,
                       handle_seconds=(enq["handle_seconds"] or 0.0) + (handled or 0.0),
                       category=_opt_str(d.get("category")) or enq["category"],
                       complaint_grade=_opt_str(d.get("grade")) or enq["complaint_grade"])
            if enq["assigned_at"] is None:  # an agent finished it, so one had it
                enq["assigned_at"] = ev.at - timedelta(seconds=handled or 0.0)
            if step == "closed" and enq["closed_by"] != "agent":
                enq.update(closed_at=ev.at, closed_by="agent")


def _known_keys(conn: Connection, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        for table in (messages, enquiry_events):
            found.update(conn.execute(select(table.c.event_key).where(table.c.event_key.in_(chunk))).scalars())
    return found


def _lock(conn: Connection) -> None:
    """One writer at a time on PostgreSQL, so two gateways' writers never race to open
    two enquiries for one user (SQLite serialises writers by itself)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})


def _reject(conn: Connection, raw: Any, error: str) -> None:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    blob = raw if isinstance(raw, str) else json.dumps(mask_value(raw), ensure_ascii=False, default=str)
    log.error("records: unreadable event kept in rejected_events (%s)", error)
    conn.execute(insert(rejected_events).values(**_fit(rejected_events, {
        "received_at": datetime.now(UTC), "error": error, "raw": mask(blob)})))


def _apply(conn: Connection, events: list[Event], idle: timedelta, categories: Mapping[str, str]) -> Applied:
    _lock(conn)
    done = Applied()
    seen = _known_keys(conn, [e.key for e in events])
    applier = Applier(conn, idle, categories)
    for ev in events:
        if ev.key in seen:
            done.duplicates += 1
            continue
        seen.add(ev.key)
        applier.apply(ev)
        done.stored += 1
    return done


def apply_events(engine: Engine, raws: Iterable[Any], idle_timeout: float = 1800.0,
                 categories: Mapping[str, str] | None = None) -> Applied:
    """Store a batch of stream entries (JSON text or dicts) in stream order, in one
    transaction; entries already stored are skipped and unreadable ones kept aside.

    If another writer stored some of the same events meanwhile (the unique key refuses
    the batch), the batch is retried one event per transaction, skipping those.
    """
    idle = timedelta(seconds=idle_timeout)
    cats = categories or {}
    events: list[Event] = []
    bad: list[tuple[Any, str]] = []
    for raw in raws:
        try:
            events.append(normalise(raw))
        except EventError as exc:
            bad.append((raw, str(exc)))
    try:
        with engine.begin() as conn:
            done = _apply(conn, events, idle, cats)
            for raw, error in bad:
                _reject(conn, raw, error)
            done.rejected = len(bad)
            return done
    except (IntegrityError, DataError) as exc:
        log.info("records: batch refused (%s); applying one event at a time", exc.orig)
    done = Applied()
    for ev in events:
        try:
            with engine.begin() as conn:
                done.add(_apply(conn, [ev], idle, cats))
        except (IntegrityError, DataError) as exc:
            with engine.begin() as conn:
                if _known_keys(conn, [ev.key]):
                    done.duplicates += 1  # another writer stored it meanwhile
                else:  # the database refuses this event: keep it aside, do not block the rest
                    bad.append((dict(ev.data), f"refused by the database: {exc.orig}"))
    with engine.begin() as conn:
        for raw, error in bad:
            _reject(conn, raw, error)
    done.rejected = len(bad)
    return done


def close_idle(engine: Engine, idle_timeout: float = 1800.0, now: datetime | None = None) -> int:
    """Close every open enquiry that is over (see `idle_due`) at its last activity, with
    its resolution; returns how many. The writer runs this every little while."""
    now = utc(now or datetime.now(UTC))  # UTC: SQLite compares the stored UTC text with the bound's
    idle = timedelta(seconds=idle_timeout)
    closed = 0
    with engine.begin() as conn:
        _lock(conn)
        rows = conn.execute(select(enquiries).where(enquiries.c.closed_at.is_(None),
                                                    enquiries.c.last_at < now - idle)).all()
        for row in rows:
            enq = dict(row._mapping)
            if idle_due(enq, now, idle):
                conn.execute(update(enquiries).where(enquiries.c.id == enq["id"]).values(
                    closed_at=utc(enq["last_at"]), closed_by="idle", resolved_by=resolve(enq)))
                closed += 1
    return closed


def entry_categories(folder: Path | str) -> dict[str, str]:
    """Knowledge entry id -> its category (费用, 年费 ...), to give a bot-answered enquiry
    the category of its first answer; empty when the knowledge folder is unreadable."""
    from bot.knowledge.entries import KnowledgeError, load_knowledge

    try:
        return {e.id: e.category for e in load_knowledge(Path(folder)).entries}
    except (KnowledgeError, OSError) as exc:
        log.warning("records: no knowledge categories (%s)", exc)
        return {}
