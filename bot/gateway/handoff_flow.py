"""A conversation's life with people, as the gateway and the agent console see it.

INTERFACE DRAFT (implementation in progress): the signatures below are the contract the
console codes against.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.handoff import Conversation, HandoffQueue, Ticket

EVENTS_CHANNEL = "patentdesk:handoff:events"
"""Redis pub/sub channel; each message is JSON {"type": ..., "conv_id": ..., "agent": ...}
with type one of queue | assigned | message | closed | transferred | ticket | agent."""


@dataclass(frozen=True)
class Line:
    """One line of a user's transcript as the agent sees it."""

    at: float  # seconds since the epoch
    who: str  # user | bot | agent | system
    text: str
    agent: str | None = None
    decision: str | None = None  # bot lines: answer | clarify | handoff | ...
    entry_id: str | None = None  # bot lines: the knowledge entry used
    confidence: float | None = None


class HandoffFlow:
    queue: HandoffQueue

    async def transcript(self, conv_id: str, limit: int = 200) -> list[Line]:
        """The user's recent messages, bot replies (with entries) and agent replies, oldest first."""
        raise NotImplementedError

    async def claim(self, conv_id: str, agent_id: str) -> Conversation:
        """Manual claim; tells the user an agent joined. Raises Conflict/NotFound/AgentUnavailable."""
        raise NotImplementedError

    async def reply(self, conv_id: str, agent_id: str, text: str) -> str:
        """An agent's message to the user; returns the path taken: passive | async | web.
        Raises Conflict when the agent does not hold the conversation."""
        raise NotImplementedError

    async def transfer(self, conv_id: str, from_agent: str, to_agent: str) -> Conversation:
        raise NotImplementedError

    async def hand_back(self, conv_id: str, agent_id: str) -> Conversation:
        """Back to the bot: Rasa resumes, the user is told."""
        raise NotImplementedError

    async def close(self, conv_id: str, agent_id: str, outcome: str = "resolved", category: str | None = None,
                    grade: str | None = None) -> Conversation:
        """Finish with an outcome, a knowledge category and a complaint grade (A-D); Rasa
        resumes and the user is asked for a rating."""
        raise NotImplementedError

    async def answer_ticket(self, ticket_id: str, agent_id: str, text: str) -> Ticket:
        """Reply to a left message through the user's channel (customer-service message)."""
        raise NotImplementedError
