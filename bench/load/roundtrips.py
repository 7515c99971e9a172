"""Redis round trips per user message on the bot path, counted on the server.

Redis counts the read events it processes on client sockets (`total_reads_processed` in
`INFO stats`): one per request a client writes, whether it carries one command or a whole
pipeline, so the delta over a run is the number of round trips every process of the stack
made. `INFO commandstats` says which commands they were (commands a Lua script runs inside
Redis are listed too, marked as such below, but cost no round trip).

The stack never goes quiet (upkeep ticks, blocking stream reads of the outbox and records
writers, agents' heartbeats), so the same stretch of time is first measured idle and that
rate is subtracted. The run is N fresh users asking questions one after another, waiting
for each answer, so every message goes through the gateway, Rasa and back.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import redis.asyncio as aioredis

from bench.load.users import WeChatUser
from bot.config import Settings
from bot.wechat.crypto import WeChatCrypto

# commands the handoff scripts run inside Redis (no round trip of their own)
SCRIPT_INNER = ("hset", "hget", "hmget", "hgetall", "zadd", "zrem", "zrange", "srem", "sadd", "scard",
                "hincrby", "pexpire", "pttl", "exists", "del", "zscore", "incr")


@dataclass
class Counts:
    reads: int
    commands: int
    by_command: Counter[str] = field(default_factory=Counter)


async def snapshot(client: aioredis.Redis) -> Counts:
    stats = await client.info("stats")
    cmd = await client.info("commandstats")
    by = Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in cmd.items()})
    return Counts(int(stats["total_reads_processed"]), int(stats["total_commands_processed"]), by)


def delta(after: Counts, before: Counts) -> Counts:
    by = Counter(after.by_command)
    by.subtract(before.by_command)
    return Counts(after.reads - before.reads, after.commands - before.commands, +by)


@dataclass
class RoundTrips:
    messages: int
    seconds: float
    idle_seconds: float
    run: Counts
    idle: Counts

    def _net(self, run: float, idle: float) -> float:
        return (run - idle * self.seconds / max(self.idle_seconds, 1e-9)) / max(self.messages, 1)

    @property
    def reads_per_message(self) -> float:
        return self._net(self.run.reads, self.idle.reads)

    @property
    def commands_per_message(self) -> float:
        return self._net(self.run.commands, self.idle.commands)

    def per_command(self) -> list[tuple[str, float]]:
        names = set(self.run.by_command) | set(self.idle.by_command)
        rows = [(n, self._net(self.run.by_command.get(n, 0), self.idle.by_command.get(n, 0))) for n in names]
        return sorted(((n, v) for n, v in rows if v >= 0.05), key=lambda nv: (-nv[1], nv[0]))

    def lines(self) -> list[str]:
        return [f"{self.messages} bot-path questions, one user after another (each waits for its answer), "
                f"{self.seconds:.1f} s; the same time idle before it is subtracted "
                f"({self.idle.reads / max(self.idle_seconds, 1e-9):.1f} round trips/s idle).", "",
                "| per user message | count |", "|---|---|",
                f"| Redis round trips (requests read, all processes) | {self.reads_per_message:.2f} |",
                f"| Redis commands (pipelined ones one by one, scripts' inner ones included) | "
                f"{self.commands_per_message:.2f} |", "",
                "| command | calls per message |", "|---|---|",
                *(f"| {n}{' (also inside scripts)' if n in SCRIPT_INNER else ''} | {v:.2f} |"
                  for n, v in self.per_command())]


async def measure(settings: Settings, questions: list[str], messages: int = 60,
                  prefix: str = "o_rt") -> RoundTrips:
    """`messages` questions, three per fresh user, sent one at a time."""
    client = aioredis.from_url(settings.effective_redis_url)
    crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    try:
        async with aiohttp.ClientSession() as session:
            users = [WeChatUser(session, settings, crypto, f"{prefix}_{int(time.time())}_{u}")
                     for u in range((messages + 2) // 3)]
            for user in users:  # following is not what is measured
                await user.follow()
            await asyncio.sleep(1.0)
            idle_seconds = 0.0
            run_seconds = 0.0
            run = Counts(0, 0, Counter())
            idle = Counts(0, 0, Counter())
            sent = 0
            # alternate idle and busy stretches so a periodic background job falls on both
            for block in range(3):
                share = messages // 3 + (1 if block < messages % 3 else 0)
                before = await snapshot(client)
                start = time.perf_counter()
                for i in range(share):
                    user = users[(sent + i) // 3]
                    await user.say(questions[(sent + i) * 7 % len(questions)], "question", tries=1)
                busy = time.perf_counter() - start
                after = await snapshot(client)
                run = _add(run, delta(after, before))
                run_seconds += busy
                sent += share
                before = await snapshot(client)
                await asyncio.sleep(busy)
                after = await snapshot(client)
                idle = _add(idle, delta(after, before))
                idle_seconds += busy
        # each snapshot is two round trips (and two INFO commands) of this client
        run = Counts(run.reads - 6, run.commands - 6, run.by_command)
        idle = Counts(idle.reads - 6, idle.commands - 6, idle.by_command)
        run.by_command.subtract({"info": 6})
        idle.by_command.subtract({"info": 6})
        return RoundTrips(sent, run_seconds, idle_seconds, run, idle)
    finally:
        await client.close()


def _add(a: Counts, b: Counts) -> Counts:
    by = Counter(a.by_command)
    by.update(b.by_command)
    return Counts(a.reads + b.reads, a.commands + b.commands, by)
