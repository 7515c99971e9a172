"""Handing the conversation to a person.

Queueing over Redis arrives with the handoff issue; until then the user is told,
politely and truthfully, that a person will follow up.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import replies


def handoff_events(dispatcher: CollectingDispatcher, tracker: Tracker, complaint: bool) -> list[dict[str, Any]]:
    text = replies.HANDOFF_COMPLAINT if complaint else replies.HANDOFF_REQUEST
    reason = "complaint" if complaint else "request"
    dispatcher.utter_message(text=text, json_message=replies.payload("handoff", reason=reason))
    return [SlotSet("pending_offer", None)]


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        return handoff_events(dispatcher, tracker, complaint=intent == "complain")
