"""Driving the load: simulated WeChat users through the gateway, and the same texts straight
to Rasa's REST webhook as the baseline."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable

import aiohttp

from bench.load.measure import Figures, figures
from bench.load.users import Sent, UserLog, WeChatUser, conversation
from bot import replies
from bot.config import Settings
from bot.wechat.crypto import WeChatCrypto


async def load(settings: Settings, questions: list[str], users: int, concurrency: int, *, seconds: float = 0.0,
               think: float = 0.0, human_share: float = 0.05, seed: int = 7, prefix: str = "o_load",
               on_tick: Callable[[], None] | None = None,
               stop: asyncio.Event | None = None) -> tuple[list[UserLog], float]:
    """`concurrency` users at a time, each holding a conversation, until `users` conversations
    are done (or `seconds` have passed, when given). Returns the logs and the wall time."""
    crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    rng = random.Random(seed)
    numbers = itertools.count()
    logs: list[UserLog] = []
    start = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency * 2)

    def more() -> bool:
        if stop is not None and stop.is_set():
            return False
        if seconds:
            return time.perf_counter() - start < seconds
        return len(logs) < users

    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker(w: int) -> None:
            while more():
                n = next(numbers)
                if not seconds and n >= users:
                    return
                user = WeChatUser(session, settings, crypto, f"{prefix}_{w}_{n}")
                logs.append(await conversation(user, questions, random.Random(rng.random()), human_share, think))

        async def ticker() -> None:
            while on_tick:
                on_tick()
                await asyncio.sleep(1.0)

        tick = asyncio.create_task(ticker())
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        tick.cancel()
    return logs, time.perf_counter() - start


def summarise(path: str, logs: list[UserLog], wall: float) -> Figures:
    """A polite "system busy" apology is counted as an error: the user was not helped."""
    sent = [s for log in logs for s in log.sent]
    ok = [s for s in sent if not s.error and s.reply != replies.ASSISTANT_UNAVAILABLE]
    return figures(path, [s.latency for s in ok], wall, len(sent) - len(ok), sum(s.passive for s in ok))


async def baseline(settings: Settings, logs: list[UserLog], concurrency: int) -> tuple[Figures, list[float]]:
    """The same messages, user by user in the same order, straight to Rasa's REST webhook."""
    scripts = [[s.text for s in log.sent] for log in logs]
    latencies: list[float] = []
    errors = 0
    queue = list(enumerate(scripts))
    start = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        async def worker() -> None:
            nonlocal errors
            while queue:
                i, texts = queue.pop()
                sender = f"o_baseline_{int(start)}_{i}"
                for text in texts:
                    t0 = time.perf_counter()
                    try:
                        async with session.post(settings.rest_webhook_url, json={"sender": sender, "message": text},
                                                timeout=aiohttp.ClientTimeout(total=15)) as resp:
                            await resp.read()
                            if resp.status != 200:
                                errors += 1
                                continue
                    except (TimeoutError, aiohttp.ClientError):
                        errors += 1
                        continue
                    latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return figures("Rasa REST (baseline)", latencies, wall, errors, len(latencies)), latencies


def all_sent(logs: list[UserLog]) -> list[Sent]:
    return [s for log in logs for s in log.sent]


async def warm(settings: Settings, questions: list[str], concurrency: int) -> None:
    """Every distinct question once through Rasa, so the runs that follow are measured in
    steady state (query vectors cached) and on an equal footing."""
    texts = list(dict.fromkeys(questions))
    async with aiohttp.ClientSession() as session:
        async def worker(n: int) -> None:
            while texts:
                text = texts.pop()
                async with session.post(settings.rest_webhook_url, json={"sender": f"o_warm_rest_{n}", "message": text},
                                        timeout=aiohttp.ClientTimeout(total=30)) as resp:
                    await resp.read()

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
