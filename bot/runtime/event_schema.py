"""Rasa's event checks, at the cost of one schema branch per event instead of all of them.

Measured with py-spy under load (session 12): a quarter of the Rasa server's CPU went to
jsonschema, checking every event of every action-server response (and of every event
posted to a tracker) against the `oneOf` of Rasa's 23 event schemas, and `Event.resolve_by_type`
walked the whole class tree of events for each event of a tracker it read back.

Each branch of Rasa's `oneOf` pins the event name with a distinct `const`, so an event is
valid exactly when it passes the shared part and the one branch its name selects: the
same verdict, computed once instead of 23 times. Anything that fails here is checked again
by Rasa's own code, so a bad response still gets Rasa's error and message, unchanged.
"""

from __future__ import annotations

import copy
import functools
from typing import Any


class EventsCheck:
    """True/False on a list of events, the verdict of Rasa's EVENTS_SCHEMA."""

    def __init__(self, event_schema: dict[str, Any]) -> None:
        from jsonschema.validators import validator_for

        shared = {k: v for k, v in event_schema.items() if k != "oneOf"}
        cls = validator_for(event_schema)
        self._shared = cls(shared)
        self._by_name: dict[str, Any] = {}
        self.exact = True  # False when the branches cannot be told apart by name: then no shortcut
        for branch in event_schema.get("oneOf", []):
            name = branch.get("properties", {}).get("event", {}).get("const")
            if not isinstance(name, str) or name in self._by_name:
                self.exact = False
                break
            self._by_name[name] = cls(branch)

    def valid(self, events: Any) -> bool:
        if not self.exact or not isinstance(events, list):
            return False
        for event in events:
            if not self._shared.is_valid(event):
                return False
            branch = self._by_name.get(event["event"])
            if branch is None or not branch.is_valid(event):
                return False
        return True


@functools.lru_cache(maxsize=1)
def events_check() -> EventsCheck:
    from rasa.shared.utils.schemas.events import EVENT_SCHEMA

    return EventsCheck(EVENT_SCHEMA)


@functools.lru_cache(maxsize=1)
def _response_shell() -> Any:
    """The action-response schema with its events list checked only for being a list."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    spec = copy.deepcopy(RemoteAction.action_response_format_spec())
    spec["properties"]["events"] = {"type": "array"}
    return validator_for(spec)(spec)


def response_valid(result: Any) -> bool:
    """The verdict of Rasa's action-response schema on a valid response (False means: ask Rasa)."""
    if not _response_shell().is_valid(result):
        return False
    return "events" not in result or events_check().valid(result["events"])


def event_class_lookup() -> Any:
    """`Event.resolve_by_type` with the name -> class map remembered; unknown names go the old way."""
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    known: dict[str, type] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = known.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default:
                known[type_name] = cls
        return cls

    return staticmethod(resolve_by_type)
