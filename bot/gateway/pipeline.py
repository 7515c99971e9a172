"""From an incoming message to the assistant's texts, whatever the channel.

WeChat and web chat share this: what goes to Rasa (text, recognised voice, a menu
click's question), what is answered here (welcome, unsupported types), and the record
of every exchange.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot import replies
from bot.gateway.transcript import Line
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.records.buffer import RecordBuffer
from bot.records.pseudonym import pseudonym, record_key
from bot.wechat.menu import MENU_BY_KEY, TOPICS
from bot.wechat.messages import EventMessage, ImageMessage, Message, TextMessage, VoiceMessage

if TYPE_CHECKING:
    from bot.gateway.handoff_flow import HandoffFlow

log = logging.getLogger("patentdesk.gateway")

MAX_TEXT_CHARS = 2000


@dataclass
class Inbound:
    channel: str  # "wechat" | "web"
    user_id: str  # OpenID or the web chat's sender id (never stored as such)
    msg_key: str
    msg_type: str
    text_in: str  # what the user sent, as shown to agents and records
    to_bot: str | None  # what goes to Rasa; None: answered here
    canned: list[str] = field(default_factory=list)
    received_at: float = field(default_factory=time.time)


@dataclass
class Handled:
    texts: list[str]
    info: dict[str, Any]
    finished_at: float = field(default_factory=time.time)


def from_wechat(message: Message) -> Inbound:
    """What a WeChat message means for the assistant."""
    base = Inbound(channel="wechat", user_id=message.from_user, msg_key=message.dedupe_key,
                   msg_type=message.msg_type, text_in="", to_bot=None)

    def make(text_in: str, to_bot: str | None, canned: list[str] | None = None, msg_type: str | None = None) -> Inbound:
        return replace(base, text_in=text_in, to_bot=to_bot, canned=canned or [], msg_type=msg_type or base.msg_type)

    if isinstance(message, TextMessage):
        text = message.content.strip()[:MAX_TEXT_CHARS]
        return make(text, text or None, [] if text else [replies.UNSUPPORTED_MESSAGE])
    if isinstance(message, VoiceMessage):
        text = message.recognition.strip()[:MAX_TEXT_CHARS]
        if text:
            return make(f"[语音] {text}", text)
        return make("[语音]", None, [replies.VOICE_NOT_RECOGNISED])
    if isinstance(message, EventMessage):
        kind = f"event:{message.event}"
        if message.event == "subscribe":
            return make("[关注]", None, [replies.welcome_text(TOPICS)], kind)
        if message.event == "unsubscribe":
            return make("[取消关注]", None, msg_type=kind)
        if message.event == "click":
            item = MENU_BY_KEY.get(message.event_key)
            if item is None:
                return make(f"[菜单] {message.event_key}", None, [replies.UNKNOWN_MENU], kind)
            return make(f"[菜单] {item.label}", item.question, msg_type=kind)
        return make(f"[事件] {message.event}", None, msg_type=kind)  # VIEW, SCAN...: nothing to say
    label = "图片" if isinstance(message, ImageMessage) else message.msg_type
    return make(f"[{label}]", None, [replies.UNSUPPORTED_MESSAGE])


class Assistant:
    def __init__(self, rasa: RasaClient, records: RecordBuffer, pseudonym_key: str,
                 flow: HandoffFlow | None = None) -> None:
        self.rasa = rasa
        self.records = records
        self.pseudonym_key = pseudonym_key
        self.flow = flow
        self.bot_runs = 0

    async def handle(self, inbound: Inbound) -> Handled:
        """Never raises: an unreachable Rasa becomes an apology.

        With a handoff flow, a user waiting for or talking with a person is routed there
        first; a bot reply deciding `handoff` starts that.
        """
        if self.flow is not None:
            routed = await self.flow.route(inbound)
            if routed is not None:
                return routed
        if inbound.to_bot is None:
            return Handled(list(inbound.canned), {"decision": "channel"})
        handled = await self._ask_rasa(inbound)
        if self.flow is not None and not handled.texts:
            # Rasa still paused although no person holds the conversation (the queue was
            # lost, or Redis is down): resume it, so the user is answered, not ignored.
            await self.flow.resume_rasa(inbound.channel, inbound.user_id)
            handled = await self._ask_rasa(inbound)
        if not handled.texts:
            # Rasa answered but said nothing: its action server failed (found by the load
            # suite killing it). Silence would leave the user waiting; say so politely.
            log.error("assistant gave no reply for %s (action server down?)", inbound.msg_key)
            handled = Handled([replies.ASSISTANT_UNAVAILABLE], {"decision": "unavailable"})
        if self.flow is not None and handled.info.get("decision") == "handoff":
            return await self.flow.start(inbound, handled)
        if self.flow is not None:
            return await self.flow.after_bot(inbound, handled)
        return handled

    async def _ask_rasa(self, inbound: Inbound) -> Handled:
        assert inbound.to_bot is not None
        self.bot_runs += 1
        metadata = {"channel": inbound.channel, "user_id": inbound.user_id, "msg_type": inbound.msg_type}
        try:
            reply = await self.rasa.send(f"{inbound.channel}:{inbound.user_id}", inbound.to_bot, metadata)
        except RasaUnavailable as exc:
            log.error("assistant unavailable for %s: %s", inbound.msg_key, exc)
            return Handled([replies.ASSISTANT_UNAVAILABLE], {"decision": "unavailable"})
        return Handled(reply.texts, dict(reply.info))

    async def record(self, inbound: Inbound, handled: Handled | None, path: str) -> None:
        """One exchange event for the records (and the transcript an agent would read)."""
        info = handled.info if handled else {}
        finished = handled.finished_at if handled else None
        texts = handled.texts if handled else []
        if self.flow is not None and not info.get("transcribed") and inbound.msg_type != "event:unsubscribe":
            conv_id = self.flow.conv_id_for(inbound.channel, inbound.user_id)
            who = str(info.get("who") or "bot")
            await self.flow.transcripts.append(conv_id, Line(inbound.received_at, "user", inbound.text_in), *(
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
