"""Moving the FAQ conversation context between Rasa slots and `bot.knowledge.dialogue`."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from bot.knowledge.dialogue import Context, Turn


def context_from(tracker: Tracker) -> Context:
    return Context(
        last_query=tracker.get_slot("faq_last_query"),
        last_entry=tracker.get_slot("faq_last_entry"),
        candidates=list(tracker.get_slot("faq_candidates") or []),
        shown=list(tracker.get_slot("faq_shown") or []),
        topic=tracker.get_slot("faq_topic"),
        patent_type=tracker.get_slot("faq_patent_type"),
        applicant=tracker.get_slot("faq_applicant"),
        calc=tracker.get_slot("faq_calc") or None,
    )


def slot_events(turn: Turn) -> list[dict[str, Any]]:
    ctx = turn.context
    return [
        SlotSet("faq_last_query", ctx.last_query),
        SlotSet("faq_last_entry", ctx.last_entry),
        SlotSet("faq_candidates", ctx.candidates),
        SlotSet("faq_shown", ctx.shown),
        SlotSet("faq_topic", ctx.topic),
        SlotSet("faq_patent_type", ctx.patent_type),
        SlotSet("faq_applicant", ctx.applicant),
        SlotSet("faq_calc", ctx.calc),
        SlotSet("pending_offer", turn.offer),
    ]


_NOT_A_REPLY = frozenset({"action_listen", "action_session_start"})


def previous_action(tracker: Tracker) -> str | None:
    """The last bot action before the user's latest message (action_listen skipped, and the
    session start that a long conversation gets between two messages: bot/runtime/session_bound.py)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                continue
            seen_user = True
            continue
        if seen_user and event.get("event") == "action" and event.get("name") not in _NOT_A_REPLY:
            return event.get("name")
    return None
