"""Simulated agents on the real console: log in over HTTP, stay online through the console's
WebSocket (its heartbeat renews presence and leases), take conversations, answer, close."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from dataclasses import dataclass, field

import aiohttp

from bot.config import PROJECT_ROOT

REPLY = "您好，我是人工客服。费减备案一般在提交后几个工作日内完成，您可以登录专利业务办理系统查看状态。"


def add_agent(env: dict[str, str], login: str, password: str) -> None:
    """`patentdesk agents add`, as an administrator would (idempotent for the bench)."""
    result = subprocess.run([sys.executable, "-m", "bot.cli", "agents", "add", login, "--name", login,
                             "--password-stdin", "--capacity", "5"], input=password + "\n", text=True,
                            capture_output=True, env=env, cwd=PROJECT_ROOT, timeout=120)
    if result.returncode != 0 and "exists" not in (result.stdout + result.stderr):
        raise RuntimeError(f"cannot add agent {login}: {result.stderr[-500:]}")


@dataclass
class AgentStats:
    login: str
    claimed: int = 0
    replied: int = 0
    closed: int = 0
    conversations: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


class Agent:
    def __init__(self, base_url: str, login: str, password: str) -> None:
        self.base = base_url.rstrip("/")
        self.login = login
        self.password = password
        self.stats = AgentStats(login)
        self._csrf = ""

    def _headers(self) -> dict[str, str]:
        return {"Origin": self.base, "X-CSRF-Token": self._csrf}

    async def _post(self, session: aiohttp.ClientSession, path: str, body: dict) -> tuple[int, dict]:
        async with session.post(f"{self.base}/console{path}", json=body, headers=self._headers()) as resp:
            data = await resp.json(content_type=None)
            return resp.status, data if isinstance(data, dict) else {}

    async def run(self, stop: asyncio.Event) -> AgentStats:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            status, data = await self._post(session, "/login", {"login": self.login, "password": self.password})
            if status != 200:
                self.stats.errors.append(f"login {status} {data}")
                return self.stats
            self._csrf = data.get("csrf", "")
            await self._post(session, "/api/presence", {"status": "online"})
            ws = await session.ws_connect(f"{self.base}/console/ws", headers={"Origin": self.base})
            reader = asyncio.create_task(self._drain(ws))
            try:
                while not stop.is_set():
                    await self._round(session)
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.5)
                await self._round(session)  # finish what is in hand
            finally:
                reader.cancel()
                await ws.close()
                with contextlib.suppress(aiohttp.ClientError):
                    await self._post(session, "/api/presence", {"status": "offline"})
        return self.stats

    async def _drain(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:  # snapshots pushed by the console; we poll instead
            pass

    async def _round(self, session: aiohttp.ClientSession) -> None:
        try:
            async with session.get(f"{self.base}/console/api/snapshot") as resp:
                snap = await resp.json(content_type=None)
            mine = [c for c in snap.get("conversations", []) if c.get("agent") == self.login]
            me = snap.get("me", {})
            if not mine and snap.get("queue") and me.get("load", 0) < me.get("capacity", 0):
                conv_id = snap["queue"][0]["conv_id"]
                status, _ = await self._post(session, f"/api/conversations/{conv_id}/claim", {})
                if status == 200:
                    self.stats.claimed += 1
            for conv in mine:
                conv_id = conv["conv_id"]
                if conv_id not in self.stats.conversations:
                    self.stats.conversations.add(conv_id)
                    status, _ = await self._post(session, f"/api/conversations/{conv_id}/reply", {"text": REPLY})
                    self.stats.replied += status == 200
                    continue  # close on the next round, as a person would after a moment
                status, _ = await self._post(session, f"/api/conversations/{conv_id}/close", {"outcome": "resolved"})
                self.stats.closed += status == 200
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            self.stats.errors.append(type(exc).__name__)
