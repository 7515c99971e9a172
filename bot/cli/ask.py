"""`patentdesk ask`: questions asked as a user would, one fresh conversation each.

Output contract (used by evaluation tools; keep it stable): one JSON object per line with
question, decision, text, entry_id, confidence, candidates, asks, value, team ("team": the team a handoff
goes to, null otherwise), shown (the entry whose answer a clarify showed first, null otherwise). With --conversation each row also carries "conversation" and "turn" (both counted
from 0).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from bot.config import Settings
from bot.handoff import load_calendar, load_teams
from bot.rasa_client import RasaClient
from bot.runtime.local_stack import rasa_endpoint

CONTRACT_KEYS = ("question", "decision", "text", "entry_id", "confidence", "candidates", "asks", "value", "team",
                 "shown")


def _row(question: str, reply: Any, default_team: str) -> dict[str, Any]:
    info = reply.info
    handoff = info.get("decision") == "handoff"
    return {
        "question": question,
        "decision": info.get("decision", "smalltalk"),
        "text": reply.text,
        "entry_id": info.get("entry_id"),
        "confidence": info.get("confidence"),
        "candidates": info.get("candidates") or [],
        "asks": info.get("asks"),      # the one fact a reply asked for ("patent_type", "date", ...)
        "value": info.get("value"),    # a calculated figure: yuan, or an ISO date
        # the team whose queue a handoff goes to (the gateway sends an unnamed one to the default team)
        "team": (info.get("team") or default_team) if handoff else None,
        "shown": info.get("shown"),    # the entry whose answer a clarify showed first
    }


def default_team(settings: Settings) -> str:
    """The default team's id, as the gateway reads the teams file."""
    return load_teams(settings.handoff_teams or None, load_calendar(settings.handoff_calendar or None)).default


async def ask_all(settings: Settings, questions: Iterable[str]) -> AsyncIterator[dict[str, Any]]:
    team = default_team(settings)
    async with rasa_endpoint(settings) as url, RasaClient(url, timeout=60) as client:
        for question in questions:
            reply = await client.send(f"ask-{uuid.uuid4().hex[:12]}", question, {"channel": "cli-ask"})
            yield _row(question, reply, team)


def read_conversations(lines: Iterable[str]) -> list[list[str]]:
    """Conversations separated by blank lines, one user message per line."""
    conversations: list[list[str]] = [[]]
    for line in lines:
        text = line.strip()
        if text:
            conversations[-1].append(text)
        elif conversations[-1]:
            conversations.append([])
    return [c for c in conversations if c]


async def ask_conversations(settings: Settings, conversations: Iterable[list[str]]) -> AsyncIterator[dict[str, Any]]:
    """Each conversation as one fresh user, turn by turn; rows carry "conversation" and "turn"
    (both from 0) next to the `ask --json` fields."""
    team = default_team(settings)
    async with rasa_endpoint(settings) as url, RasaClient(url, timeout=60) as client:
        for c, messages in enumerate(conversations):
            sender = f"ask-{uuid.uuid4().hex[:12]}"
            for t, message in enumerate(messages):
                reply = await client.send(sender, message, {"channel": "cli-ask"})
                yield {**_row(message, reply, team), "conversation": c, "turn": t}
