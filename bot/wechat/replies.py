"""Passive replies and the platform's text-length limit."""

from __future__ import annotations

import re

from bot.wechat.messages import Message
from bot.wechat.xmlio import render_xml

# The platform truncates text replies and customer-service texts beyond 2048 bytes.
TEXT_LIMIT_BYTES = 2048
SUCCESS = "success"


def text_reply(message: Message, content: str, now: int) -> str:
    """Reply XML to `message`: sender and receiver swapped."""
    return render_xml(
        {
            "ToUserName": message.from_user,
            "FromUserName": message.to_user,
            "CreateTime": now,
            "MsgType": "text",
            "Content": content,
        }
    )


_BREAKS = re.compile(r"(?<=\n)|(?<=[。！？；;!?])")


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Pieces of at most `limit` UTF-8 bytes, cut at line or sentence ends where possible."""
    if len(text.encode("utf-8")) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for chunk in (c for c in _BREAKS.split(text) if c):
        while len(chunk.encode("utf-8")) > limit:  # a single over-long sentence: hard cut
            head, chunk = _cut(chunk, limit)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
        if len((current + chunk).encode("utf-8")) > limit:
            pieces.append(current)
            current = chunk
        else:
            current += chunk
    if current:
        pieces.append(current)
    return [p.strip("\n") for p in pieces if p.strip()]


def _cut(text: str, limit: int) -> tuple[str, str]:
    size = 0
    for i, ch in enumerate(text):
        size += len(ch.encode("utf-8"))
        if size > limit:
            return text[:i], text[i:]
    return text, ""
