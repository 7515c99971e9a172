"""`patentdesk ask`: questions asked as a user would, one fresh conversation each.

Output contract (used by evaluation tools; keep it stable): one JSON object per line with
question, decision, text, entry_id, confidence, candidates, asks, value. With --conversation each row also
carries "conversation" and "turn" (both counted from 0).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from bot.config import Settings
from bot.rasa_client import RasaClient
from bot.runtime.local_stack import rasa_endpoint

CONTRACT_KEYS = ("question", "decision", "text", "entry_id", "confidence", "candidates", "asks", "value")


def _row(question: str, reply: Any) -> dict[str, Any]:
    info = reply.info
    return {
        "question": question,
        "decision": info.get("decision", "smalltalk"),
        "text": reply.text,
        "entry_id": info.get("entry_id"),
        "confidence": info.get("confidence"),
        "candidates": info.get("candidates") or [],
        "asks": info.get("asks"),      # the one fact a reply asked for ("patent_type", "date", ...)
        "value": info.get("value"),    # a calculated figure: yuan, or an ISO date
    }


async def ask_all(settings: Settings, questions: Iterable[str]) -> AsyncIterator[dict[str, Any]]:
    async with rasa_endpoint(settings) as url, RasaClient(url, timeout=60) as client:
        for question in questions:
            reply = await client.send(f"ask-{uuid.uuid4().hex[:12]}", question, {"channel": "cli-ask"})
            yield _row(question, reply)


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
    async with rasa_endpoint(settings) as url, RasaClient(url, timeout=60) as client:
        for c, messages in enumerate(conversations):
            sender = f"ask-{uuid.uuid4().hex[:12]}"
            for t, message in enumerate(messages):
                reply = await client.send(sender, message, {"channel": "cli-ask"})
                yield {**_row(message, reply), "conversation": c, "turn": t}
