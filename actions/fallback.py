"""Two-stage fallback: first ask to rephrase, then offer a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.tracker_context import previous_action
from bot import replies


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        if previous_action(tracker) == "action_fallback":
            dispatcher.utter_message(text=replies.FALLBACK_OFFER_HUMAN,
                                     json_message=replies.payload("fallback", stage=2))
            return [SlotSet("pending_offer", "human")]
        dispatcher.utter_message(text=replies.FALLBACK_REPHRASE, json_message=replies.payload("fallback", stage=1))
        return [SlotSet("pending_offer", None)]
