"""One conversation state per user, in one Redis hash, read once per message.

The hash is the user's conversation hash of the handoff queue
(`patentdesk:handoff:conv:{channel}-{pseudonym}`): the queue's own fields when the user
was ever handed off, plus who holds the conversation now (`holder`), since when
(`since`, ms) and the few facts each state needs:

| holder   | who answers the next message          | facts                                   |
|----------|---------------------------------------|-----------------------------------------|
| bot      | Rasa                                  | `answered`: a bot answer awaits a rating on thanks |
| feedback | "有用"/"没用" on the last answer, else Rasa | `answer` (entry, question), `answer_until`, `answered` |
| rating   | a rating 1-4, else as above           | `rating_after` (agent / bot), `rating_conv`, `rating_until` |
| queue    | the desk: the user waits for a person | the queue's fields; `notice_pos`, `notice_at` |
| offer    | the desk: the next text is a left message | as queue, and `offer` (offered / asked) |
| agent    | the agent holding it                  | the queue's fields (`agent`, ...)       |

Queue, offer and agent are set by the queue's Lua scripts (`bot.handoff.scripts`), in
the same step as the queue change; the pending states (feedback, rating) and the bot
are written here, by one script that never overrides a conversation the queue holds.
A user never handed off and never answered has no hash: the bot holds it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from bot.handoff.keys import HandoffKeys
from bot.handoff.models import Conversation, as_fields

log = logging.getLogger("patentdesk.gateway")

HOLDERS: tuple[str, ...] = ("bot", "feedback", "rating", "queue", "offer", "agent")

PENDING_SECONDS = 1800  # how long "was this helpful?" and a rating request stay open
RATING_FIELDS = ("rating_after", "rating_conv", "rating_until")

# The gateway's own state changes (bot, feedback, rating). A conversation the queue holds
# (waiting or assigned) is left alone: those changes belong to the queue's scripts.
# KEYS: conv; ARGV: holder, now_ms, ttl_ms, n_drop, fields to drop..., field, value, ...
SET_STATE = r"""
local q = redis.call('HGET', KEYS[1], 'state')
if q == 'waiting' or q == 'assigned' then return {'held', q} end
local existed = redis.call('EXISTS', KEYS[1])
local n = tonumber(ARGV[4])
if n > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 5, 4 + n)) end
if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'since', ARGV[2])
end
if #ARGV > 4 + n then redis.call('HSET', KEYS[1], unpack(ARGV, 5 + n)) end
local ttl = redis.call('PTTL', KEYS[1])
if existed == 0 or (ttl >= 0 and ttl < tonumber(ARGV[3])) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {'ok'}
"""


@dataclass(frozen=True)
class Answer:
    """The last knowledge answer, for "有用"/"没用"."""

    entry_id: str | None
    question: str


@dataclass(frozen=True)
class Rating:
    """A rating was asked for: after an agent's service or after the bot's answers."""

    after: str  # agent | bot
    conv_id: str | None  # the handed-off conversation rated (after an agent)


@dataclass(frozen=True)
class ConvState:
    conv_id: str
    holder: str
    since: float | None = None
    conversation: Conversation | None = None  # the queue's record, when there is one
    answer: Answer | None = None  # open for feedback (within its time)
    answered: bool = False  # a bot answer awaits a rating, asked when the user thanks
    rating: Rating | None = None  # open for a rating (within its time)
    known: bool = True  # False: Redis could not be read; nothing is written back

    @classmethod
    def from_fields(cls, conv_id: str, f: Mapping[str, str], now: float) -> ConvState:
        conv = Conversation.from_fields(f) if Conversation.present(f) else None
        since = int(f["since"]) / 1000 if f.get("since") else None
        answer_open = bool(f.get("answer_until")) and int(f["answer_until"]) / 1000 > now
        answer = None
        if answer_open and f.get("answer"):
            note = json.loads(f["answer"])
            answer = Answer(note.get("entry_id"), note.get("question", ""))
        rating = None
        if f.get("rating_until") and int(f["rating_until"]) / 1000 > now:
            rating = Rating(f.get("rating_after") or "agent", f.get("rating_conv") or None)
        answered = answer_open and f.get("answered") == "1"
        holder = f.get("holder", "")
        if conv is not None and conv.state == "waiting":
            holder = "offer" if holder == "offer" else "queue"
        elif conv is not None and conv.state == "assigned":
            holder = "agent"
        elif not (holder == "rating" and rating or holder == "feedback" and answer):
            # a pending question times out; the queue's holders need a live queue record
            holder = "rating" if rating else "feedback" if answer else "bot"
        return cls(conv_id, holder, since, conv, answer, answered, rating)

    @classmethod
    def unknown(cls, conv_id: str) -> ConvState:
        """Redis is down: the bot answers, nothing pending is known."""
        return cls(conv_id, "bot", known=False)

    def after_pending(self) -> ConvState:
        """The state once the pending question in front has been dealt with (or ignored)."""
        if self.holder == "rating":
            return ConvState(self.conv_id, "feedback" if self.answer else "bot", self.since, self.conversation,
                             self.answer, self.answered, None, self.known)
        return ConvState(self.conv_id, "bot", self.since, self.conversation, None, self.answered, None, self.known)


@dataclass(frozen=True)
class Change:
    """A state change a handler asks for: the new holder, facts to set and facts to drop."""

    holder: str
    set: dict[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()

    def then(self, later: Change | None) -> Change:
        """This change followed by `later` (the router merges the changes of one message)."""
        if later is None:
            return self
        kept = {k: v for k, v in self.set.items() if k not in later.drop}
        drop = tuple(dict.fromkeys(d for d in (*self.drop, *later.drop) if d not in later.set))
        return Change(later.holder, {**kept, **later.set}, drop)


def answered_change(entry_id: str | None, question: str, now: float) -> Change:
    """A knowledge answer was given: ask "was this helpful?", and for a rating on thanks."""
    note = json.dumps({"entry_id": entry_id, "question": question[:200]}, ensure_ascii=False)
    return Change("feedback", {"answer": note, "answer_until": str(int((now + PENDING_SECONDS) * 1000)),
                               "answered": "1"}, RATING_FIELDS)


def rating_asked_change(now: float) -> Change:
    """The user thanked after an answer: the next message may rate the bot."""
    return Change("rating", {"rating_after": "bot", "rating_conv": "",
                             "rating_until": str(int((now + PENDING_SECONDS) * 1000)), "answered": "0"})


def pending_dropped(state: ConvState) -> Change:
    """The pending question in front was answered or passed over."""
    after = state.after_pending()
    if state.holder == "rating":
        return Change(after.holder, {}, RATING_FIELDS)
    return Change(after.holder, {}, ("answer",))


class StateStore:
    """Reads a user's conversation state in one round trip and writes the gateway's changes
    in one more (only when there is a change)."""

    def __init__(self, redis: aioredis.Redis, keys: HandoffKeys | None = None) -> None:
        self.redis = redis
        self.keys = keys or HandoffKeys()
        self._set = redis.register_script(SET_STATE)

    async def read(self, conv_id: str, now: float) -> ConvState:
        """Raises RedisError/OSError when Redis is unreachable (the router then lets the bot answer)."""
        fields = as_fields(await self.redis.hgetall(self.keys.conv(conv_id)))
        return ConvState.from_fields(conv_id, fields, now)

    async def write(self, conv_id: str, change: Change, now: float) -> bool:
        """False when the queue took the conversation meanwhile (its state wins)."""
        pairs = [x for kv in change.set.items() for x in kv]
        raw = await self._set(keys=[self.keys.conv(conv_id)],
                              args=[change.holder, int(now * 1000), PENDING_SECONDS * 1000, len(change.drop),
                                    *change.drop, *pairs])
        status = raw[0].decode() if isinstance(raw[0], bytes) else str(raw[0])
        if status != "ok":
            log.info("state of %s not changed to %s: the queue holds it", conv_id, change.holder)
        return status == "ok"
