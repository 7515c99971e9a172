"""One handler per conversation state: what the user's message does, what to say, and
the state that follows.

Who answers what:

- **Rasa** (the bot handler) answers every text while the bot holds the conversation,
  and whatever a pending question does not take: "没用" after an answer is recorded and
  then goes to Rasa too (it offers the next candidate or a person).
- **The gateway** answers, with the desk's own texts, only what Rasa must not see: the
  user's messages while Rasa is paused for a handoff (queue, offer, agent) and the
  replies to the desk's own questions (a rating 1-4, "有用"). Channel events and message
  types Rasa cannot read never reach a handler (`bot.gateway.messages`).

A handler either returns a `Turn` (the reply and the state change to write, if any) or
passes the message on (`PassOn`) with the state as it is once its pending question is
dropped; the router then calls the handler of that state. Queue steps change the state
inside the queue's scripts, so their handlers return no change of their own.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.exceptions import RedisError

from bot import replies
from bot.gateway.handoff_flow import HandoffFlow, iso
from bot.gateway.messages import Handled, Inbound
from bot.gateway.rasa_turn import RasaTurn
from bot.gateway.state import (
    Change,
    ConvState,
    answered_change,
    pending_dropped,
    rating_asked_change,
)
from bot.gateway.transcript import Line
from bot.gateway.words import (
    asks_to_leave_message,
    is_cancel,
    is_confirm,
    parse_feedback,
    parse_rating,
)
from bot.handoff import Conversation, HandoffUnavailable
from bot.handoff.models import REASONS
from bot.records.events import RATINGS

log = logging.getLogger("patentdesk.handoff")

PASSIVE_MARGIN = 0.3  # seconds kept free before the platform's deadline


@dataclass
class Turn:
    handled: Handled
    change: Change | None = None  # None: unchanged, or changed by the queue's scripts


@dataclass
class PassOn:
    """Not for this state: handle the message in `state`, after applying `change`."""

    state: ConvState
    change: Change | None = None


class Handler(Protocol):
    async def handle(self, inbound: Inbound, state: ConvState) -> Turn | PassOn: ...


# ---- the bot holds the conversation --------------------------------------------------


class BotHandler:
    """Rasa answers. A `handoff` decision queues the user; an answer opens "was this
    helpful?"; thanks or goodbye after an answer asks for a rating."""

    def __init__(self, desk: HandoffFlow, rasa: RasaTurn) -> None:
        self.desk = desk
        self.rasa = rasa

    async def handle(self, inbound: Inbound, state: ConvState) -> Turn:
        handled = await self.rasa.ask(inbound)
        if not handled.texts:
            # Rasa still paused although no person holds the conversation (the queue was
            # lost, or Redis is down): resume it, so the user is answered, not ignored.
            await self.desk.rasa_event(inbound.channel, inbound.user_id, "resume")
            handled = await self.rasa.ask(inbound)
        if not handled.texts:
            # Rasa answered but said nothing: its action server failed (found by the load
            # suite killing it). Silence would leave the user waiting; say so politely.
            log.error("assistant gave no reply for %s (action server down?)", inbound.msg_key)
            return Turn(Handled([replies.ASSISTANT_UNAVAILABLE], {"decision": "unavailable"}))
        if handled.info.get("decision") == "handoff":
            return Turn(await self.hand_off(inbound, handled, state.conv_id))
        if not state.known:
            return Turn(handled)  # Redis is down: nothing pending can be kept, so nothing is asked
        now = self.desk.clock()
        if handled.info.get("decision") == "answer":
            return Turn(Handled([*handled.texts[:-1], handled.texts[-1] + "\n" + replies.FEEDBACK_HINT],
                                handled.info, handled.finished_at),
                        answered_change(handled.info.get("entry_id"), inbound.text_in, now))
        if handled.info.get("act") in ("thank", "goodbye") and state.answered:
            return Turn(Handled([*handled.texts, replies.RATING_REQUEST_BOT], handled.info, handled.finished_at),
                        rating_asked_change(now))
        return Turn(handled)

    async def hand_off(self, inbound: Inbound, handled: Handled, conv_id: str) -> Handled:
        """The bot decided to hand off: queue (the queue's script makes the queue the
        holder), pause Rasa, tell the user where they stand or offer to leave a message."""
        desk = self.desk
        reason = str(handled.info.get("reason") or "request")
        teams = desk.queue.teams
        # the bot names a team for a technical problem; an unknown name goes to the default team
        team = teams.get(str(handled.info.get("team") or ""))
        now = desk.clock()
        try:
            enqueued = await desk.queue.enqueue(conv_id, channel=inbound.channel, user_id=inbound.user_id,
                                                reason=reason if reason in REASONS else "request",
                                                summary=inbound.text_in[:200], team=team.team_id)
            team = teams.get(enqueued.conversation.team)  # one already waiting keeps its team
            place = await desk.queue.position(conv_id)
        except (HandoffUnavailable, RedisError, OSError) as exc:
            log.warning("handoff for %s impossible (%s); the user is told", conv_id, exc)
            return Handled([replies.HANDOFF_UNAVAILABLE], {**handled.info, "decision": "handoff_unavailable"})
        await desk.rasa_event(inbound.channel, inbound.user_id, "pause")
        info = {**handled.info, "conv_id": conv_id, "transcribed": True, "team": team.team_id}
        await desk.transcripts.append(conv_id, Line(inbound.received_at, "user", inbound.text_in))
        other_team = None if team.team_id == teams.default else team.name
        hours, days = replies.team_hours(team.calendar.opens, team.calendar.closes), team.ticket_working_days
        if not team.calendar.is_open(datetime.fromtimestamp(now, UTC)):
            text = replies.leave_offer("closed", other_team, hours, days)
            await desk.queue.offer_message(conv_id, "offered")
        elif place is None or not place.online_agents:
            text = replies.leave_offer("busy", other_team, hours, days)
            await desk.queue.offer_message(conv_id, "offered")
        else:
            text = replies.handoff_queued(reason == "complaint", place.position, place.estimated_wait, other_team)
            await desk.queue.remember_notice(conv_id, place.position, now)
        await desk.transcripts.append(conv_id, Line(now, "system", text))
        if enqueued.created:
            await desk.record("handoff", inbound.channel, inbound.user_id, conv_id=conv_id, step="queued",
                              reason=reason, team=team.team_id)
        await desk.publish("queue", conv_id)
        return Handled([text], info)


