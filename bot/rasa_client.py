"""Talking to the Rasa server's REST webhook, the way every client of ours does.

Several Rasa servers sharing one tracker store (and a Redis lock store) can serve the
same conversations, so any of them gives the right answer. The client still sends each
conversation to one of them, picked by a stable hash of the sender id: load spreads
evenly, every gateway picks the same server for a user (so Rasa's lock rarely has to
arbitrate between servers), and a user's turns stay on one server's warm connections.
A server that refuses the connection is skipped for a few seconds and the next one in
that conversation's order is tried. Only a failed *connection* moves on: once a request
may have reached Rasa, retrying it elsewhere could run the same user message twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger("patentdesk.rasa")

DOWN_SECONDS = 10.0  # how long a server that refused a connection goes to the back of the order


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


def spread(sender: str, servers: int) -> int:
    """The index of a sender's first-choice server: a hash that is the same in every process
    and on every machine (Python's own `hash` of a str is salted per process)."""
    digest = hashlib.blake2b(sender.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % servers


def _before_request(exc: BaseException) -> bool:
    """True when the request surely never reached the server, so another may take it."""
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, unreachable, DNS
        return True
    # aiohttp 3.9 reports a connect timeout as ServerTimeoutError("Connection timeout to host ...")
    return isinstance(exc, aiohttp.ServerTimeoutError) and str(exc).startswith("Connection timeout")


class RasaClient:
    def __init__(self, base_url: str | Sequence[str], timeout: float = 30.0, auth_token: str = "",
                 connect_timeout: float = 3.0) -> None:
        urls = base_url.split(",") if isinstance(base_url, str) else list(base_url)
        self.base_urls: tuple[str, ...] = tuple(u.strip().rstrip("/") for u in urls if u.strip())
        if not self.base_urls:
            raise ValueError("RasaClient needs at least one Rasa URL")
        self.auth_token = auth_token
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._down_until: dict[str, float] = {}
        self.requests: Counter[str] = Counter()  # per server: requests it answered (for /status and tests)

    async def __aenter__(self) -> RasaClient:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session:
            await self._session.close()

    def order(self, sender: str) -> list[str]:
        """The servers to try for `sender`: its hashed first choice and the rest after it in a
        ring, with those that recently refused a connection moved to the end."""
        n = len(self.base_urls)
        first = spread(sender, n) if n > 1 else 0
        ring = [self.base_urls[(first + i) % n] for i in range(n)]
        now = time.monotonic()
        return sorted(ring, key=lambda url: self._down_until.get(url, 0.0) > now)  # stable: ring order kept

    async def _request(self, sender: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """One request for `sender`'s conversation; (status, JSON body or None)."""
        assert self._session is not None
        failures: list[str] = []
        for url in self.order(sender):
            try:
                async with self._session.request(method, url + path, **kwargs) as resp:
                    body = await resp.json() if resp.status == 200 else None
                    self._down_until.pop(url, None)
                    self.requests[url] += 1
                    return resp.status, body
            except (aiohttp.ClientError, TimeoutError) as exc:
                if not _before_request(exc):
                    raise RasaUnavailable(f"Rasa server at {url} failed: {exc!r}") from exc
                self._down_until[url] = time.monotonic() + DOWN_SECONDS
                failures.append(f"{url}: {exc}")
                if len(self.base_urls) > 1:
                    log.warning("Rasa server %s unreachable (%s); trying the next", url, exc)
        raise RasaUnavailable("Rasa unreachable: " + "; ".join(failures))

    async def alive(self) -> bool:
        """True when at least one of the servers answers."""
        assert self._session is not None
        for url in self.base_urls:
            try:
                async with self._session.get(url + "/", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200 and "Rasa" in await resp.text():
                        return True
            except (aiohttp.ClientError, TimeoutError):
                continue
        return False

    async def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> BotReply:
        body = {"sender": sender, "message": text, "metadata": metadata or {}}
        status, messages = await self._request(sender, "POST", "/webhooks/rest/webhook", json=body)
        if status != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {status}")
        return parse_messages(messages)

    async def append_event(self, sender: str, event: dict[str, Any]) -> None:
        """Add an event to a conversation's tracker (Rasa's HTTP API, `--enable-api`).

        Used for `{"event": "pause"}` while a person has the conversation (Rasa then
        predicts nothing for that user) and `{"event": "resume"}` when it comes back.
        """
        path = f"/conversations/{quote(sender, safe='')}/tracker/events"
        params = {"include_events": "NONE"}
        if self.auth_token:
            params["token"] = self.auth_token
        status, _ = await self._request(sender, "POST", path, json=event, params=params)
        if status != 200:
            raise RasaUnavailable(f"Rasa refused {event.get('event')} for {sender}: HTTP {status}")
