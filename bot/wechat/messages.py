"""Incoming messages as typed objects (wechatpy's parser, registry with an Unknown fallback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from bot.wechat.errors import MalformedMessage
from bot.wechat.xmlio import parse_fields

M = TypeVar("M", bound="Message")

REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")


@dataclass(frozen=True)
class Message:
    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    msg_id: str | None = None
    fields: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dedupe_key(self) -> str:
        """MsgId when there is one; events have none, so sender + CreateTime (+ event)."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"evt:{self.from_user}:{self.create_time}:{self.fields.get('Event', '')}"


@dataclass(frozen=True)
class TextMessage(Message):
    content: str = ""


@dataclass(frozen=True)
class VoiceMessage(Message):
    media_id: str = ""
    format: str = ""
    recognition: str = ""


@dataclass(frozen=True)
class ImageMessage(Message):
    pic_url: str = ""
    media_id: str = ""


@dataclass(frozen=True)
class EventMessage(Message):
    event: str = ""
    event_key: str = ""


@dataclass(frozen=True)
class UnknownMessage(Message):
    """Video, location, link and anything new: answered with what we can take."""


def parse_message(body: bytes | str) -> Message:
    fields = parse_fields(body)
    missing = [name for name in REQUIRED if not fields.get(name)]
    if missing:
        raise MalformedMessage(f"missing field(s): {', '.join(missing)}")
    try:
        create_time = int(fields["CreateTime"])
    except ValueError as exc:
        raise MalformedMessage("CreateTime is not an integer") from exc
    msg_type = fields["MsgType"].lower()
    msg_id = fields.get("MsgId") or None
    if msg_id is not None and not msg_id.isdigit():
        raise MalformedMessage("MsgId is not a number")
    to_user, from_user = fields["ToUserName"], fields["FromUserName"]

    def common(cls: type[M], **extra: str) -> M:
        return cls(to_user=to_user, from_user=from_user, create_time=create_time, msg_type=msg_type,
                   msg_id=msg_id, fields=fields, **extra)

    if msg_type == "text":
        return common(TextMessage, content=fields.get("Content", ""))
    if msg_type == "voice":
        return common(VoiceMessage, media_id=fields.get("MediaId", ""), format=fields.get("Format", ""),
                            recognition=fields.get("Recognition", ""))
    if msg_type == "image":
        return common(ImageMessage, pic_url=fields.get("PicUrl", ""), media_id=fields.get("MediaId", ""))
    if msg_type == "event":
        if not fields.get("Event"):
            raise MalformedMessage("event without <Event>")
        return common(EventMessage, event=fields["Event"].lower(), event_key=fields.get("EventKey", ""))
    return common(UnknownMessage)
