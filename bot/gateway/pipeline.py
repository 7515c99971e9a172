"""From an incoming message to the assistant's texts and its record, whatever the channel.

WeChat and web chat share this: the router decides who answers (`bot.gateway.router`),
and every exchange becomes a record (and lines of the transcript an agent would read).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot.gateway.messages import Handled, Inbound
from bot.gateway.rasa_turn import RasaTurn
from bot.gateway.router import Router
from bot.gateway.transcript import Line, Transcripts
from bot.rasa_client import RasaClient
from bot.records.buffer import RecordBuffer
from bot.records.pseudonym import pseudonym, record_key

log = logging.getLogger("patentdesk.gateway")

__all__ = ["Assistant"]


class Assistant:
    def __init__(self, rasa: RasaTurn, router: Router, records: RecordBuffer, transcripts: Transcripts,
                 pseudonym_key: str) -> None:
        self.turns = rasa
        self.router = router
        self.records = records
        self.transcripts = transcripts
        self.pseudonym_key = pseudonym_key

    @property
    def rasa(self) -> RasaClient:
        return self.turns.rasa

    @property
    def bot_runs(self) -> int:
        return self.turns.runs

    async def handle(self, inbound: Inbound) -> Handled:
        """Never raises for want of Rasa or Redis: an unreachable Rasa becomes an apology."""
        return await self.router.route(inbound)

    async def record(self, inbound: Inbound, handled: Handled | None, path: str) -> None:
        """One exchange event for the records (and the transcript an agent would read)."""
        info = handled.info if handled else {}
        finished = handled.finished_at if handled else None
        texts = handled.texts if handled else []
        if not info.get("transcribed") and inbound.msg_type != "event:unsubscribe":
            conv_id = self.router.conv_id_for(inbound.channel, inbound.user_id)
            who = str(info.get("who") or "bot")
            await self.transcripts.append(conv_id, Line(inbound.received_at, "user", inbound.text_in), *(
                Line(finished or inbound.received_at, who, t, decision=info.get("decision"),
                     entry_id=info.get("entry_id"), confidence=info.get("confidence")) for t in texts))
        key = record_key(self.pseudonym_key, inbound.msg_key)
        candidates = [c.get("id") if isinstance(c, dict) else c for c in info.get("candidates") or []]
        await self.records.add({
            "kind": "exchange",
            "event_key": key,
            "channel": inbound.channel,
            "user": pseudonym(self.pseudonym_key, inbound.channel, inbound.user_id),
            "at": _iso(inbound.received_at),
            "msg_type": inbound.msg_type,
            "scene": inbound.scene,
            "replied_at": _iso(finished) if finished else None,
            "text_in": inbound.text_in,
            "texts_out": texts,
            "path": path,
            "decision": info.get("decision"),
            "entry_id": info.get("entry_id"),
            "confidence": info.get("confidence"),
            "candidates": candidates,
            "intent": info.get("intent"),
            "conv_id": info.get("conv_id"),
            "agent": info.get("agent"),
            "who": info.get("who"),
            "latency_ms": int((finished - inbound.received_at) * 1000) if finished else None,
        })


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
