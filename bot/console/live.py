"""The console's live side: one pub/sub listener per console app, fanned out to sockets.

Each open console is a `ConsoleSocket` with its own writer task: it wakes when an event
arrives (queue changed, a message came in...) or at each heartbeat (every lease/3
seconds, renewing the agent's presence and leases), and sends a fresh snapshot. Bursts
of events collapse into one snapshot because the writer only looks at a flag.

redis-py 4.6's blocking pub/sub reads do not cancel cleanly, so the listener polls
`get_message(timeout=...)` and checks a stop flag between polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from bot.console.sessions import REVOKED_CHANNEL, Session
from bot.gateway.handoff_flow import EVENTS_CHANNEL

log = logging.getLogger("patentdesk.console")

POLL_SECONDS = 0.5
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
CLOSE_REVOKED = 4401  # application close code: the session ended (logout elsewhere, account disabled)
TRANSCRIPT_EVENTS = {"message", "assigned", "closed", "transferred", "queue"}


@dataclass(eq=False)
class ConsoleSocket:
    session: Session
    ws: web.WebSocketResponse
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    watching: str | None = None  # the conversation whose transcript the page shows
    touched: set[str] = field(default_factory=set)  # conversations changed since the last push
    revoked: bool = False
    closing: bool = False  # the writer is closing the socket: let it finish

    def poke(self, conv_id: str | None = None) -> None:
        if conv_id:
            self.touched.add(conv_id)
        self.dirty.set()

    def revoke(self) -> None:
        self.revoked = True
        self.dirty.set()

    async def send(self, body: dict[str, Any]) -> bool:
        if self.ws.closed:
            return False
        async with self.send_lock:
            try:
                await self.ws.send_str(json.dumps(body, ensure_ascii=False))
            except (ConnectionResetError, RuntimeError):
                return False
        return True


class Hub:
    """The registry of open consoles and the listener feeding them."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.sockets: set[ConsoleSocket] = set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._redis: aioredis.Redis | None = None
        self.connected = asyncio.Event()  # subscribed (tests wait for it before publishing)

    def add(self, sock: ConsoleSocket) -> None:
        self.sockets.add(sock)

    def remove(self, sock: ConsoleSocket) -> None:
        self.sockets.discard(sock)

    def poke_all(self, conv_id: str | None = None) -> None:
        for sock in self.sockets:
            sock.poke(conv_id)

    def revoke(self, login: str) -> None:
        for sock in self.sockets:
            if sock.session.login == login:
                sock.revoke()

    def dispatch(self, channel: str, data: str) -> None:
        if channel == REVOKED_CHANNEL:
            self.revoke(data)
            return
        try:
            event = json.loads(data)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            event = {}
        conv_id = event.get("conv_id")
        # every event refreshes the lists; some also change the conversation's transcript
        touched = event.get("type") in TRANSCRIPT_EVENTS and isinstance(conv_id, str)
        self.poke_all(conv_id if touched else None)

    async def start(self) -> None:
        self._redis = aioredis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=10,
                                        decode_responses=True)
        self._task = asyncio.create_task(self._listen(), name="console-events")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=POLL_SECONDS * 4 + 2)
            except TimeoutError:
                log.warning("console: event listener did not stop in time")
        if self._redis is not None:
            await self._redis.close()
            await self._redis.connection_pool.disconnect()

    async def close_all(self) -> None:
        for sock in list(self.sockets):
            with contextlib.suppress(Exception):
                await sock.ws.close(code=1001, message=b"server shutting down")

    async def _listen(self) -> None:
        assert self._redis is not None
        failures = 0
        while not self._stopping:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(EVENTS_CHANNEL, REVOKED_CHANNEL)
                self.connected.set()
                if failures:
                    log.info("console: event listener reconnected")
                    self.poke_all()  # whatever happened meanwhile: refresh everyone
                failures = 0
                while not self._stopping:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
                    if message and message.get("type") == "message":
                        self.dispatch(str(message["channel"]), str(message["data"]))
            except (RedisError, OSError) as exc:
                self.connected.clear()
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                if not failures:
                    log.warning("console: event listener lost Redis (%s); retrying", exc)
                failures += 1
                await self._pause(delay)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.close()

    async def _pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < end:
            await asyncio.sleep(min(POLL_SECONDS, end - time.monotonic()))


Tick = Callable[[ConsoleSocket], Awaitable[bool]]
Push = Callable[[ConsoleSocket], Awaitable[None]]


async def writer(sock: ConsoleSocket, interval: float, tick: Tick, push: Push) -> None:
    """Push snapshots on events and at each heartbeat; `tick` (the heartbeat) returning
    False ends the socket (session gone)."""
    next_beat = 0.0
    while not sock.ws.closed:
        wait = max(next_beat - time.monotonic(), 0.0)
        if wait:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sock.dirty.wait(), wait)
        sock.dirty.clear()
        if sock.revoked:
            await sock.send({"type": "logout", "message": "您的登录已失效，请重新登录。"})
            sock.closing = True
            await sock.ws.close(code=CLOSE_REVOKED, message=b"session ended")
            return
        if time.monotonic() >= next_beat:
            next_beat = time.monotonic() + interval
            if not await tick(sock):
                sock.revoke()
                continue
        await push(sock)