# ---- pending questions: "was this helpful?" and a rating -------------------------------


class FeedbackHandler:
    """After an answer: "有用" is thanked for; "没用" is recorded and goes on to Rasa;
    anything else goes to Rasa, and the question stays open until the next answer."""

    def __init__(self, desk: HandoffFlow) -> None:
        self.desk = desk

    async def handle(self, inbound: Inbound, state: ConvState) -> Turn | PassOn:
        verdict = parse_feedback(inbound.to_bot or "")
        if verdict is None or state.answer is None:
            return PassOn(state.after_pending())  # to Rasa; the question stays open
        desk = self.desk
        await desk.record("feedback", inbound.channel, inbound.user_id, helpful=verdict,
                          entry_id=state.answer.entry_id, question=state.answer.question)
        if not verdict:
            return PassOn(state.after_pending(), pending_dropped(state))  # the bot offers the next candidate
        await desk.transcripts.append(state.conv_id, Line(inbound.received_at, "user", inbound.text_in),
                                      Line(desk.clock(), "system", replies.FEEDBACK_THANKS))
        return Turn(Handled([replies.FEEDBACK_THANKS], {"decision": "feedback", "transcribed": True, "who": "system"}),
                    pending_dropped(state))


class RatingHandler:
    """A rating was asked for (after an agent closed, or after thanks): 1-4 or the words
    are recorded and thanked for; anything else drops the question and goes on."""

    def __init__(self, desk: HandoffFlow) -> None:
        self.desk = desk

    async def handle(self, inbound: Inbound, state: ConvState) -> Turn | PassOn:
        rating = parse_rating(inbound.to_bot or "")
        if rating is None or state.rating is None:
            return PassOn(state.after_pending(), pending_dropped(state))  # the user moved on
        desk = self.desk
        await desk.record("rating", inbound.channel, inbound.user_id, rating=rating, after=state.rating.after,
                          conv_id=state.rating.conv_id)
        text = replies.rating_thanks(rating)
        # an unhappy rating is followed up later, perhaps after 48 hours: ask to allow a notice
        texts = [text, *desk.notice_ask(inbound.channel)] if rating >= 4 else [text]
        await desk.transcripts.append(state.conv_id, Line(inbound.received_at, "user", inbound.text_in),
                                      Line(desk.clock(), "system", text))
        return Turn(Handled(texts, {"decision": "rating", "rating": rating, "label": RATINGS[rating],
                                     "transcribed": True, "who": "system"}), pending_dropped(state))


