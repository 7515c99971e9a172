"""`patentdesk ask`: questions asked as a user would, one fresh conversation each.

Output contract (used by evaluation tools; keep it stable): one JSON object per line with
question, decision, text, entry_id, confidence, candidates.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from bot.config import Settings
from bot.local_stack import rasa_endpoint
from bot.rasa_client import RasaClient

CONTRACT_KEYS = ("question", "decision", "text", "entry_id", "confidence", "candidates")


async def ask_all(settings: Settings, questions: Iterable[str]) -> AsyncIterator[dict[str, Any]]:
    async with rasa_endpoint(settings) as url, RasaClient(url, timeout=60) as client:
        for question in questions:
            reply = await client.send(f"ask-{uuid.uuid4().hex[:12]}", question, {"channel": "cli-ask"})
            info = reply.info
            yield {
                "question": question,
                "decision": info.get("decision", "smalltalk"),
                "text": reply.text,
                "entry_id": info.get("entry_id"),
                "confidence": info.get("confidence"),
                "candidates": info.get("candidates") or [],
            }
