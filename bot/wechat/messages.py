"""Incoming messages as typed objects (wechatpy's parser, registry with an Unknown fallback).

Events from menu buttons of the scan/photo/location kinds carry a nested block
(ScanCodeInfo, SendPicsInfo, SendLocationInfo), and the subscription-notice events a
list (SubscribeMsgPopupEvent/List...): each becomes its own typed field, so nothing of
them is lost in a run of text. A subscribe through a QR code (EventKey `qrscene_X`) and
a SCAN event (EventKey `X`) both carry the scene `X`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar
from xml.etree.ElementTree import Element

from bot.wechat.errors import MalformedMessage
from bot.wechat.xmlio import fields_of, nested, parse_root

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
        """MsgId when there is one; events have none, so sender + CreateTime + event +
        EventKey: two clicks on different menu items in one second are two events."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        event_key = self.fields.get("EventKey", "")[:128]
        return f"evt:{self.from_user}:{self.create_time}:{self.fields.get('Event', '')}:{event_key}"


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
class ScanCode:
    """scancode_push / scancode_waitmsg: what the user's camera read."""

    scan_type: str
    scan_result: str


@dataclass(frozen=True)
class PicsSent:
    """pic_sysphoto / pic_photo_or_album / pic_weixin: the pictures follow as image messages."""

    count: int
    md5sums: tuple[str, ...]


@dataclass(frozen=True)
class PickedLocation:
    """location_select: the place the user picked on the map."""

    x: str
    y: str
    scale: str
    label: str
    poiname: str


@dataclass(frozen=True)
class SubscribeItem:
    """One template in a subscription-notice event: accepted, refused, or a notice sent."""

    template_id: str
    status: str  # accept | reject (popup, change); success | failed:... (sent)
    popup_scene: str = ""
    msg_id: str = ""
    error_code: str = ""


@dataclass(frozen=True)
class EventMessage(Message):
    event: str = ""
    event_key: str = ""
    ticket: str = ""
    scene: str | None = None  # subscribe via QR code (qrscene_X) or SCAN: X
    scan_code: ScanCode | None = None
    pictures: PicsSent | None = None
    location: PickedLocation | None = None
    subscriptions: tuple[SubscribeItem, ...] = ()


@dataclass(frozen=True)
class UnknownMessage(Message):
    """Video, location, link and anything new: answered with what we can take."""


SUBSCRIBE_BLOCKS = {
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
    "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
}
MAX_LIST = 20


def parse_message(body: bytes | str) -> Message:
    root = parse_root(body)
    fields = fields_of(root)
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
        event = fields["Event"].lower()
        return common(EventMessage, event=event, event_key=fields.get("EventKey", ""), ticket=fields.get("Ticket", ""),
                      **_event_details(root, event, fields.get("EventKey", "")))
    return common(UnknownMessage)


def scene_of(event: str, event_key: str) -> str | None:
    """The QR code's scene: `qrscene_X` on a subscribe, `X` on SCAN; None otherwise."""
    if event == "subscribe" and event_key.startswith("qrscene_"):
        return event_key[len("qrscene_"):] or None
    if event == "scan":
        return event_key or None
    return None


def _event_details(root: Element, event: str, event_key: str) -> dict[str, Any]:
    """The typed fields of an event's nested block (MalformedMessage when it is garbled)."""
    details: dict[str, Any] = {"scene": scene_of(event, event_key)}
    block = root.find("ScanCodeInfo")
    if block is not None:
        info = nested(block)
        details["scan_code"] = ScanCode(info.get("ScanType", ""), info.get("ScanResult", ""))
    block = root.find("SendPicsInfo")
    if block is not None:
        count = block.findtext("Count", "0").strip() or "0"
        if not count.isdigit():
            raise MalformedMessage("SendPicsInfo/Count is not a number")
        sums = tuple((item.findtext("PicMd5Sum") or "").strip() for item in block.findall("PicList/item"))[:MAX_LIST]
        details["pictures"] = PicsSent(int(count), sums)
    block = root.find("SendLocationInfo")
    if block is not None:
        info = nested(block)
        details["location"] = PickedLocation(info.get("Location_X", ""), info.get("Location_Y", ""),
                                             info.get("Scale", ""), info.get("Label", ""), info.get("Poiname", ""))
    name = SUBSCRIBE_BLOCKS.get(event)
    block = root.find(name) if name else None
    if block is not None:
        items = []
        for item in block.findall("List")[:MAX_LIST]:
            info = nested(item)
            status = info.get("SubscribeStatusString") or info.get("ErrorStatus", "")
            items.append(SubscribeItem(info.get("TemplateId", ""), status, info.get("PopupScene", ""),
                                       info.get("MsgID", ""), info.get("ErrorCode", "")))
        details["subscriptions"] = tuple(items)
    return details
