"""Human handoff: the Redis-backed queue of conversations waiting for a person, the
agents taking them, and the left messages (tickets) when nobody is available.

No HTTP and no Rasa here: the gateway and the agent console call `HandoffQueue`.
"""

from bot.handoff.calendar import WorkingCalendar, load_calendar
from bot.handoff.errors import (
    AgentUnavailable,
    Conflict,
    HandoffError,
    HandoffUnavailable,
    NotFound,
)
from bot.handoff.models import (
    Agent,
    Assignment,
    Conversation,
    Enqueued,
    Place,
    Reclaimed,
    SweepReport,
    Ticket,
    Waiting,
)
from bot.handoff.queue import HandoffQueue
from bot.handoff.teams import Team, Teams, TeamsError, load_teams

__all__ = [
    "Agent",
    "AgentUnavailable",
    "Assignment",
    "Conflict",
    "Conversation",
    "Enqueued",
    "HandoffError",
    "HandoffQueue",
    "HandoffUnavailable",
    "NotFound",
    "Place",
    "Reclaimed",
    "SweepReport",
    "Team",
    "Teams",
    "TeamsError",
    "Ticket",
    "Waiting",
    "WorkingCalendar",
    "load_calendar",
    "load_teams",
]