# ---- the queue, an offer to leave a message, an agent (Rasa is paused) ----------------


async def leave_queue(desk: HandoffFlow, conv: Conversation, inbound: Inbound, info: dict[str, Any]) -> Handled:
    """"取消" / "算了" while waiting: out of the queue (its script gives the bot the
    conversation back), Rasa resumes."""
    await desk.queue.leave(conv.conv_id)
    await desk.rasa_event(inbound.channel, inbound.user_id, "resume")
    await desk.record("handoff", inbound.channel, inbound.user_id, conv_id=conv.conv_id, step="left",
                      wait_seconds=round(desk.clock() - conv.enqueued_at, 3))
    await desk.publish("queue", conv.conv_id)
    return await desk.system(conv.conv_id, [replies.LEFT_QUEUE], {**info, "decision": "handoff_left"})


def _waiting_info(conv: Conversation) -> dict[str, Any]:
    return {"conv_id": conv.conv_id, "transcribed": True, "who": "system"}


class QueueHandler:
    """Waiting for a person: the words go to the transcript the agent will read; "取消"
    leaves, "留言" asks to leave a message; the place is repeated when it is news."""

    def __init__(self, desk: HandoffFlow) -> None:
        self.desk = desk

    async def handle(self, inbound: Inbound, state: ConvState) -> Turn:
        desk, conv = self.desk, state.conversation
        assert conv is not None
        text = inbound.to_bot or ""
        await desk.transcripts.append(conv.conv_id, Line(inbound.received_at, "user", inbound.text_in))
        info = _waiting_info(conv)
        if is_cancel(text):
            return Turn(await leave_queue(desk, conv, inbound, info))
        if asks_to_leave_message(text) and await desk.queue.offer_message(conv.conv_id, "asked"):
            return Turn(await desk.system(conv.conv_id, [replies.LEAVE_PROMPT], {**info, "decision": "leave_prompt"}))
        await desk.publish("message", conv.conv_id)
        place = await desk.queue.position(conv.conv_id)
        if place is None or not desk.notice_due(conv, place.position, force=True):
            return Turn(Handled([], {**info, "decision": "to_queue"}))
        await desk.queue.remember_notice(conv.conv_id, place.position, desk.clock())
        return Turn(await desk.system(conv.conv_id, [replies.queue_update(place.position, place.estimated_wait)],
                                      {**info, "decision": "to_queue"}))


CONTEXT_LINES = 30  # the conversation a ticket keeps from before the left message


