"""A conversation session holds at most MAX_SESSION_TURNS user messages.

Rasa works on the whole current session for every message: the tracker store rebuilds it
from JSON and writes it back, the policies featurise every past state, and each custom
action call sends it all to the action server. So a message cost grows with the
conversation: measured on the served stack (one user asking 200 messages), Rasa spent
27 ms of CPU a message for the first 20 and 288 ms for messages 180-199, the action server
15 ms and 48 ms.

Nothing we run needs an older turn: every rule maps one intent to one action, the
conversation's context is in slots, and the actions look back one turn (the previous bot
action) or three user messages. So when a session already holds MAX_SESSION_TURNS user
messages, the next message starts a new one, the way Rasa starts one after
`session_expiration_time` of silence, but carrying every slot over, as Rasa's own
ActionSessionStart does with `carry_over_slots_to_new_session`. Rasa's tracker stores
(in memory, SQL) then load only the new session; the SQL store keeps all events.
"""

from __future__ import annotations

from typing import Any

# user messages a session holds before the next one starts a new session
MAX_SESSION_TURNS = 8


def user_turns_in_session(tracker: Any) -> int:
    """User messages since the last session start or restart."""
    from rasa.shared.core.events import Restarted, SessionStarted, UserUttered

    count = 0
    for event in reversed(tracker.events):
        if isinstance(event, (SessionStarted, Restarted)):
            break
        if isinstance(event, UserUttered):
            count += 1
    return count


def session_restart_events(tracker: Any) -> list[Any]:
    """What Rasa's ActionSessionStart logs when it carries slots over: the action, the session
    start, every slot that holds a value, and the listen that waits for the user."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
    from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet

    carried = [SlotSet(slot.name, slot.value) for slot in tracker.slots.values()
               if slot.value is not None and slot.value != slot.initial_value]
    return [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), *carried, ActionExecuted(ACTION_LISTEN_NAME)]


def bound_sessions(processor_class: Any) -> None:
    """Wrap MessageProcessor._update_tracker_session: a session that is full (and not already
    being restarted for silence) is restarted with its slots before the message is handled.
    Never while a person has the conversation: a session start would lift the pause."""
    original = processor_class._update_tracker_session

    async def update_tracker_session(self: Any, tracker: Any, output_channel: Any, metadata: Any = None) -> None:
        # a full session is never empty, so Rasa's own start for an empty tracker is not doubled
        if (user_turns_in_session(tracker) >= MAX_SESSION_TURNS and not tracker.is_paused()
                and not self._has_session_expired(tracker)):
            tracker.update_with_events(session_restart_events(tracker), self.domain)
            return
        await original(self, tracker, output_channel, metadata)

    processor_class._update_tracker_session = update_tracker_session
