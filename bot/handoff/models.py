"""What the queue hands out: plain frozen records read from the Redis hashes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Reason = Literal["request", "complaint", "fallback", "technical"]
State = Literal["waiting", "assigned", "closed", "left", "ticket"]
Presence = Literal["online", "away", "offline"]

REASONS: tuple[str, ...] = ("request", "complaint", "fallback", "technical")
PRESENCES: tuple[str, ...] = ("online", "away", "offline")


def text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def as_fields(raw: Mapping[bytes | str, bytes | str] | list[bytes | str]) -> dict[str, str]:
    """A hash as str -> str, from HGETALL's dict or a script's flat [k, v, ...] reply."""
    if isinstance(raw, list):
        return {text(raw[i]): text(raw[i + 1]) for i in range(0, len(raw) - 1, 2)}
    return {text(k): text(v) for k, v in raw.items()}


def _seconds(ms: str | None) -> float | None:
    return int(ms) / 1000 if ms else None


@dataclass(frozen=True)
class Conversation:
    conv_id: str
    channel: str
    user_id: str
    reason: str
    priority: int  # 0 is served first
    state: str
    enqueued_at: float  # seconds since the epoch; kept when a conversation is requeued
    summary: str = ""
    agent: str | None = None
    assigned_at: float | None = None
    closed_at: float | None = None
    outcome: str | None = None
    ticket_id: str | None = None
    requeues: int = 0  # how often a lease expiry or an agent going offline put it back
    transfers: int = 0
    holder: str = ""  # who answers the user's next message (see bot.gateway.state); "" in old records
    offer: str | None = None  # waiting and offered (or asked) to leave a message: offered | asked
    notice_position: int | None = None  # the place last told to the waiting user, and when
    notice_at: float | None = None
    draft: str | None = None  # offered: the left message echoed back, awaiting the user's "1"
    team: str = ""  # the team whose queue it is in (or was served by); "" in old records

    @classmethod
    def from_fields(cls, f: Mapping[str, str]) -> Conversation:
        return cls(
            conv_id=f["conv_id"],
            channel=f.get("channel", ""),
            user_id=f.get("user_id", ""),
            reason=f.get("reason", "request"),
            priority=int(f.get("priority") or 0),
            state=f.get("state", "waiting"),
            enqueued_at=int(f.get("enqueued_at") or 0) / 1000,
            summary=f.get("summary", ""),
            agent=f.get("agent") or None,
            assigned_at=_seconds(f.get("assigned_at")),
            closed_at=_seconds(f.get("closed_at")),
            outcome=f.get("outcome") or None,
            ticket_id=f.get("ticket_id") or None,
            requeues=int(f.get("requeues") or 0),
            transfers=int(f.get("transfers") or 0),
            holder=f.get("holder", ""),
            offer=f.get("offer") or None,
            notice_position=int(f["notice_pos"]) if f.get("notice_pos") else None,
            notice_at=_seconds(f.get("notice_at")),
            draft=f.get("draft") or None,
            team=f.get("team", ""),
        )

    @staticmethod
    def present(f: Mapping[str, str]) -> bool:
        """Whether a conversation hash holds a queue record (a user the bot alone has
        served has only the conversation state's fields, see bot.gateway.state)."""
        return bool(f.get("conv_id"))


@dataclass(frozen=True)
class Enqueued:
    conversation: Conversation
    created: bool  # False: it was already waiting or assigned and kept its place


@dataclass(frozen=True)
class Waiting:
    position: int  # 1 = next to be served
    waited: float  # seconds since it first entered the queue
    conversation: Conversation


@dataclass(frozen=True)
class Place:
    position: int
    ahead: int
    online_agents: int
    estimated_wait: float | None  # seconds; None when no agent is online


@dataclass(frozen=True)
class Agent:
    agent_id: str
    name: str
    status: str
    capacity: int
    load: int
    last_seen: float | None
    conversations: tuple[str, ...] = field(default=())

    @property
    def free(self) -> int:
        return max(self.capacity - self.load, 0)


@dataclass(frozen=True)
class Assignment:
    conv_id: str
    agent: str


@dataclass(frozen=True)
class Reclaimed:
    conv_id: str
    agent: str
    cause: Literal["lease_expired", "agent_offline"]


@dataclass(frozen=True)
class SweepReport:
    reclaimed: tuple[Reclaimed, ...] = ()
    agents_offline: tuple[str, ...] = ()  # agents whose console stopped sending heartbeats


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    conv_id: str
    channel: str
    user_id: str
    reason: str
    summary: str
    message: str
    state: str  # open | answered
    created_at: float
    due_at: float
    overdue: bool = False
    answer: str | None = None
    answered_by: str | None = None
    answered_at: float | None = None
    team: str = ""  # the team it is for ("" in tickets from before teams: the default team)
    context: tuple[dict[str, Any], ...] = ()  # the conversation before it (transcript lines)
    notes: tuple[dict[str, Any], ...] = ()  # transfers between teams: from, to, by, note, at
    resolution: str | None = None

    @classmethod
    def from_fields(cls, f: Mapping[str, str], now: float) -> Ticket:
        due = int(f.get("due_at") or 0) / 1000
        state = f.get("state", "open")
        return cls(
            ticket_id=f["ticket_id"],
            conv_id=f.get("conv_id", ""),
            channel=f.get("channel", ""),
            user_id=f.get("user_id", ""),
            reason=f.get("reason", ""),
            summary=f.get("summary", ""),
            message=f.get("message", ""),
            state=state,
            created_at=int(f.get("created_at") or 0) / 1000,
            due_at=due,
            overdue=state == "open" and now > due,
            answer=f.get("answer") or None,
            answered_by=f.get("answered_by") or None,
            answered_at=_seconds(f.get("answered_at")),
            team=f.get("team", ""),
            context=_json_lines(f.get("context")),
            notes=_json_lines(f.get("notes")),
            resolution=f.get("resolution") or None,
        )


def _json_lines(raw: str | None) -> tuple[dict[str, Any], ...]:
    """A JSON list of objects kept in a hash field; a damaged one reads as empty."""
    if not raw:
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    return tuple(v for v in value if isinstance(v, dict)) if isinstance(value, list) else ()
