"""Every Redis key of the handoff queue, built by one helper (`patentdesk:{area}:{id}`).

Scripts get these keys through KEYS[], never by building names inside Lua, so the
layout lives here and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.redis_keys import PREFIX, key

__all__ = ["PREFIX", "HandoffKeys", "key"]


@dataclass(frozen=True)
class HandoffKeys:
    """The queue's keys under one prefix (tests may use their own prefix)."""

    prefix: str = PREFIX

    # one hash per conversation / agent / ticket
    def conv(self, conv_id: str) -> str:
        return key("handoff:conv", conv_id, prefix=self.prefix)

    def agent(self, agent_id: str) -> str:
        return key("handoff:agent", agent_id, prefix=self.prefix)

    def agent_convs(self, agent_id: str) -> str:
        """Set of the conversations an agent holds (its load is SCARD)."""
        return key("handoff:agent-convs", agent_id, prefix=self.prefix)

    def ticket(self, ticket_id: str) -> str:
        return key("handoff:ticket", ticket_id, prefix=self.prefix)

    # singletons
    @property
    def waiting(self) -> str:
        """Sorted set conv_id -> priority * 1e12 + arrival number."""
        return key("handoff", "waiting", prefix=self.prefix)

    def team_waiting(self, team_id: str) -> str:
        """A team's waiting set, like `waiting` (the default team keeps `waiting` itself, so
        conversations queued before teams stay in line)."""
        return key("handoff:waiting", team_id, prefix=self.prefix)

    @property
    def team_waiting_pattern(self) -> str:
        """SCAN pattern matching every `team_waiting` set, to find those of removed teams."""
        return _glob_literal(self.team_waiting("")) + "*"

    def team_of_waiting(self, waiting_key: str) -> str:
        """The team id in a `team_waiting` key (its inverse)."""
        return waiting_key.removeprefix(self.team_waiting(""))

    @property
    def leases(self) -> str:
        """Sorted set conv_id -> lease deadline (ms) of every assigned conversation."""
        return key("handoff", "leases", prefix=self.prefix)

    @property
    def agents(self) -> str:
        """Set of registered agent ids."""
        return key("handoff", "agents", prefix=self.prefix)

    @property
    def rotation(self) -> str:
        """Sorted set agent_id -> ordinal of the last conversation the agent took."""
        return key("handoff", "rotation", prefix=self.prefix)

    @property
    def seq(self) -> str:
        """Counter giving arrivals and assignments their order."""
        return key("handoff", "seq", prefix=self.prefix)

    @property
    def tickets_open(self) -> str:
        """Sorted set ticket_id -> due time (ms)."""
        return key("handoff", "tickets:open", prefix=self.prefix)

    @property
    def tickets_answered(self) -> str:
        """Sorted set ticket_id -> answer time (ms)."""
        return key("handoff", "tickets:answered", prefix=self.prefix)


def _glob_literal(text: str) -> str:
    """`text` matched literally by a SCAN pattern (a test prefix may hold glob characters)."""
    return re.sub(r"([\\*?\[\]])", r"\\\1", text)
