"""After a run: every message sent has its record, none twice, every message got an answer
(passively or later through the customer-service API), and every user who asked for a
person reached an agent or left a ticket."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from sqlalchemy import select

from bench.load.users import UserLog
from bot.config import Settings
from bot.records.pseudonym import pseudonym
from bot.records.schema import enquiries, messages
from bot.records.store import make_engine

PERSON_DECISIONS = ("to_queue", "to_agent", "ticket", "leave_message", "leave_confirm", "leave_prompt")


@dataclass
class Audit:
    sent: int = 0
    recorded: int = 0
    missing: list[str] = field(default_factory=list)      # MsgIds with no record
    duplicated: list[str] = field(default_factory=list)   # MsgIds recorded more than once
    unanswered: list[str] = field(default_factory=list)   # neither a passive reply nor a later message
    handoffs: int = 0
    reached_agent: int = 0
    reached_ticket: int = 0
    stuck: list[str] = field(default_factory=list)        # queued for a person, reached neither
    not_queued: int = 0                                   # asked while the assistant was down: told to retry

    @property
    def clean(self) -> bool:
        return not (self.missing or self.duplicated or self.unanswered or self.stuck)

    def lines(self) -> list[str]:
        return [
            f"- messages sent: {self.sent}; recorded: {self.recorded}; missing: {len(self.missing)}; "
            f"recorded twice: {len(self.duplicated)}",
            f"- messages left unanswered: {len(self.unanswered)}",
            f"- users who asked for a person: {self.handoffs}; reached an agent: {self.reached_agent}; "
            f"left a ticket: {self.reached_ticket}; not queued (told the service was down, to retry): "
            f"{self.not_queued}; stuck: {len(self.stuck)}",
            f"- verdict: {'nothing lost, nothing doubled, nobody stuck' if self.clean else 'PROBLEMS FOUND'}",
        ]


async def _inbox_counts(settings: Settings, users: list[str]) -> dict[str, int]:
    base = f"http://{settings.host}:{settings.wechat_sim_port}"
    counts: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:
        for user in users:
            async with session.get(f"{base}/sim/inbox/{user}") as resp:
                counts[user] = len(await resp.json()) if resp.status == 200 else 0
    return counts


def _records(settings: Settings, keys: list[str]) -> tuple[Counter[str], set[str]]:
    """How often each user message is stored, and which of them were answered: a reply line
    of their own, or, written while waiting for or talking with a person, an enquiry that an
    agent took or that became a ticket (the person answers those)."""
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            stored: Counter[str] = Counter()
            answered: set[str] = set()
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                query = (select(messages.c.event_key, messages.c.decision, enquiries.c.agent, enquiries.c.ticket_id)
                         .join(enquiries, enquiries.c.id == messages.c.enquiry_id)
                         .where(messages.c.event_key.in_(chunk)))
                for key, decision, agent, ticket in conn.execute(query):
                    stored[key] += 1
                    if decision in PERSON_DECISIONS and (agent or ticket):
                        answered.add(key)
                for (key,) in conn.execute(select(messages.c.event_key).where(
                        messages.c.event_key.like("msg:%#%"))):
                    answered.add(key.split("#", 1)[0])
            return stored, answered
    finally:
        engine.dispose()


def _handoff_outcomes(settings: Settings, users: list[str]) -> dict[str, tuple[bool, bool]]:
    """Per user whose request was queued: (an agent took it, a ticket was left). A user whose
    request could not be queued (the assistant was down) was told so and is not listed."""
    names = {pseudonym(settings.pseudonym_key, "wechat", u): u for u in users}
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(enquiries.c.user, enquiries.c.agent, enquiries.c.ticket_id, enquiries.c.assigned_at)
                                .where(enquiries.c.user.in_(list(names)), enquiries.c.handed_off.is_(True)))
            out: dict[str, tuple[bool, bool]] = {}
            for user, agent, ticket, assigned in rows:
                agent_seen, ticket_seen = out.get(names[user], (False, False))
                out[names[user]] = (agent_seen or bool(agent or assigned), ticket_seen or bool(ticket))
            return out
    finally:
        engine.dispose()


async def audit(settings: Settings, logs: list[UserLog], settle: float = 60.0) -> Audit:
    """Waits up to `settle` seconds for writers, deliveries and agents to catch up."""
    sent = [s for log in logs for s in log.sent if s.status == 200]
    keys = [f"msg:{s.msg_id}" for s in sent]
    result = Audit(sent=len(sent))
    deadline = time.monotonic() + settle
    while True:
        stored, answered = await asyncio.to_thread(_records, settings, keys)
        asked = [log.user for log in logs if log.asked_human]
        outcomes = await asyncio.to_thread(_handoff_outcomes, settings, asked)
        inbox = await _inbox_counts(settings, [log.user for log in logs if any(not s.passive for s in log.sent)])
        missing = [k for k in keys if stored[k] == 0]
        stuck = [u for u in asked if u in outcomes and not any(outcomes[u])]
        unanswered = []
        for log in logs:
            # a message not answered in its HTTP reply must have been answered later: a reply
            # line in the records and a customer-service message in the user's inbox
            later = [f"msg:{s.msg_id}" for s in log.sent if s.status == 200 and not s.passive]
            if later and inbox.get(log.user, 0) == 0:
                unanswered.extend(later)
            else:
                unanswered.extend(k for k in later if k not in answered)
        if (not missing and not stuck and not unanswered) or time.monotonic() > deadline:
            break
        await asyncio.sleep(2.0)
    result.recorded = sum(1 for k in keys if stored[k])
    result.missing = missing
    result.duplicated = [k for k in keys if stored[k] > 1]
    result.unanswered = unanswered
    result.handoffs = len(asked)
    result.reached_agent = sum(1 for u in asked if outcomes.get(u, (False, False))[0])
    result.reached_ticket = sum(1 for u in asked if outcomes.get(u, (False, False))[1])
    result.stuck = stuck
    result.not_queued = sum(1 for u in asked if u not in outcomes)
    return result
