"""The desk's side of a conversation with people: what agents do and what the user hears.

The queue (`bot.handoff`) knows who waits and who holds what, and its scripts set who
holds each user's conversation (`bot.gateway.state`); this module adds what the user,
the console and Rasa see around it:

- an agent claims (or upkeep assigns) a waiting conversation -> the user hears who serves
  them; the agent's replies go back as the passive reply to a waiting request when in
  time, else through the channel (customer-service message, web inbox);
- transfer to a colleague, or to another team's queue with a note that travels with the
  transcript (and a left message to another team the same way);
- hand back or close -> Rasa resumes; after a close the user is asked for a
  rating (the queue's close script makes the rating the pending question);
- left messages answered from the console; the upkeep round (dead leases, waiting users
  of teams removed from the teams file, round-robin, queue notices, the offer to leave a
  message after HANDOFF_CLAIM_TIMEOUT).

The user's side (what each of their messages does while they wait, talk with an agent
or owe an answer to a pending question) is in `bot.gateway.handlers`, picked by
`bot.gateway.router`; both use the helpers here (records, live events, transcript lines,
Rasa's pause flag).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot import replies
from bot.config import Settings
from bot.gateway.delivery import AgentReplySlot, Delivery
from bot.gateway.messages import Handled
from bot.gateway.state import PENDING_SECONDS
from bot.gateway.transcript import Line, Transcripts
from bot.handoff import Conflict, Conversation, HandoffQueue, HandoffUnavailable, NotFound, Ticket
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.records.buffer import RecordBuffer
from bot.records.pseudonym import pseudonym
from bot.redis_keys import key

if TYPE_CHECKING:
    from bot.gateway.notices import Notices

log = logging.getLogger("patentdesk.handoff")

EVENTS_CHANNEL = key("handoff", "events")
"""Redis pub/sub channel; each message is JSON {"type": ..., "conv_id": ..., "agent": ...}
with type one of queue | assigned | message | closed | transferred | ticket | agent."""

GRADES: dict[str, str] = {"A": "轻微", "B": "一般", "C": "严重", "D": "特别严重"}  # complaint grades
REACHABLE_SECONDS = 48 * 3600  # WeChat's customer-service window after the user's last message
ORPHANS_EVERY = 60.0  # seconds between looks for waiting users of removed teams (a Redis SCAN)

__all__ = ["EVENTS_CHANNEL", "GRADES", "HandoffFlow", "Line"]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


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
        # WeChat past the 48-hour window: subscription notices (None: no template configured)
        self.notices: Notices | None = None
        # when upkeep next looks for removed teams' waiting users (monotonic; 0: next round)
        self.orphans_due = 0.0

    # ---- identities ------------------------------------------------------------------

    def user_ref(self, channel: str, user_id: str) -> str:
        return pseudonym(self.settings.pseudonym_key, channel, user_id)

    def conv_id_for(self, channel: str, user_id: str) -> str:
        """One queue entry per user and channel, named by the pseudonym (no OpenID in ids)."""
        return f"{channel}-{self.user_ref(channel, user_id)}"

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
        waited = (conv.assigned_at or self.clock()) - conv.enqueued_at
        await self.record("handoff", conv.channel, conv.user_id, conv_id=conv.conv_id, step="assigned",
                           agent=conv.agent, wait_seconds=round(max(waited, 0.0), 3), team=self._team(conv.team))
        await self.tell(conv, replies.agent_joined(name), "assigned")
        await self.publish("assigned", conv.conv_id, conv.agent)

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
        await self.record("agent_message", conv.channel, conv.user_id, conv_id=conv_id, agent=agent_id, text=text,
                           path=path)
        await self.publish("message", conv_id, agent_id)
        return path

    async def transfer(self, conv_id: str, from_agent: str, to_agent: str) -> Conversation:
        conv = await self.queue.transfer(conv_id, from_agent, to_agent)
        agent = await self.queue.get_agent(to_agent)
        await self.record("handoff", conv.channel, conv.user_id, conv_id=conv_id, step="transferred", agent=to_agent)
        await self.tell(conv, replies.agent_transferred(agent.name if agent else to_agent), "transferred")
        await self.publish("transferred", conv_id, to_agent)
        return conv

    async def transfer_team(self, conv_id: str, from_agent: str, team: str, note: str) -> Conversation:
        """To another team's queue: the note goes into the transcript the next agent reads,
        the user is told who will help, and the team's members are offered it as usual.
        Raises Conflict / NotFound / ValueError (unknown team, empty note)."""
        note = note.strip()
        if not note:
            raise ValueError("a transfer between teams needs a note")
        before = await self.queue.get(conv_id)
        conv = await self.queue.transfer_team(conv_id, from_agent, team, note)
        teams = self.queue.teams
        source = teams.name(before.team if before else None)
        await self.transcripts.append(conv_id, Line(self.clock(), "note", note, agent=from_agent,
                                                    decision=f"{source} → {teams.name(conv.team)}"))
        await self.record("handoff", conv.channel, conv.user_id, conv_id=conv_id, step="team_transferred",
                           agent=from_agent, team=conv.team, from_team=self._team(before.team if before else None),
                           note=note)
        await self.tell(conv, replies.team_transferred(teams.name(conv.team)), "team_transferred")
        await self.publish("transferred", conv_id)
        return conv

    async def transfer_ticket(self, ticket_id: str, agent_id: str, team: str, note: str) -> Ticket:
        """A left message to another team, with a note kept on the ticket and in the transcript."""
        note = note.strip()
        if not note:
            raise ValueError("a transfer between teams needs a note")
        before = await self.queue.get_ticket(ticket_id)
        if before is None:
            raise NotFound(f"no such ticket: {ticket_id}")
        teams = self.queue.teams
        line = json.dumps({"from": self._team(before.team), "to": team, "by": agent_id, "note": note,
                           "at": self.clock()}, ensure_ascii=False)
        ticket = await self.queue.transfer_ticket(ticket_id, team, line)
        await self.transcripts.append(ticket.conv_id, Line(self.clock(), "note", note, agent=agent_id,
                                                           decision=f"{teams.name(before.team)} → {teams.name(team)}"))
        await self.record("handoff", ticket.channel, ticket.user_id, step="ticket_transfer", ticket_id=ticket_id,
                           conv_id=ticket.conv_id, agent=agent_id, team=ticket.team,
                           from_team=self._team(before.team), note=note)
        await self.publish("ticket", ticket.conv_id, agent_id)
        return ticket

    def _team(self, team_id: str | None) -> str:
        """The team id as recorded: a record from before teams belongs to the default team."""
        return self.queue.teams.get(team_id).team_id

    async def hand_back(self, conv_id: str, agent_id: str) -> Conversation:
        """Back to the bot: Rasa resumes, the user is told."""
        conv = await self.queue.hand_back(conv_id, agent_id)
        await self._finished(conv, "handed_back", None, None)
        await self.tell(conv, replies.RETURNED_TO_BOT, "returned")
        return conv

    async def close(self, conv_id: str, agent_id: str, outcome: str = "resolved", category: str | None = None,
                    grade: str | None = None) -> Conversation:
        """Finish with an outcome, a knowledge category and a complaint grade (A-D); Rasa
        resumes and the user is asked for a rating."""
        if grade is not None and grade not in GRADES:
            raise ValueError(f"complaint grade must be one of {', '.join(GRADES)}")
        if not outcome or len(outcome) > 40:
            raise ValueError("outcome must be 1-40 characters")
        conv = await self.queue.close(conv_id, agent_id, outcome, rating_seconds=PENDING_SECONDS)
        await self._finished(conv, "closed", category, grade)
        await self.tell(conv, replies.RATING_REQUEST_AGENT, "rating_request")
        return conv

    async def answer_ticket(self, ticket_id: str, agent_id: str, text: str, resolution: str = "resolved") -> Ticket:
        """Reply to a left message through the user's channel while the user is reachable,
        closing it with a resolution (resolved, follow_up, ...)."""
        text = text.strip()
        if not text:
            raise ValueError("empty answer")
        if not resolution or len(resolution) > 40:
            raise ValueError("resolution must be 1-40 characters")
        ticket = await self.queue.answer_ticket(ticket_id, agent_id, text, resolution)
        # past the 48-hour window a WeChat answer still goes out: the outbox sends it as a
        # subscription notice when the platform refuses the customer-service message
        delivered = await self._reachable(ticket.conv_id) or (ticket.channel == "wechat" and self.notices is not None)
        message = replies.ticket_answer(ticket.ticket_id, text)
        await self.transcripts.append(ticket.conv_id, Line(self.clock(), "agent", message, agent=agent_id))
        # recorded before it is queued, so the outbox's delivery record always finds it
        await self.record("ticket_answer", ticket.channel, ticket.user_id, ticket_id=ticket_id,
                           conv_id=ticket.conv_id, agent=agent_id, text=text, delivered=delivered,
                           team=self._team(ticket.team), resolution=resolution,
                           overdue=ticket.answered_at is not None and ticket.answered_at > ticket.due_at)
        if delivered:
            try:
                await self.delivery.send(ticket.channel, ticket.user_id, [message], f"ticket:{ticket_id}")
            except (RedisError, OSError) as exc:
                raise HandoffUnavailable("the answer could not be queued") from exc
        await self.publish("ticket", ticket.conv_id, agent_id)
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
                await self.record("handoff", conv.channel, conv.user_id, conv_id=conv.conv_id, step="reclaimed",
                                   agent=reclaimed.agent)
            await self.publish("queue", reclaimed.conv_id)
        if time.monotonic() >= self.orphans_due:  # after the sweep: it may requeue into a removed team's set
            self.orphans_due = time.monotonic() + ORPHANS_EVERY
            await self.adopt_orphans()
        for assignment in await self.queue.assign_waiting():
            conv = await self.queue.get(assignment.conv_id)
            if conv:
                await self.on_assigned(conv)
        for waiting, place in await self.queue.places():
            conv = waiting.conversation  # read with its state: offer and last notice included
            if conv.offer is not None:
                continue
            if waiting.waited >= self.settings.handoff_claim_timeout:
                if await self.queue.offer_message(conv.conv_id, "offered"):
                    team = self.queue.teams.get(conv.team)
                    await self.tell(conv, replies.leave_offer("timeout", days=team.ticket_working_days), "leave_offer")
                continue
            if self.notice_due(conv, place.position):
                await self.queue.remember_notice(conv.conv_id, place.position, self.clock())
                await self.tell(conv, replies.queue_update(place.position, place.estimated_wait), "position")

    async def adopt_orphans(self) -> list[str]:
        """Waiting users of teams removed from the teams file join the default team's queue at
        their places (else no console would list them); the consoles refresh."""
        adopted = await self.queue.adopt_orphans()
        for conv_id in adopted:
            await self.publish("queue", conv_id)
        return adopted

    # ---- internals -------------------------------------------------------------------

    async def _held(self, conv_id: str, agent_id: str) -> Conversation:
        conv = await self.queue.get(conv_id)
        if conv is None or conv.state != "assigned" or conv.agent != agent_id:
            state = conv.state if conv else "gone"
            raise Conflict(f"{conv_id} is not held by {agent_id}", state=state, agent=conv.agent if conv else None)
        return conv

    async def _finished(self, conv: Conversation, step: str, category: str | None, grade: str | None) -> None:
        await self.rasa_event(conv.channel, conv.user_id, "resume")
        handled = (conv.closed_at or self.clock()) - (conv.assigned_at or conv.closed_at or self.clock())
        await self.record("handoff", conv.channel, conv.user_id, conv_id=conv.conv_id, step=step, agent=conv.agent,
                           outcome=conv.outcome, category=category, grade=grade,
                           handle_seconds=round(max(handled, 0.0), 3))
        await self.publish("closed", conv.conv_id, conv.agent)

    async def tell(self, conv: Conversation, text: str, what: str) -> None:
        """A message from the desk to a user, outside any request of theirs."""
        try:
            await self.delivery.send(conv.channel, conv.user_id, [text], f"notice:{uuid.uuid4().hex}")
        except (RedisError, OSError) as exc:
            log.warning("notice %s to %s not sent: %s", what, conv.conv_id, exc)
            return
        await self.transcripts.append(conv.conv_id, Line(self.clock(), "system", text))
        await self.record("notice", conv.channel, conv.user_id, conv_id=conv.conv_id, what=what, text=text)

    async def system(self, conv_id: str, texts: list[str], info: dict[str, Any]) -> Handled:
        """The desk's own reply to the user's message, kept in the transcript."""
        now = self.clock()
        await self.transcripts.append(conv_id, *(Line(now, "system", t) for t in texts))
        return Handled(texts, info)

    def notice_due(self, conv: Conversation, position: int, force: bool = False) -> bool:
        """A new place is worth a notice at most every HANDOFF_NOTICE_INTERVAL seconds
        (`force`: the user wrote, so the same place may be repeated)."""
        if conv.notice_at is None:  # the user has not been told a place yet: that is the hand-off's job
            return force
        if self.clock() - conv.notice_at < self.settings.handoff_notice_interval:
            return False
        return force or position != conv.notice_position

    async def _reachable(self, conv_id: str) -> bool:
        """WeChat lets an account write to a user within 48 h of their last message."""
        try:
            lines = await self.transcripts.read(conv_id)
        except (RedisError, OSError):
            return True
        last_user = max((line.at for line in lines if line.who == "user"), default=None)
        return last_user is not None and self.clock() - last_user < REACHABLE_SECONDS

    def notice_ask(self, channel: str) -> list[str]:
        """Where a reply may come after 48 hours: ask a WeChat user to allow one notice."""
        return [self.notices.ask()] if channel == "wechat" and self.notices is not None else []

    async def rasa_event(self, channel: str, user_id: str, event: str) -> None:
        try:
            await self.rasa.append_event(f"{channel}:{user_id}", {"event": event})
        except RasaUnavailable as exc:
            # routing follows the queue in Redis, so a missed pause only loses Rasa's bookkeeping
            log.warning("Rasa %s for a %s user not recorded: %s", event, channel, exc)

    async def record(self, kind: str, channel: str, user_id: str, **fields: Any) -> None:
        event = {"kind": kind, "event_key": f"{kind}:{uuid.uuid4().hex}", "channel": channel,
                 "user": self.user_ref(channel, user_id), "at": iso(self.clock()), **fields}
        await self.records.add(event)

    async def publish(self, kind: str, conv_id: str, agent: str | None = None) -> None:
        await self._guard(self.redis.publish(EVENTS_CHANNEL, json.dumps({"type": kind, "conv_id": conv_id,
                                                                         "agent": agent})))

    @staticmethod
    async def _guard(awaitable: Any) -> None:
        try:
            await awaitable
        except (RedisError, OSError) as exc:
            log.warning("handoff side effect skipped: %s", exc)
