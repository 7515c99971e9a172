"""What the serving processes put on the records stream: the contract between them and
the records writer.

Producers (the gateway's pipeline, its handoff flow, the agent console) never touch the
database; they XADD one of these events through `RecordBuffer.add`, and the writer turns
them into enquiries and messages. Every event carries `kind`, `channel`, `user` (the
pseudonym, never the OpenID), `at` (ISO 8601, UTC) and `event_key`: a key unique for
that event, so a replayed stream entry or a retried WeChat message is stored once.

Times are ISO strings and all values JSON types, because the stream carries JSON.

The gateway's first records had no `kind` (`msg_key`, `received_at`, ...): the writer
still reads that shape as an exchange with event_key = msg_key and at = received_at
(`bot.records.episodes.normalise`).
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

Kind = Literal["exchange", "agent_message", "notice", "handoff", "rating", "feedback", "ticket_answer", "delivery"]


class _Base(TypedDict):
    kind: Kind
    event_key: str  # unique per event (a hashed WeChat MsgId for exchanges)
    channel: str  # "wechat" | "web"
    user: str  # pseudonym u_...
    at: str  # when it happened (ISO 8601 UTC)


class Exchange(_Base):
    """A user's message and what was answered: by the bot, by the channel (welcome,
    unsupported type), or nothing because a person has the conversation."""

    msg_type: str
    text_in: str
    texts_out: list[str]
    replied_at: str | None
    path: str  # passive | async | passive+async | none | web | handoff
    decision: str | None  # answer | clarify | handoff | fallback | smalltalk | channel | to_agent | ...
    entry_id: str | None
    confidence: float | None
    candidates: NotRequired[list[str]]  # knowledge entry ids offered (clarify) or ranked
    intent: NotRequired[str | None]
    latency_ms: int | None
    conv_id: NotRequired[str | None]  # set while the user is in the handoff queue or with an agent
    who: NotRequired[str | None]  # who said texts_out: bot (default) | agent | system (queue, rating thanks)
    agent: NotRequired[str | None]  # the agent, when who is agent
    scene: NotRequired[str | None]  # the QR code's scene on a subscribe or scan (WeChat)


class AgentMessage(_Base):
    conv_id: str
    agent: str
    text: str
    path: str  # passive | async | web


class Notice(_Base):
    """Something the system told the user on its own: place in the queue, an agent
    joined, the offer to leave a message, a rating request."""

    conv_id: NotRequired[str | None]
    what: str  # position | assigned | leave_offer | ticket_created | returned | closed | rating_request | unavailable
    text: str


class Handoff(_Base):
    """A step of the conversation's life with people."""

    conv_id: str
    step: str  # queued | assigned | transferred | left | ticket | handed_back | closed | reclaimed
    reason: NotRequired[str]  # request | complaint | fallback (on queued)
    agent: NotRequired[str | None]
    wait_seconds: NotRequired[float | None]  # queued -> assigned (on assigned)
    handle_seconds: NotRequired[float | None]  # assigned -> closed (on closed / handed_back)
    outcome: NotRequired[str | None]  # on closed
    category: NotRequired[str | None]  # on closed: knowledge category
    grade: NotRequired[str | None]  # on closed: complaint grade A | B | C | D
    ticket_id: NotRequired[str | None]  # on ticket
    due_at: NotRequired[str | None]  # on ticket


class Rating(_Base):
    rating: int  # 1 非常满意, 2 满意, 3 一般, 4 不满意
    after: str  # agent | bot
    conv_id: NotRequired[str | None]


class Feedback(_Base):
    """"Was this helpful?" on a bot answer."""

    helpful: bool
    entry_id: str | None
    question: str


class TicketAnswer(_Base):
    ticket_id: str
    conv_id: str
    agent: str
    text: str
    delivered: bool


class Delivery(_Base):
    """How a reply sent after the request reached the user (WeChat's outbox): as a
    customer-service message, as a subscription notice (past the 48-hour window), or not
    at all (refused). Passive replies are marked by their exchange."""

    via: str  # custom | notice | refused
    for_key: NotRequired[str | None]  # the exchange's event_key whose reply this was
    ticket_id: NotRequired[str | None]  # or the left message it answers
    errcode: NotRequired[int | None]  # on refused


RecordEvent = Exchange | AgentMessage | Notice | Handoff | Rating | Feedback | TicketAnswer | Delivery

RATINGS: dict[int, str] = {1: "非常满意", 2: "满意", 3: "一般", 4: "不满意"}