class OfferHandler:
    """Waiting, and offered (or asked) to leave a message. A message is left only on
    purpose (one load run left 34 knowledge questions as messages): a question the bot
    answers confidently is answered and the offer stays open; anything else is echoed
    back and added to the draft, which becomes a ticket when the user confirms ("1");
    "取消" leaves. Confirming ends the wait (the queue's script gives the bot the
    conversation back)."""

    def __init__(self, desk: HandoffFlow, rasa: RasaTurn) -> None:
        self.desk = desk
        self.rasa = rasa

    async def handle(self, inbound: Inbound, state: ConvState) -> Turn:
        desk, conv = self.desk, state.conversation
        assert conv is not None
        text = inbound.to_bot or ""
        await desk.transcripts.append(conv.conv_id, Line(inbound.received_at, "user", inbound.text_in))
        info = _waiting_info(conv)
        if is_cancel(text):
            return Turn(await leave_queue(desk, conv, inbound, info))
        if is_confirm(text):
            if conv.draft:
                return Turn(await self.leave_message(inbound, conv, conv.draft, info))
            # "1" with nothing to confirm: ask for the message rather than leave "1"
            return Turn(await desk.system(conv.conv_id, [replies.LEAVE_PROMPT], {**info, "decision": "leave_prompt"}))
        answer = await self.confident_answer(inbound)
        if answer is not None:
            texts = [*answer.texts, replies.LEAVE_DRAFT_PENDING if conv.draft else replies.LEAVE_STILL_OPEN]
            await desk.transcripts.append(conv.conv_id, *(
                Line(desk.clock(), "bot", t, decision="answer", entry_id=answer.info.get("entry_id"),
                     confidence=answer.info.get("confidence")) for t in texts))
            return Turn(Handled(texts, {**answer.info, **info, "who": "bot", "offer": "open"}, answer.finished_at))
        draft = f"{conv.draft}\n{inbound.text_in}" if conv.draft else inbound.text_in
        if not await desk.queue.keep_draft(conv.conv_id, draft):
            # an agent took the conversation meanwhile: the words are in the transcript they read
            return Turn(Handled([], {**info, "decision": "to_queue"}))
        return Turn(await desk.system(conv.conv_id, [replies.leave_confirm(draft)],
                                      {**info, "decision": "leave_confirm"}))

    async def confident_answer(self, inbound: Inbound) -> Handled | None:
        """Rasa's answer when it is a confident knowledge answer (decision "answer"); Rasa is
        paused for the handoff, so it is resumed for this one turn and paused again."""
        if not (inbound.to_bot or "").strip() or is_confirm(inbound.to_bot or ""):
            return None
        desk = self.desk
        await desk.rasa_event(inbound.channel, inbound.user_id, "resume")
        try:
            handled = await self.rasa.ask(inbound)
        finally:
            await desk.rasa_event(inbound.channel, inbound.user_id, "pause")
        if handled.info.get("decision") == "answer" and handled.texts:
            return handled
        return None

    async def leave_message(self, inbound: Inbound, conv: Conversation, message: str,
                            info: dict[str, Any]) -> Handled:
        """The confirmed draft becomes a ticket, with the conversation before it."""
        desk = self.desk
        try:
            before = await desk.transcripts.read(conv.conv_id, CONTEXT_LINES)
        except (RedisError, OSError):
            before = []
        context = json.dumps([{"at": line.at, "who": line.who, "text": line.text} for line in before[:-1]],
                             ensure_ascii=False)
        ticket = await desk.queue.to_ticket(conv.conv_id, message, context)
        await desk.rasa_event(inbound.channel, inbound.user_id, "resume")
        team = desk.queue.teams.get(ticket.team)
        due = team.calendar.local(datetime.fromtimestamp(ticket.due_at, UTC))
        await desk.record("handoff", inbound.channel, inbound.user_id, conv_id=conv.conv_id, step="ticket",
                          ticket_id=ticket.ticket_id, due_at=iso(ticket.due_at), team=team.team_id)
        await desk.publish("ticket", conv.conv_id)
        text = replies.ticket_created(ticket.ticket_id, f"{due.month}月{due.day}日 {due:%H:%M}")
        texts = [text, *desk.notice_ask(inbound.channel)]  # the answer may come after 48 hours
        return await desk.system(conv.conv_id, texts, {**info, "decision": "ticket"})


class AgentHandler:
    """With an agent: the message goes to the console; the agent's reply is the passive
    reply when it comes within the platform's deadline, else it goes out later."""

    def __init__(self, desk: HandoffFlow) -> None:
        self.desk = desk

    async def handle(self, inbound: Inbound, state: ConvState) -> Turn:
        desk, conv = self.desk, state.conversation
        assert conv is not None
        await desk.transcripts.append(conv.conv_id, Line(inbound.received_at, "user", inbound.text_in))
        await desk.publish("message", conv.conv_id, conv.agent)
        budget = desk.settings.wechat_reply_deadline - (time.time() - inbound.received_at) - PASSIVE_MARGIN
        answer = await desk.slot.wait(conv.conv_id, budget)
        info = {"conv_id": conv.conv_id, "transcribed": True, "agent": conv.agent}
        if answer is None:
            return Turn(Handled([], {**info, "decision": "to_agent"}))
        return Turn(Handled([answer], {**info, "decision": "agent", "who": "agent"}))


def handlers_for(desk: HandoffFlow, rasa: RasaTurn) -> dict[str, Handler]:
    """The handler of each state (`bot.gateway.state.HOLDERS`)."""
    return {"bot": BotHandler(desk, rasa), "feedback": FeedbackHandler(desk), "rating": RatingHandler(desk),
            "queue": QueueHandler(desk), "offer": OfferHandler(desk, rasa), "agent": AgentHandler(desk)}
