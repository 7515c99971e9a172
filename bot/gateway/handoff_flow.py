"""A conversation's life with people, as the gateway and the agent console see it.

The queue (`bot.handoff`) knows who waits and who holds what; this module adds what the
user and Rasa see around it:

- the bot decides to hand off -> the conversation is queued, Rasa is paused for that
  user (`{"event": "pause"}`), and the user is told their place and the likely wait, or,
  out of hours / with nobody on duty, offered to leave a message;
- while waiting: "取消" leaves the queue, "留言" (or any text after the offer) leaves a
  message that becomes a ticket; other text goes to the transcript the agent will read;
- with an agent: every user message goes to the agent (pub/sub event + transcript), and
  the agent's reply goes back as the passive reply to a waiting request when in time,
  else through the channel (customer-service message, web inbox);
- hand back or close -> Rasa resumes; after a close the user is asked for a rating.

Routing is decided by the queue's state in Redis, not by Rasa's pause flag: if Redis is
down, the bot answers knowledge questions and says a person is not available right now.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot import replies
from bot.config import Settings
from bot.gateway.delivery import AgentReplySlot, Delivery
from bot.gateway.pipeline import Handled, Inbound
from bot.gateway.transcript import Line, Transcripts
from bot.handoff import Conflict, Conversation, HandoffQueue, HandoffUnavailable, Ticket
from bot.handoff.models import as_fields
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.records.buffer import RecordBuffer
from bot.records.events import RATINGS
from bot.records.pseudonym import pseudonym
from bot.redis_keys import key

log = logging.getLogger("patentdesk.handoff")

EVENTS_CHANNEL = key("handoff", "events")
"""Redis pub/sub channel; each message is JSON {"type": ..., "conv_id": ..., "agent": ...}
with type one of queue | assigned | message | closed | transferred | ticket | agent."""

GRADES: dict[str, str] = {"A": "轻微", "B": "一般", "C": "严重", "D": "特别严重"}  # complaint grades
PASSIVE_MARGIN = 0.3  # seconds kept free before the platform's deadline
RATING_SECONDS = 1800
OFFER_SECONDS = 7 * 86400
REACHABLE_SECONDS = 48 * 3600  # WeChat's customer-service window after the user's last message
RATING_WORDS = (("非常满意", 1), ("不满意", 4), ("满意", 2), ("一般", 3))

__all__ = ["EVENTS_CHANNEL", "GRADES", "HandoffFlow", "Line"]

# Per-conversation flags, each `patentdesk:{area}:{conv_id}`:
OFFER = "handoff:offer"  # offered (or asked) to leave a message: the next text is the message
NOTICE = "handoff:notice"  # the place last told to a waiting user, and when
RATING = "handoff:rating"  # a rating was asked for: the next text may be one
ANSWER = "aftercare:answer"  # the last bot answer, for "有用"/"没用" feedback
ANSWERED = "aftercare:answered"  # a bot answer awaits its rating (asked on thanks or goodbye)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _bare(text: str) -> str:
    """The text without spaces and punctuation, for matching short replies."""
    return re.sub(r"[\s。.!！,，]", "", text)


def parse_rating(text: str) -> int | None:
    """1-4 or the words of the four grades; None when the text is something else."""
    t = _bare(text)
    if t in ("1", "2", "3", "4"):
        return int(t)
    for word, value in RATING_WORDS:
        if t.startswith(word) and len(t) <= len(word) + 4:
            return value
    return None


def parse_feedback(text: str) -> bool | None:
    """True for "有用", False for "没用"/"不是这个", None for anything else."""
    t = _bare(text)
    if len(t) > 10:
        return None
    if any(t.startswith(w) or t.endswith(w) for w in replies.UNHELPFUL_WORDS):
        return False
    if any(t.startswith(w) for w in replies.HELPFUL_WORDS):
        return True
    return None


def is_cancel(text: str) -> bool:
    t = _bare(text)
    return any(t.startswith(w) for w in replies.CANCEL_WORDS) and len(t) <= 8


class HandoffFlow:
    def __init__(self, settings: Settings, redis: aioredis.Redis, queue: HandoffQueue, rasa: RasaClient,
                 delivery: Delivery, records: RecordBuffer, clock: Any = time.time) -> None:
        self.settings = settings
        self.redis = redis
        self.queue = queue
        self.rasa = rasa
        self.delivery = delivery
        self.records = records
        self.slot = AgentReplySlot(redis)
        self.transcripts = Transcripts(redis)
        self.clock = clock

    # ---- identities ------------------------------------------------------------------

    def user_ref(self, channel: str, user_id: str) -> str:
        return pseudonym(self.settings.pseudonym_key, channel, user_id)

    def conv_id_for(self, channel: str, user_id: str) -> str:
        """One queue entry per user and channel, named by the pseudonym (no OpenID in ids)."""
        return f"{channel}-{self.user_ref(channel, user_id)}"

    # ---- the user's side -------------------------------------------------------------

    async def route(self, inbound: Inbound) -> Handled | None:
        """The reply when a person has (or is about to have) this user; None: the bot answers."""
        if inbound.to_bot is None:
            return None
        conv_id = self.conv_id_for(inbound.channel, inbound.user_id)
        try:
            conv = await self.queue.get(conv_id)
            if conv is None or conv.state not in ("waiting", "assigned"):
                return await self._aftercare(conv_id, inbound)
            if conv.state == "waiting":
                return await self._while_waiting(conv, inbound)
            return await self._with_agent(conv, inbound)
        except (HandoffUnavailable, RedisError, OSError) as exc:
            log.warning("handoff state of %s unknown (%s); the bot answers", conv_id, exc)
            return None

    async def start(self, inbound: Inbound, handled: Handled) -> Handled:
        """The bot decided to hand off: queue, pause Rasa, tell the user where they stand."""
        reason = str(handled.info.get("reason") or "request")
        conv_id = self.conv_id_for(inbound.channel, inbound.user_id)
        now = self.clock()
        try:
            enqueued = await self.queue.enqueue(conv_id, channel=inbound.channel, user_id=inbound.user_id,
                                                reason=reason, summary=inbound.text_in[:200])
            place = await self.queue.position(conv_id)
        except (HandoffUnavailable, RedisError, OSError) as exc:
            log.warning("handoff for %s impossible (%s); the user is told", conv_id, exc)
            return Handled([replies.HANDOFF_UNAVAILABLE], {**handled.info, "decision": "handoff_unavailable"})
        await self._rasa_event(inbound.channel, inbound.user_id, "pause")
        info = {**handled.info, "conv_id": conv_id, "transcribed": True}
        await self.transcripts.append(conv_id, Line(inbound.received_at, "user", inbound.text_in))
        if not self.queue.calendar.is_open(datetime.fromtimestamp(now, UTC)):
            text, what = replies.leave_offer("closed"), "leave_offer"
        elif place is None or not place.online_agents:
            text, what = replies.leave_offer("busy"), "leave_offer"
        else:
            text, what = replies.handoff_queued(reason == "complaint", place.position, place.estimated_wait), "position"
            await self._remember_notice(conv_id, place.position, now)
        if what == "leave_offer":
            await self.redis.set(key(OFFER, conv_id), "offered", ex=OFFER_SECONDS)
        await self.transcripts.append(conv_id, Line(now, "system", text))
        if enqueued.created:
            await self._record("handoff", inbound.channel, inbound.user_id, conv_id=conv_id, step="queued",
                               reason=reason)
        await self._publish("queue", conv_id)
        return Handled([text], info)

    async def _while_waiting(self, conv: Conversation, inbound: Inbound) -> Handled:
        text = inbound.to_bot or ""
        conv_id = conv.conv_id
        await self.transcripts.append(conv_id, Line(inbound.received_at, "user", inbound.text_in))
        info: dict[str, Any] = {"conv_id": conv_id, "transcribed": True, "who": "system"}
        if is_cancel(text):
            await self.queue.leave(conv_id)
            await self.redis.delete(key(OFFER, conv_id), key(NOTICE, conv_id))
            await self._rasa_event(inbound.channel, inbound.user_id, "resume")
            await self._record("handoff", inbound.channel, inbound.user_id, conv_id=conv_id, step="left",
                               wait_seconds=round(self.clock() - conv.enqueued_at, 3))
            await self._publish("queue", conv_id)
            return await self._system(conv_id, [replies.LEFT_QUEUE], {**info, "decision": "handoff_left"})
        if await self.redis.get(key(OFFER, conv_id)) is not None:
            return await self._leave_message(conv, inbound, info)
        if any(w in text for w in replies.LEAVE_WORDS):
            await self.redis.set(key(OFFER, conv_id), "asked", ex=OFFER_SECONDS)
            return await self._system(conv_id, [replies.LEAVE_PROMPT], {**info, "decision": "leave_prompt"})
        await self._publish("message", conv_id)
        place = await self.queue.position(conv_id)
        if place is None or not await self._notice_due(conv_id, place.position, force=True):
            return Handled([], {**info, "decision": "to_queue"})
        await self._remember_notice(conv_id, place.position, self.clock())
        return await self._system(conv_id, [replies.queue_update(place.position, place.estimated_wait)],
                                  {**info, "decision": "to_queue"})

    async def _leave_message(self, conv: Conversation, inbound: Inbound, info: dict[str, Any]) -> Handled:
        ticket = await self.queue.to_ticket(conv.conv_id, inbound.text_in)
        await self.redis.delete(key(OFFER, conv.conv_id), key(NOTICE, conv.conv_id))
        await self._rasa_event(inbound.channel, inbound.user_id, "resume")
        due = self.queue.calendar.local(datetime.fromtimestamp(ticket.due_at, UTC))
        await self._record("handoff", inbound.channel, inbound.user_id, conv_id=conv.conv_id, step="ticket",
                           ticket_id=ticket.ticket_id, due_at=_iso(ticket.due_at))
        await self._publish("ticket", conv.conv_id)
        text = replies.ticket_created(ticket.ticket_id, f"{due.month}月{due.day}日 {due:%H:%M}")
        return await self._system(conv.conv_id, [text], {**info, "decision": "ticket"})

    async def _with_agent(self, conv: Conversation, inbound: Inbound) -> Handled:
        conv_id = conv.conv_id
        await self.transcripts.append(conv_id, Line(inbound.received_at, "user", inbound.text_in))
        await self._publish("message", conv_id, conv.agent)
        budget = self.settings.wechat_reply_deadline - (time.time() - inbound.received_at) - PASSIVE_MARGIN
        answer = await self.slot.wait(conv_id, budget)
        info = {"conv_id": conv_id, "transcribed": True, "agent": conv.agent}
        if answer is None:
            return Handled([], {**info, "decision": "to_agent"})
        return Handled([answer], {**info, "decision": "agent", "who": "agent"})

    async def _aftercare(self, conv_id: str, inbound: Inbound) -> Handled | None:
        """A rating the user was asked for, or "有用"/"没用" on the last answer (both flags
        read in one round trip: this runs before every bot turn)."""
        pending, last = await self.redis.mget(key(RATING, conv_id), key(ANSWER, conv_id))
        if pending is not None:
            await self.redis.delete(key(RATING, conv_id))
            rated = await self._rating(conv_id, inbound, json.loads(pending))
            if rated is not None:
                return rated
        if last is None:
            return None
        verdict = parse_feedback(inbound.to_bot or "")
        if verdict is None:
            return None
        answer = json.loads(last)
        await self.redis.delete(key(ANSWER, conv_id))
        await self._record("feedback", inbound.channel, inbound.user_id, helpful=verdict,
                           entry_id=answer.get("entry_id"), question=answer.get("question", ""))
        if not verdict:
            return None  # the bot offers the next candidate or a person
        await self.transcripts.append(conv_id, Line(inbound.received_at, "user", inbound.text_in),
                                      Line(self.clock(), "system", replies.FEEDBACK_THANKS))
        return Handled([replies.FEEDBACK_THANKS], {"decision": "feedback", "transcribed": True, "who": "system"})

    async def after_bot(self, inbound: Inbound, handled: Handled) -> Handled:
        """Ask "was this helpful?" under answers, and for a rating when the user thanks or
        says goodbye after being answered. Best effort: Redis trouble leaves the reply as is."""
        conv_id = self.conv_id_for(inbound.channel, inbound.user_id)
        try:
            if handled.info.get("decision") == "answer" and handled.texts:
                note = json.dumps({"entry_id": handled.info.get("entry_id"), "question": inbound.text_in[:200]},
                                  ensure_ascii=False)
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(key(ANSWER, conv_id), note, ex=RATING_SECONDS)
                    pipe.set(key(ANSWERED, conv_id), "1", ex=RATING_SECONDS)
                    await pipe.execute()
                return Handled([*handled.texts[:-1], handled.texts[-1] + "\n" + replies.FEEDBACK_HINT],
                               handled.info, handled.finished_at)
            if handled.info.get("act") in ("thank", "goodbye") and await self.redis.delete(key(ANSWERED, conv_id)):
                await self.ask_rating(inbound.channel, inbound.user_id, "bot")
                return Handled([*handled.texts, replies.RATING_REQUEST_BOT], handled.info, handled.finished_at)
        except (RedisError, OSError) as exc:
            log.warning("aftercare skipped for %s: %s", conv_id, exc)
        return handled

    async def _rating(self, conv_id: str, inbound: Inbound, after: dict[str, Any]) -> Handled | None:
        rating = parse_rating(inbound.to_bot or "")
        if rating is None:
            return None  # the user moved on: the bot answers
        await self._record("rating", inbound.channel, inbound.user_id, rating=rating, after=after.get("after", "agent"),
                           conv_id=after.get("conv_id"))
        text = replies.rating_thanks(rating)
        await self.transcripts.append(conv_id, Line(inbound.received_at, "user", inbound.text_in),
                                      Line(self.clock(), "system", text))
        return Handled([text], {"decision": "rating", "rating": rating, "label": RATINGS[rating],
                                "transcribed": True, "who": "system"})

    async def ask_rating(self, channel: str, user_id: str, after: str, conv_id: str | None = None) -> None:
        """The user's next message may be a rating (1-4 or the words); anything else goes on."""
        target = self.conv_id_for(channel, user_id)
        await self.redis.set(key(RATING, target), json.dumps({"after": after, "conv_id": conv_id}),
                             ex=RATING_SECONDS)

    # ---- the agents' side ------------------------------------------------------------

    async def transcript(self, conv_id: str, limit: int = 200) -> list[Line]:
        """The user's recent messages, bot replies (with entries) and agent replies, oldest first."""
        try:
            return await self.transcripts.read(conv_id, limit)
        except (RedisError, OSError) as exc:
            raise HandoffUnavailable("transcripts are unavailable") from exc

    async def claim(self, conv_id: str, agent_id: str) -> Conversation:
        """Manual claim; tells the user an agent joined. Raises Conflict/NotFound/AgentUnavailable."""
        conv = await self.queue.claim(conv_id, agent_id)
        await self.on_assigned(conv)
        return conv

    async def on_assigned(self, conv: Conversation) -> None:
        """Whoever assigned it (a claim or round-robin): the user hears who is serving them."""
        agent = await self.queue.get_agent(conv.agent or "")
        name = agent.name if agent else (conv.agent or "")
        await self._guard(self.redis.delete(key(OFFER, conv.conv_id), key(NOTICE, conv.conv_id)))
        waited = (conv.assigned_at or self.clock()) - conv.enqueued_at
        await self._record("handoff", conv.channel, conv.user_id, conv_id=conv.conv_id, step="assigned",
                           agent=conv.agent, wait_seconds=round(max(waited, 0.0), 3))
        await self._tell(conv, replies.agent_joined(name), "assigned")
        await self._publish("assigned", conv.conv_id, conv.agent)

    async def reply(self, conv_id: str, agent_id: str, text: str) -> str:
        """An agent's message to the user; returns the path taken: passive | async | web.
        Raises Conflict when the agent does not hold the conversation."""
        text = text.strip()
        if not text:
            raise ValueError("empty reply")
        conv = await self._held(conv_id, agent_id)
        now = self.clock()
        await self.transcripts.append(conv_id, Line(now, "agent", text, agent=agent_id))
        try:
            path = "passive" if await self.slot.offer(conv_id, text) else await self.delivery.send(
                conv.channel, conv.user_id, [text], f"agent:{uuid.uuid4().hex}")
        except (RedisError, OSError) as exc:
            raise HandoffUnavailable("the reply could not be queued") from exc
        await self._record("agent_message", conv.channel, conv.user_id, conv_id=conv_id, agent=agent_id, text=text,
                           path=path)
        await self._publish("message", conv_id, agent_id)
        return path

    async def transfer(self, conv_id: str, from_agent: str, to_agent: str) -> Conversation:
        conv = await self.queue.transfer(conv_id, from_agent, to_agent)
        agent = await self.queue.get_agent(to_agent)
        await self._record("handoff", conv.channel, conv.user_id, conv_id=conv_id, step="transferred", agent=to_agent)
        await self._tell(conv, replies.agent_transferred(agent.name if agent else to_agent), "transferred")
        await self._publish("transferred", conv_id, to_agent)
        return conv

    async def hand_back(self, conv_id: str, agent_id: str) -> Conversation:
        """Back to the bot: Rasa resumes, the user is told."""
        conv = await self.queue.hand_back(conv_id, agent_id)
        await self._finished(conv, "handed_back", None, None)
        await self._tell(conv, replies.RETURNED_TO_BOT, "returned")
        return conv

    async def close(self, conv_id: str, agent_id: str, outcome: str = "resolved", category: str | None = None,
                    grade: str | None = None) -> Conversation:
        """Finish with an outcome, a knowledge category and a complaint grade (A-D); Rasa
        resumes and the user is asked for a rating."""
        if grade is not None and grade not in GRADES:
            raise ValueError(f"complaint grade must be one of {', '.join(GRADES)}")
        if not outcome or len(outcome) > 40:
            raise ValueError("outcome must be 1-40 characters")
        conv = await self.queue.close(conv_id, agent_id, outcome)
        await self._finished(conv, "closed", category, grade)
        await self.ask_rating(conv.channel, conv.user_id, "agent", conv_id)
        await self._tell(conv, replies.RATING_REQUEST_AGENT, "rating_request")
        return conv

    async def answer_ticket(self, ticket_id: str, agent_id: str, text: str) -> Ticket:
        """Reply to a left message through the user's channel while the user is reachable."""
        text = text.strip()
        if not text:
            raise ValueError("empty answer")
        ticket = await self.queue.answer_ticket(ticket_id, agent_id, text)
        delivered = await self._reachable(ticket.conv_id)
        message = replies.ticket_answer(ticket.ticket_id, text)
        if delivered:
            try:
                await self.delivery.send(ticket.channel, ticket.user_id, [message], f"ticket:{ticket_id}")
            except (RedisError, OSError) as exc:
                raise HandoffUnavailable("the answer could not be queued") from exc
        await self.transcripts.append(ticket.conv_id, Line(self.clock(), "agent", message, agent=agent_id))
        await self._record("ticket_answer", ticket.channel, ticket.user_id, ticket_id=ticket_id,
                           conv_id=ticket.conv_id, agent=agent_id, text=text, delivered=delivered)
        await self._publish("ticket", ticket.conv_id, agent_id)
        return ticket

    # ---- background: assignment, notices, timeouts -----------------------------------

    async def tick(self) -> None:
        """One round of upkeep; several gateways may call it, one at a time runs it."""
        lock = key("handoff", "tick")
        if not await self.redis.set(lock, uuid.uuid4().hex, nx=True, px=900):
            return
        report = await self.queue.sweep()
        for reclaimed in report.reclaimed:
            conv = await self.queue.get(reclaimed.conv_id)
            if conv:
                await self._record("handoff", conv.channel, conv.user_id, conv_id=conv.conv_id, step="reclaimed",
                                   agent=reclaimed.agent)
            await self._publish("queue", reclaimed.conv_id)
        for assignment in await self.queue.assign_waiting():
            conv = await self.queue.get(assignment.conv_id)
            if conv:
                await self.on_assigned(conv)
        for waiting, place in await self.queue.places():
            conv = waiting.conversation
            if await self.redis.get(key(OFFER, conv.conv_id)) is not None:
                continue
            if waiting.waited >= self.settings.handoff_claim_timeout:
                await self.redis.set(key(OFFER, conv.conv_id), "offered", ex=OFFER_SECONDS)
                await self._tell(conv, replies.leave_offer("timeout"), "leave_offer")
                continue
            if await self._notice_due(conv.conv_id, place.position):
                await self._remember_notice(conv.conv_id, place.position, self.clock())
                await self._tell(conv, replies.queue_update(place.position, place.estimated_wait), "position")

    # ---- internals -------------------------------------------------------------------

    async def _held(self, conv_id: str, agent_id: str) -> Conversation:
        conv = await self.queue.get(conv_id)
        if conv is None or conv.state != "assigned" or conv.agent != agent_id:
            state = conv.state if conv else "gone"
            raise Conflict(f"{conv_id} is not held by {agent_id}", state=state, agent=conv.agent if conv else None)
        return conv

    async def _finished(self, conv: Conversation, step: str, category: str | None, grade: str | None) -> None:
        await self._rasa_event(conv.channel, conv.user_id, "resume")
        handled = (conv.closed_at or self.clock()) - (conv.assigned_at or conv.closed_at or self.clock())
        await self._record("handoff", conv.channel, conv.user_id, conv_id=conv.conv_id, step=step, agent=conv.agent,
                           outcome=conv.outcome, category=category, grade=grade,
                           handle_seconds=round(max(handled, 0.0), 3))
        await self._publish("closed", conv.conv_id, conv.agent)

    async def _tell(self, conv: Conversation, text: str, what: str) -> None:
        """A message from the desk to a user, outside any request of theirs."""
        try:
            await self.delivery.send(conv.channel, conv.user_id, [text], f"notice:{uuid.uuid4().hex}")
        except (RedisError, OSError) as exc:
            log.warning("notice %s to %s not sent: %s", what, conv.conv_id, exc)
            return
        await self.transcripts.append(conv.conv_id, Line(self.clock(), "system", text))
        await self._record("notice", conv.channel, conv.user_id, conv_id=conv.conv_id, what=what, text=text)

    async def _system(self, conv_id: str, texts: list[str], info: dict[str, Any]) -> Handled:
        now = self.clock()
        await self.transcripts.append(conv_id, *(Line(now, "system", t) for t in texts))
        return Handled(texts, info)

    async def _notice_due(self, conv_id: str, position: int, force: bool = False) -> bool:
        """A new place is worth a notice at most every HANDOFF_NOTICE_INTERVAL seconds
        (`force`: the user wrote, so the same place may be repeated)."""
        last = as_fields(await self.redis.hgetall(key(NOTICE, conv_id)))
        if not last:  # the user has not been told a place yet: that is start()'s job
            return force
        last_pos, last_at = int(last.get("position") or 0), float(last.get("at") or 0)
        if self.clock() - last_at < self.settings.handoff_notice_interval:
            return False
        return force or position != last_pos

    async def _remember_notice(self, conv_id: str, position: int, at: float) -> None:
        k = key(NOTICE, conv_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(k, mapping={"position": position, "at": at})
            pipe.expire(k, OFFER_SECONDS)
            await pipe.execute()

    async def _reachable(self, conv_id: str) -> bool:
        """WeChat lets an account write to a user within 48 h of their last message."""
        try:
            lines = await self.transcripts.read(conv_id)
        except (RedisError, OSError):
            return True
        last_user = max((line.at for line in lines if line.who == "user"), default=None)
        return last_user is not None and self.clock() - last_user < REACHABLE_SECONDS

    async def resume_rasa(self, channel: str, user_id: str) -> None:
        await self._rasa_event(channel, user_id, "resume")

    async def _rasa_event(self, channel: str, user_id: str, event: str) -> None:
        try:
            await self.rasa.append_event(f"{channel}:{user_id}", {"event": event})
        except RasaUnavailable as exc:
            # routing follows the queue in Redis, so a missed pause only loses Rasa's bookkeeping
            log.warning("Rasa %s for a %s user not recorded: %s", event, channel, exc)

    async def _record(self, kind: str, channel: str, user_id: str, **fields: Any) -> None:
        event = {"kind": kind, "event_key": f"{kind}:{uuid.uuid4().hex}", "channel": channel,
                 "user": self.user_ref(channel, user_id), "at": _iso(self.clock()), **fields}
        await self.records.add(event)

    async def _publish(self, kind: str, conv_id: str, agent: str | None = None) -> None:
        await self._guard(self.redis.publish(EVENTS_CHANNEL, json.dumps({"type": kind, "conv_id": conv_id,
                                                                         "agent": agent})))

    @staticmethod
    async def _guard(awaitable: Any) -> None:
        try:
            await awaitable
        except (RedisError, OSError) as exc:
            log.warning("handoff side effect skipped: %s", exc)
