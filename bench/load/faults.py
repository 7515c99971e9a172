"""Faults under load: kill -9 one process of the stack at a time, let the supervisor restart
it, and measure how long until a user gets a real answer again."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from bench.load.stack import Stack
from bench.load.users import UserLog, WeChatUser
from bot.config import Settings
from bot.wechat.crypto import WeChatCrypto

TARGETS = ("actions", "rasa", "gateway", "redis")
PROBE = "恢复权利请求费多少钱"   # answered outright from the knowledge base, with its source


@dataclass
class Recovery:
    target: str
    killed_pid: int
    restarted_after: float = -1.0    # seconds until the supervisor had a new process up
    answering_after: float = -1.0    # seconds until a user got a knowledge answer again
    degraded_replies: int = 0        # polite "please try again" replies while it was down

    def row(self) -> str:
        restarted = f"{self.restarted_after:.1f}" if self.restarted_after >= 0 else "not restarted"
        answering = f"{self.answering_after:.1f}" if self.answering_after >= 0 else "did not recover"
        return f"| {self.target} | {restarted} | {answering} | {self.degraded_replies} |"


HEADER = ("| killed (kill -9) | new process after s | answering again after s | polite holding replies |\n"
          "|---|---|---|---|")


async def _redis_ok(session: aiohttp.ClientSession, settings: Settings) -> bool:
    try:
        async with session.get(f"http://{settings.host}:{settings.gateway_port}/status",
                               timeout=aiohttp.ClientTimeout(total=2)) as resp:
            return resp.status == 200 and (await resp.json()).get("redis") == "ok"
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return False


async def inject(stack: Stack, settings: Settings, target: str, probes: list[UserLog], limit: float = 180.0) -> Recovery:
    crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    pid = stack.kill(target)
    killed = time.monotonic()
    rec = Recovery(target, pid)

    async def watch_restart() -> None:
        while rec.restarted_after < 0:
            if stack.restarted(target, pid):
                rec.restarted_after = time.monotonic() - killed
                return
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch_restart())
    async with aiohttp.ClientSession() as session:
        n = 0
        while time.monotonic() - killed < limit:
            probe = WeChatUser(session, settings, crypto, f"o_probe_{target}_{int(killed)}_{n}")
            n += 1
            await probe.follow()
            sent = await probe.say(PROBE, "question", tries=1)  # one try: we are timing, not retrying
            probes.append(probe.log)
            answered = sent.passive and "依据" in sent.reply
            if not answered and sent.passive:
                rec.degraded_replies += 1
            if answered and rec.restarted_after >= 0 and (target != "redis" or await _redis_ok(session, settings)):
                rec.answering_after = time.monotonic() - killed
                break
            await asyncio.sleep(0.25)
    watcher.cancel()
    return rec
