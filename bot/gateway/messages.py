"""What comes in and what goes out, whatever the channel: the types every step of a
message's way shares (channel views, router, handlers, records), and what a WeChat
message means for the assistant.

Which replies are the gateway's own is decided here and in `bot.gateway.handlers`:
channel events and message types Rasa cannot read get a canned reply (`to_bot` is
None); everything else is text for Rasa unless a person or a pending question holds
the conversation (see `bot.gateway.router`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bot import replies
from bot.wechat.menu import MENU_BY_KEY, TOPICS
from bot.wechat.messages import EventMessage, ImageMessage, Message, TextMessage, VoiceMessage

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
    scene: str | None = None  # the QR code's scene on a subscribe or scan (see bot.gateway.scenes)


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
        return _event(message, make)
    label = "图片" if isinstance(message, ImageMessage) else message.msg_type
    return make(f"[{label}]", None, [replies.UNSUPPORTED_MESSAGE])


def _event(message: EventMessage, make: Callable[..., Inbound]) -> Inbound:
    """Events: the gateway's own answers; a menu CLICK becomes its question."""
    kind = f"event:{message.event}"
    if message.event in ("subscribe", "scan"):
        shown = "[关注]" if message.event == "subscribe" else "[扫码进入]"
        if message.scene:
            shown += f" 场景 {message.scene}"
        canned = [replies.welcome_text(TOPICS)] if message.event == "subscribe" else []
        return replace(make(shown, None, canned, kind), scene=message.scene)
    if message.scan_code is not None:
        shown = f"[扫码] {message.scan_code.scan_type}: {message.scan_code.scan_result}"[:MAX_TEXT_CHARS]
        # scancode_waitmsg shows a "waiting" spinner until the account answers; push needs nothing
        return make(shown, None, [replies.SCAN_RECEIVED] if message.event == "scancode_waitmsg" else [], kind)
    if message.pictures is not None:  # the pictures themselves follow as image messages
        return make(f"[发图] {message.pictures.count} 张", None, msg_type=kind)
    if message.location is not None:  # the location itself follows as a location message
        return make(f"[选择位置] {message.location.label}"[:MAX_TEXT_CHARS], None, msg_type=kind)
    if message.subscriptions:  # the platform keeps the allowed notices; the record says which
        shown = "[订阅通知] " + "，".join(f"{s.template_id[:24]} {s.status}" for s in message.subscriptions)
        return make(shown[:MAX_TEXT_CHARS], None, msg_type=kind)
    if message.event == "unsubscribe":
        return make("[取消关注]", None, msg_type=kind)
    if message.event == "click":
        item = MENU_BY_KEY.get(message.event_key)
        if item is None:
            return make(f"[菜单] {message.event_key}", None, [replies.UNKNOWN_MENU], kind)
        return make(f"[菜单] {item.label}", item.question, msg_type=kind)
    return make(f"[事件] {message.event}", None, msg_type=kind)  # VIEW, LOCATION...: nothing to say
