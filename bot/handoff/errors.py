"""The handoff layer's exceptions; the console maps them to HTTP statuses at its edge."""

from __future__ import annotations


class HandoffError(Exception):
    """Base of everything this package raises."""


class HandoffUnavailable(HandoffError):
    """Redis cannot be reached: tell the user a person is not available right now."""


class NotFound(HandoffError):
    """No such conversation, agent or ticket."""


class Conflict(HandoffError):
    """The conversation's current state does not allow the step (e.g. already claimed)."""

    def __init__(self, message: str, *, state: str | None = None, agent: str | None = None) -> None:
        super().__init__(message)
        self.state = state
        self.agent = agent


class AgentUnavailable(HandoffError):
    """The agent is offline (or away, for a transfer) and cannot take the conversation."""

    def __init__(self, message: str, *, status: str | None = None) -> None:
        super().__init__(message)
        self.status = status
