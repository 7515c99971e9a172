"""Talking to the Rasa server's REST webhook, the way every client of ours does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp


class RasaUnavailable(RuntimeError):
    """The Rasa server did not answer; callers apologise to the user instead of crashing."""


@dataclass
class BotReply:
    texts: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def info(self) -> dict[str, Any]:
        """The most significant payload: an answer/clarify/handoff over smalltalk."""
        rank = {"answer": 0, "clarify": 1, "handoff": 2, "fallback": 3, "out_of_scope": 4, "smalltalk": 5}
        if not self.payloads:
            return {"decision": "smalltalk", "entry_id": None, "confidence": None, "candidates": []}
        return sorted(self.payloads, key=lambda p: rank.get(p.get("decision", ""), 9))[0]


def parse_messages(messages: list[dict[str, Any]]) -> BotReply:
    reply = BotReply()
    for message in messages:
        if message.get("text"):
            reply.texts.append(str(message["text"]))
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("patentdesk"), dict):
            reply.payloads.append(custom["patentdesk"])
    return reply


class RasaClient:
    def __init__(self, base_url: str, timeout: float = 30.0, auth_token: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_token = auth_token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RasaClient:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session:
            await self._session.close()

    async def alive(self) -> bool:
        assert self._session is not None
        try:
            async with self._session.get(self.base_url + "/", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                return resp.status == 200 and "Rasa" in await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> BotReply:
        assert self._session is not None
        body = {"sender": sender, "message": text, "metadata": metadata or {}}
        try:
            async with self._session.post(self.base_url + "/webhooks/rest/webhook", json=body) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {resp.status}")
                return parse_messages(await resp.json())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa server at {self.base_url} unreachable: {exc}") from exc

    async def append_event(self, sender: str, event: dict[str, Any]) -> None:
        """Add an event to a conversation's tracker (Rasa's HTTP API, `--enable-api`).

        Used for `{"event": "pause"}` while a person has the conversation (Rasa then
        predicts nothing for that user) and `{"event": "resume"}` when it comes back.
        """
        assert self._session is not None
        url = f"{self.base_url}/conversations/{quote(sender, safe='')}/tracker/events"
        params = {"include_events": "NONE"}
        if self.auth_token:
            params["token"] = self.auth_token
        try:
            async with self._session.post(url, json=event, params=params) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa refused {event.get('event')} for {sender}: HTTP {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa server at {self.base_url} unreachable: {exc}") from exc
