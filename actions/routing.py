"""A technical problem the knowledge base does not answer goes straight to technical support.

Every action that would otherwise give a list, a rephrase request or a generic handoff
asks here first; an action that has a confident answer never does.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import replies
from bot.handoff.technical import TechnicalProblem, default_detector


def technical_problem(tracker: Tracker, text: str | None = None) -> TechnicalProblem | None:
    """The problem in the latest message (or `text`)."""
    message = text if text is not None else tracker.latest_message.get("text") or ""
    return default_detector().detect(message)


def recent_problem(tracker: Tracker, turns: int = 3) -> TechnicalProblem | None:
    """The problem in the user's last few messages ("转人工" after quoting an error)."""
    said = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"][-turns:]
    for text in reversed(said):
        found = default_detector().detect(text)
        if found:
            return found
    return None


def technical_handoff(dispatcher: CollectingDispatcher, problem: TechnicalProblem) -> list[dict[str, Any]]:
    """Hand off to the problem's team, saying so (the gateway queues it there)."""
    dispatcher.utter_message(text=replies.HANDOFF_TECHNICAL,
                             json_message=replies.payload("handoff", reason="technical", team=problem.team,
                                                          topic=problem.topic))
    return [SlotSet("pending_offer", None)]
