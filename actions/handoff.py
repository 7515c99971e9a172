"""Handing the conversation to a person (the gateway queues it).

A request for a person after a technical problem (an error quoted, a failed upload) names
the technical-support team, so the user does not wait in the business queue first.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.routing import recent_problem
from bot import replies


def handoff_events(dispatcher: CollectingDispatcher, tracker: Tracker, complaint: bool) -> list[dict[str, Any]]:
    text = replies.HANDOFF_COMPLAINT if complaint else replies.HANDOFF_REQUEST
    reason = "complaint" if complaint else "request"
    problem = None if complaint else recent_problem(tracker)
    extra: dict[str, Any] = {"team": problem.team, "topic": problem.topic} if problem else {}
    dispatcher.utter_message(text=text, json_message=replies.payload("handoff", reason=reason, **extra))
    return [SlotSet("pending_offer", None)]


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        return handoff_events(dispatcher, tracker, complaint=intent == "complain")
