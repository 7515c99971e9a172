"""The write path end to end, with a real Redis: buffer -> stream -> writer -> SQL.

No loss and no duplicates across a database outage (SQLite file gone, PostgreSQL refusing
connections), a writer killed with SIGKILL in the middle of a batch, and a crash between
commit and ack; the spool when Redis is down; flush on shutdown. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from sqlalchemy import func, select

from bot.config import PROJECT_ROOT
from bot.records.buffer import STREAM, RecordBuffer
from bot.records.episodes import apply_events
from bot.records.schema import messages, rejected_events
from bot.records.store import fetch_exchanges, list_enquiries, make_engine
from bot.records.writer import GROUP, RecordWriter
from bot.streams import field
from tests.records_kit import User, admin_connection, pg_admin_sql, pg_name

pytest_plugins = ["tests.records_fixtures"]
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def redis(redis_server):
    client = aioredis.from_url(redis_server.url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.close()


def user_messages(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(messages.c.event_key).where(messages.c.who == "user")).scalars())


async def wait_until(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def traffic(n: int, prefix: str) -> list[dict]:
    """n exchanges from n // 3 users, a minute apart."""
    users = [User(f"u_{prefix}{i}") for i in range(max(n // 3, 1))]
    return [users[i % len(users)].says(i, f"第{i}个问题", entry_id="annual-fee-deadline", key=f"msg:{prefix}{i}")
            for i in range(n)]


async def test_buffer_to_sql_retried_message_once_and_flush_on_shutdown(db_url, redis, tmp_path) -> None:
    engine = make_engine(db_url)
    spool = tmp_path / "spool.jsonl"
    buffer = RecordBuffer(redis, spool)
    writer = RecordWriter(redis, engine, spool, consumer="w-main", retry_delay=0.1)
    task = asyncio.create_task(writer.run())
    try:
        retried = User("u_retry").legacy(0, "年费逾期了还能补交吗", "msg:6000000000000000042", entry_id="annual-fee-deadline")
        for _ in range(3):  # the platform delivered it three times
            await buffer.add(retried)
        for ev in traffic(6, "flow"):
            await buffer.add(ev)
        await wait_until(lambda: len(user_messages(engine)) >= 7, what="7 records")
        await asyncio.sleep(0.5)
        assert len(fetch_exchanges(engine, msg_key="msg:6000000000000000042")) == 1
        assert len(user_messages(engine)) == 7 and writer.totals.duplicates == 2
    finally:
        writer.stop()
        await asyncio.wait_for(task, 5)
    # the gateway stops: its writer is not running, what is buffered is written by flush
    for ev in traffic(4, "late"):
        await buffer.add(ev)
    await writer.flush()
    assert len(user_messages(engine)) == 11 and await redis.xlen(STREAM) == 0
    engine.dispose()


class Outage:
    """Takes the records database away and brings it back, as a real outage would."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
        self.moved: list[tuple[Path, Path]] = []

    def start(self) -> None:
        if self.sqlite is not None:  # the file (and its WAL) gone; a directory in its place
            for suffix in ("", "-wal", "-shm"):
                path = Path(f"{self.sqlite}{suffix}")
                if path.exists():
                    away = path.with_name(path.name + ".away")
                    path.rename(away)
                    self.moved.append((away, path))
            self.sqlite.mkdir()
        else:  # the server refuses connections to this database and drops the open ones
            name = pg_name(self.url)
            pg_admin_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            pg_admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", name)

    def end(self) -> None:
        if self.sqlite is not None:
            shutil.rmtree(self.sqlite)
            for away, path in self.moved:
                away.rename(path)
        else:
            pg_admin_sql(f'ALTER DATABASE "{pg_name(self.url)}" ALLOW_CONNECTIONS true')


async def test_database_outage_delays_records_and_loses_none(db_url, redis, tmp_path) -> None:
    engine = make_engine(db_url)
    spool = tmp_path / "spool.jsonl"
    buffer = RecordBuffer(redis, spool)
    writer = RecordWriter(redis, engine, spool, consumer="w-outage", retry_delay=0.2)
    task = asyncio.create_task(writer.run())
    outage = Outage(db_url)
    try:
        for ev in traffic(6, "before"):
            await buffer.add(ev)
        await wait_until(lambda: len(user_messages(engine)) == 6, what="the first records")
        outage.start()
        slowest = 0.0
        during = traffic(30, "during")
        for ev in during:
            started = time.perf_counter()
            await buffer.add(ev)  # what a reply waits for: one XADD, database or not
            slowest = max(slowest, time.perf_counter() - started)
        await asyncio.sleep(1.5)  # the writer tries, fails, retries
        assert await redis.xlen(STREAM) == 30, "events must wait in the stream while the database is down"
        assert slowest < 0.2 and not spool.exists()
        outage.end()
        await wait_until(lambda: len(user_messages(engine)) >= 36, timeout=30, what="the delayed records")
        await asyncio.sleep(0.5)
        keys = user_messages(engine)
        assert len(keys) == 36 and len(set(keys)) == 36
        assert set(keys) >= {ev["event_key"] for ev in during}
        assert await redis.xlen(STREAM) == 0
    finally:
        writer.stop()
        await asyncio.wait_for(task, 10)
        engine.dispose()


VICTIM = """
import asyncio, sys
from pathlib import Path
import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from bot.records.store import make_engine
from bot.records.writer import RecordWriter

async def main():
    writer = RecordWriter(aioredis.from_url(sys.argv[1]), make_engine(sys.argv[2]), Path(sys.argv[3]),
                          consumer="victim", retry_delay=0.2)
    await writer.run()

asyncio.run(main())
"""


class WriteLock:
    """Holds the database's write lock, so a writer blocks inside its batch transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = None

    def __enter__(self) -> WriteLock:
        if self.url.startswith("sqlite:///"):
            import sqlite3

            self.conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            import psycopg2

            self.conn = psycopg2.connect(self.url)
            with self.conn.cursor() as cur:
                cur.execute("LOCK TABLE enquiries IN ACCESS EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.rollback()
        self.conn.close()


def waiting_on_a_lock(url: str) -> bool:
    conn = admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                        (pg_name(url),))
            return cur.fetchone()[0] == 1
    finally:
        conn.close()


async def test_writer_killed_mid_batch_is_taken_over_without_loss_or_duplicates(db_url, redis, redis_server,
                                                                              tmp_path) -> None:
    engine = make_engine(db_url)
    spool = tmp_path / "spool.jsonl"
    buffer = RecordBuffer(redis, spool)
    events = traffic(45, "kill")
    for ev in events:
        await buffer.add(ev)
    with WriteLock(db_url):
        victim = subprocess.Popen([sys.executable, "-c", VICTIM, redis_server.url, db_url, str(spool)],
                                  cwd=PROJECT_ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        try:
            async def victim_holds_batch() -> bool:
                try:
                    pending = await redis.xpending_range(STREAM, GROUP, min="-", max="+", count=100,
                                                         consumername="victim")
                except ResponseError:  # NOGROUP: the victim has not started reading
                    return False
                return len(pending) == 45

            deadline = time.monotonic() + 30
            while not await victim_holds_batch():
                assert time.monotonic() < deadline and victim.poll() is None, "the victim never read its batch"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # now inside its transaction, waiting for the lock
            if not db_url.startswith("sqlite"):
                assert waiting_on_a_lock(db_url), "the victim should be blocked inside its batch"
        finally:
            victim.send_signal(signal.SIGKILL)
            victim.wait()
    assert user_messages(engine) == []  # nothing of the killed batch was committed
    rescuer = RecordWriter(redis, engine, spool, consumer="rescuer", reclaim_ms=300, retry_delay=0.2)
    deadline = time.monotonic() + 30
    while len(user_messages(engine)) < 45:
        assert time.monotonic() < deadline, "the killed writer's entries were not reclaimed"
        await rescuer.drain_once()
        await asyncio.sleep(0.1)
    keys = user_messages(engine)
    assert sorted(keys) == sorted(ev["event_key"] for ev in events)
    assert await redis.xlen(STREAM) == 0
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0
    engine.dispose()


async def test_crash_between_commit_and_ack_replays_without_duplicates(db_url, redis, tmp_path) -> None:
    engine = make_engine(db_url)
    spool = tmp_path / "spool.jsonl"
    buffer = RecordBuffer(redis, spool)
    for ev in traffic(9, "ack"):
        await buffer.add(ev)
    crashed = RecordWriter(redis, engine, spool, consumer="crashed")
    entries = await crashed.stream.next_batch()
    apply_events(engine, [field(f, "record") for _, f in entries])  # committed ... and the process dies: no ack
    before = user_messages(engine)
    assert len(before) == 9 and await redis.xlen(STREAM) == 9
    successor = RecordWriter(redis, engine, spool, consumer="successor", reclaim_ms=100)
    await asyncio.sleep(0.2)
    assert await successor.drain_once() == 9  # reclaimed, applied again, all known: acked
    assert successor.totals.duplicates == 9 and sorted(user_messages(engine)) == sorted(before)
    assert await redis.xlen(STREAM) == 0
    engine.dispose()


async def test_a_ticket_transfer_without_its_ticket_is_set_aside_not_blocking_the_batch(db_url, redis,
                                                                                       tmp_path) -> None:
    """The enquiry of a ticket transfer is found by its ticket: one without a ticket_id is no
    record (it raised KeyError, so the batch was never acked and blocked the stream)."""
    engine = make_engine(db_url)
    spool = tmp_path / "spool.jsonl"
    buffer = RecordBuffer(redis, spool)
    u = User("u_transfer")
    events = [u.says(0, "转人工", decision="handoff"), u.handoff(0, "queued", team="business"),
              u.handoff(1, "ticket", ticket_id="T9", team="business"),
              u.handoff(60, "ticket_transfer", team="tech", from_team="business", note="证书问题"),
              u.handoff(61, "ticket_transfer", ticket_id="T9", team="tech", from_team="business", note="证书问题")]
    for ev in events:
        await buffer.add(ev)
    writer = RecordWriter(redis, engine, spool, consumer="w-transfer")
    assert await writer.drain_once() == 5 and await redis.xlen(STREAM) == 0
    assert (writer.totals.stored, writer.totals.rejected) == (4, 1)
    with engine.connect() as conn:
        [bad] = conn.execute(select(rejected_events)).all()
    assert bad.error == "missing ticket_id" and events[3]["event_key"] in bad.raw
    [enq] = list_enquiries(engine)
    assert enq["ticket_id"] == "T9" and enq["ticket_team"] == "tech"
    engine.dispose()


async def test_redis_down_records_spool_then_replay_once(db_url, redis, tmp_path) -> None:
    from tests.conftest import RedisServer

    engine = make_engine(db_url)
    spool = tmp_path / "spool.jsonl"
    dead = aioredis.from_url(RedisServer(tmp_path / "never-started").url, socket_connect_timeout=0.5)
    down = RecordBuffer(dead, spool)
    for ev in traffic(5, "spool"):
        await down.add(ev)
    assert len(spool.read_text(encoding="utf-8").splitlines()) == 5
    writer = RecordWriter(redis, engine, spool, consumer="w-spool")
    await writer.drain_once()
    assert len(user_messages(engine)) == 5 and not spool.exists()
    await dead.close()
    engine.dispose()


async def test_writer_migrates_an_empty_database_itself(redis, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'records.db'}"
    engine = make_engine(url)
    buffer = RecordBuffer(redis, tmp_path / "spool.jsonl")
    await buffer.add(User("u_fresh").says(0, "你好", decision="smalltalk"))
    writer = RecordWriter(redis, engine, tmp_path / "spool.jsonl", consumer="w-fresh")
    assert await writer.drain_once() == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 2
    engine.dispose()
