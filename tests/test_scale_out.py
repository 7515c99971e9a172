"""Beyond one machine: several Rasa servers sharing a tracker store (PostgreSQL) and a lock
store (Redis), several gateways sharing Redis and the records database.

The quick tests check the pieces: RASA_URL with several servers and the store URLs, the
endpoints file Rasa reads them from, the client's sender hash and its failover, secrets
created once by processes starting together. The slow one runs TWO gateways and TWO real
Rasa servers (one action server) against ONE Redis and ONE PostgreSQL, with WeChat traffic
alternating between the gateways and platform retries landing on both at once, then
audits: one answer per message, one record per message, every tracker the same on both
servers; finally one Rasa server is stopped and its users are answered by the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets as pysecrets
import stat
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot import replies
from bot.config import PROJECT_ROOT, ConfigError, Settings
from bot.gateway import keys
from bot.rasa_client import RasaClient, RasaUnavailable, spread
from bot.records.pseudonym import pseudonym
from bot.runtime.local_stack import free_port
from bot.runtime.services import ServiceError, actions_spec, rasa_endpoints, rasa_spec, rasa_token
from bot.runtime.supervisor import Supervisor
from bot.secrets import GENERATORS, stored_secret
from bot.simulator import create_app as create_simulator
from bot.simulator.routes import PLATFORM
from bot.wechat.replies import SUCCESS, TEXT_LIMIT_BYTES, split_text
from tests.gateway_kit import (
    Poster,
    assistant_of,
    gateway_settings,
    running_gateway,
    serving,
    text_xml,
    wait_records,
)
from tests.records_kit import admin_connection, throwaway_database

# ---- settings and the endpoints file ------------------------------------------------------


def test_rasa_url_lists_servers_and_store_urls_are_checked(tmp_path: Path) -> None:
    s = Settings.from_env({"PATENTDESK_HOME": str(tmp_path), "RASA_URL": " http://a:5005/, http://b:5005 ,",
                           "RASA_TRACKER_STORE_URL": "postgres://rasa:pw@db/rasa",
                           "RASA_LOCK_STORE_URL": "redis://cache:6379/1"})
    assert s.rasa_urls == ("http://a:5005", "http://b:5005")
    assert s.rest_webhook_url == "http://a:5005/webhooks/rest/webhook"
    assert s.rasa_tracker_store_url == "postgresql://rasa:pw@db/rasa"  # the scheme SQLAlchemy 1.4 accepts
    env = s.child_env()
    assert env["RASA_TRACKER_STORE_URL"] == s.rasa_tracker_store_url
    assert env["RASA_LOCK_STORE_URL"] == "redis://cache:6379/1"
    assert Settings.from_env(env).rasa_urls == s.rasa_urls
    assert Settings.from_env({"PATENTDESK_HOME": str(tmp_path)}).rasa_tracker_store_url == ""  # in memory
    for name, value in [("RASA_URL", "a:5005"), ("RASA_URL", " , "),
                        ("RASA_TRACKER_STORE_URL", "mysql://rasa:hunter2@db/rasa"),
                        ("RASA_LOCK_STORE_URL", "memcached://rasa:hunter2@cache")]:
        with pytest.raises(ConfigError, match=name) as caught:
            Settings.from_env({"PATENTDESK_HOME": str(tmp_path), name: value})
        assert "hunter2" not in str(caught.value)


def test_endpoints_file_adds_the_shared_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.lock_store import LockStore, RedisLockStore
    from rasa.utils.endpoints import read_endpoint_config

    env = {"PATENTDESK_HOME": str(PROJECT_ROOT), "PATENTDESK_VAR_DIR": str(tmp_path), "RASA_PORT": "5106"}
    assert rasa_endpoints(Settings.from_env(env)) == PROJECT_ROOT / "endpoints.yml"  # nothing shared: as is
    shared = Settings.from_env({**env, "RASA_TRACKER_STORE_URL": "postgresql://rasa:pa$$@db:5432/rasa",
                                "RASA_LOCK_STORE_URL": "redis://:s%40cret@cache:6380/2"})
    path = rasa_endpoints(shared)
    assert path == tmp_path / "endpoints-5106.yml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds passwords
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://actions:5055/webhook")
    # read as Rasa reads it: the action endpoint still interpolated, `$` in a password left alone
    assert read_endpoint_config(str(path), "action_endpoint").url == "http://actions:5055/webhook"
    tracker = read_endpoint_config(str(path), "tracker_store")
    assert (tracker.type, tracker.url, tracker.kwargs) == ("SQL", "postgresql://rasa:pa$$@db:5432/rasa", {})
    lock = LockStore.create(read_endpoint_config(str(path), "lock_store"))  # connects lazily
    assert isinstance(lock, RedisLockStore) and lock.key_prefix == "patentdesk:lock:"
    kwargs = lock.red.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == ("cache", 6380, 2, "s@cret")

    home = tmp_path / "home"
    home.mkdir()
    (home / "endpoints.yml").write_text("lock_store:\n  type: redis\n")
    with pytest.raises(ServiceError, match="lock_store"):
        rasa_endpoints(dataclasses.replace(shared, home=home))


def test_secrets_created_once_by_processes_starting_together(tmp_path: Path) -> None:
    settings = Settings.from_env({"PATENTDESK_HOME": str(PROJECT_ROOT), "PATENTDESK_VAR_DIR": str(tmp_path)})
    start = threading.Barrier(8)
    got: list[str] = []

    def read() -> None:
        start.wait()
        got.append(stored_secret(settings, "pseudonym_key"))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 1
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["pseudonym-key"]  # no temporary left


# ---- the client: a stable hash of the sender, failover on connection errors ----------------


@contextlib.asynccontextmanager
async def fake_rasa(name: str, seen: list[tuple[str, str]]) -> AsyncIterator[str]:
    """A stand-in Rasa answering with its own name and noting who asked."""

    async def webhook(request: web.Request) -> web.Response:
        seen.append((name, (await request.json())["sender"]))
        return web.json_response([{"recipient_id": "x", "text": name}])

    async def events(request: web.Request) -> web.Response:
        seen.append((name, request.match_info["sender"]))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_post("/conversations/{sender}/tracker/events", events)
    async with serving(app) as url:
        yield url


@contextlib.asynccontextmanager
async def hanging_up() -> AsyncIterator[str]:
    """A server that reads the request and closes the connection without an answer: the
    request reached it, so the client must not send it anywhere else."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def test_sender_hash_spreads_stays_put_and_fails_over_on_connection_errors() -> None:
    seen: list[tuple[str, str]] = []
    senders = [f"wechat:o_user_{i}" for i in range(200)]
    dead = f"http://127.0.0.1:{free_port()}"
    async with fake_rasa("A", seen) as a, fake_rasa("B", seen) as b:
        async with RasaClient([a, b]) as client:
            first = {s: (await client.send(s, "你好")).text for s in senders}
            assert {s: (await client.send(s, "再问")).text for s in senders} == first  # a user stays put
            spread_over = Counter(first.values())
            assert spread_over["A"] > 70 and spread_over["B"] > 70, spread_over
            assert client.requests == {a: 2 * spread_over["A"], b: 2 * spread_over["B"]}
        # the same choice in another process, whatever its str hash seed: every gateway agrees
        probe = subprocess.run(
            [sys.executable, "-c", "from bot.rasa_client import spread; "
                                   "print(*(spread(f'wechat:o_user_{i}', 2) for i in range(200)))"],
            env={**os.environ, "PYTHONHASHSEED": "4242"}, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
        assert probe.stdout.split() == [str(spread(s, 2)) for s in senders]
        assert [first[s] for s in senders] == ["AB"[spread(s, 2)] for s in senders]

        async with RasaClient(f"{dead},{a}") as client:  # a server that refuses connections
            assert {(await client.send(s, "你好")).text for s in senders[:20]} == {"A"}
            await client.append_event(senders[0], {"event": "pause"})
            assert client.order(senders[0])[-1] == dead  # skipped for a while: tried last
            assert client.requests == {a: 21}

        seen.clear()
        async with hanging_up() as hangup, RasaClient([hangup, a]) as client:
            victim = next(s for s in senders if spread(s, 2) == 0)
            with pytest.raises(RasaUnavailable):
                await client.send(victim, "你好")
            assert seen == []  # not repeated on A: Rasa may have taken the message already

    async with RasaClient(dead) as client:
        with pytest.raises(RasaUnavailable, match="unreachable"):
            await client.send("wechat:o_alone", "你好")
        assert not await client.alive()


# ---- two gateways, two Rasa servers, one Redis, one PostgreSQL ------------------------------

QUESTIONS = [
    "申请专利的申请费是多少", "年费逾期了还能补交吗", "什么是专利权评价报告", "专利年费什么时候交",
    "发明专利从提交到拿证中间要经过几个环节啊", "专利转让怎么办理 需要签什么东西", "发明申请交了多久会被公开出来",
    "单位更名 专利权人名称要怎么同步改过来", "哪些专利费用可以减缴", "PCT国际申请怎么进入中国国家阶段",
    "专利权终止了还能恢复吗", "要求外国优先权需要交哪些文件",
]
USERS = 20
TURNS = 3


@dataclass
class Sent:
    openid: str
    text: str
    msg_key: str
    contents: list[str | None] = field(default_factory=list)  # each delivery's passive reply (None: success)


@dataclass
class RasaPair:
    urls: list[str]
    second: Supervisor  # the second Rasa server alone, to stop it


@contextlib.asynccontextmanager
async def rasa_pair(settings: Settings, model: Path, tracker_url: str, lock_url: str) -> AsyncIterator[RasaPair]:
    """Two Rasa servers with the same model and endpoints (PostgreSQL tracker store, Redis
    lock store), sharing one action server; started at once (each takes ~30 s and ~1.2 GB)."""
    shared = dataclasses.replace(settings, actions_port=free_port(), rasa_auth_token=rasa_token(settings),
                                 rasa_tracker_store_url=tracker_url, rasa_lock_store_url=lock_url)
    one, two = (dataclasses.replace(shared, rasa_port=free_port()) for _ in range(2))
    log_path = settings.var_dir / "logs" / "scale-out.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log_file:
        first, second = Supervisor(out=log_file, colour=False), Supervisor(out=log_file, colour=False)
        try:
            started = await asyncio.gather(first.start_all([actions_spec(shared), rasa_spec(one, model)], 150),
                                           second.start_all([rasa_spec(two, model)], 150), return_exceptions=True)
            for outcome in started:
                if isinstance(outcome, BaseException):
                    raise AssertionError(f"Rasa did not start (see {log_path})") from outcome
            yield RasaPair([f"http://{s.host}:{s.rasa_port}" for s in (one, two)], second)
        finally:
            await second.stop_all()
            await first.stop_all()


async def user_turns(http: aiohttp.ClientSession, url: str, token: str, openid: str) -> list[str]:
    async with http.get(f"{url}/conversations/wechat:{openid}/tracker", params={"token": token}) as resp:
        assert resp.status == 200, await resp.text()
        tracker = await resp.json()
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def answer_pieces(texts_out: list[str]) -> list[str]:
    """The platform-sized messages the gateway makes of an answer (as wechat_view does)."""
    text = "\n\n".join(t for t in texts_out if t.strip())
    return split_text(text, TEXT_LIMIT_BYTES) if text else []


@pytest.mark.slow
async def test_two_gateways_two_rasa_servers_one_redis_one_postgres(
        tmp_path: Path, settings: Settings, model: Path, index, redis_server) -> None:
    import psycopg2

    try:
        admin_connection().close()
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL for the tracker store and records ({str(exc).strip()})")
    token = rasa_token(settings)
    # what must be the same on every gateway, given through the environment as on real machines
    same_everywhere = {name.upper(): GENERATORS[name]()
                       for name in ("wechat_token", "wechat_aes_key", "wechat_appsecret", "pseudonym_key")}
    sim_port = free_port()
    with throwaway_database() as tracker_db, throwaway_database() as records_db:
        async with contextlib.AsyncExitStack() as stack:
            redis = aioredis.from_url(redis_server.url)
            stack.push_async_callback(redis.close)
            await redis.flushall()  # the session's Redis: no earlier test's outbox entries
            rasa = await stack.enter_async_context(rasa_pair(settings, model, tracker_db, redis_server.url))
            gateways_settings = [
                gateway_settings(tmp_path / f"gateway{n}", redis_server.url, ",".join(rasa.urls),
                                 WECHAT_ENCRYPT_MODE="safe", DATABASE_URL=records_db, RASA_AUTH_TOKEN=token,
                                 WECHAT_API_BASE=f"http://127.0.0.1:{sim_port}", **same_everywhere)
                for n in (1, 2)]
            sim = TestServer(create_simulator(gateways_settings[0]), host="127.0.0.1", port=sim_port)
            await sim.start_server()
            stack.push_async_callback(sim.close)
            gateways = [await stack.enter_async_context(running_gateway(s)) for s in gateways_settings]
            http = await stack.enter_async_context(aiohttp.ClientSession())
            posters = [Poster(s, str(g.make_url("")).rstrip("/")) for s, g in zip(gateways_settings, gateways, strict=True)]
            platform = sim.app[PLATFORM]
            msg_base = 7_300_000_000_000_000_000 + pysecrets.randbelow(10**12) * 1000

            async def deliver(gateway: int, xml: str) -> str | None:
                status, body = await posters[gateway].post(http, xml, safe=True)
                assert status == 200, body
                return None if body == SUCCESS else posters[gateway].open_reply(body, safe=True)["Content"]

            async def say(user: int, turn: int, text: str, gateway: int, retry: str = "") -> Sent:
                openid = f"o_scale_{user:02d}"
                platform.user_action(openid, "text", text)  # the user typed it: the 48-hour window opens
                msg_id = msg_base + user * 10 + turn
                xml = text_xml(openid, text, msg_id=msg_id)
                if retry == "concurrent":  # the platform's retry lands on the other gateway at once
                    contents = list(await asyncio.gather(deliver(gateway, xml), deliver(1 - gateway, xml)))
                elif retry == "later":  # the platform retries (lost response) after the answer
                    contents = [await deliver(gateway, xml), await deliver(1 - gateway, xml)]
                else:
                    contents = [await deliver(gateway, xml)]
                return Sent(openid, text, f"msg:{msg_id}", contents)

            async def converse(user: int) -> list[Sent]:
                sent = []
                for turn in range(TURNS):
                    retry = "concurrent" if turn == 1 and user % 2 == 0 else "later" if turn == 2 and user % 4 == 1 else ""
                    # the load balancer alternates between the gateways
                    sent.append(await say(user, turn, QUESTIONS[(user + 4 * turn) % len(QUESTIONS)], (user + turn) % 2,
                                          retry))
                return sent

            sent = [m for conv in await asyncio.gather(*(converse(u) for u in range(USERS))) for m in conv]
            assert len(sent) == USERS * TURNS

            # -- once per message: one bot run, one passive answer, no second customer-service message
            assistants = [assistant_of(g) for g in gateways]
            assert sum(a.bot_runs for a in assistants) == len(sent), [a.bot_runs for a in assistants]
            assert all(a.bot_runs > 0 for a in assistants)
            for _ in range(300):  # the outbox drained (customer-service messages sent)
                if not await redis.xlen(keys.OUTBOX):
                    break
                await asyncio.sleep(0.1)
            rows = await wait_records(gateways_settings[0], len(sent), timeout=60)
            await asyncio.sleep(1.5)  # a duplicate record or message would show up now
            rows = await wait_records(gateways_settings[0], len(sent), timeout=5)
            assert Counter(r["msg_key"] for r in rows) == Counter(m.msg_key for m in sent)  # each exactly once
            row_of = {r["msg_key"]: r for r in rows}
            expected_custom: dict[str, Counter[str]] = defaultdict(Counter)
            for m in sent:
                row = row_of[m.msg_key]
                assert row["text_in"] == m.text and row["decision"] not in ("handoff", "unavailable"), row
                assert row["user"] == pseudonym(same_everywhere["PSEUDONYM_KEY"], "wechat", m.openid)
                pieces = answer_pieces(row["texts_out"])
                passive = {c for c in m.contents if c is not None}
                if row["path"].startswith("passive"):
                    assert passive == {pieces[0]}, (m, row)  # the other delivery: the same, or `success`
                    expected_custom[m.openid].update(pieces[1:])
                else:
                    assert row["path"] == "async" and not passive, (m, row)
                    expected_custom[m.openid].update(pieces)
            for user in range(USERS):
                openid = f"o_scale_{user:02d}"
                custom = Counter(e["text"] for e in platform.inbox(openid) if e["via"] == "custom")
                assert custom == expected_custom[openid], openid
                mine = [r for r in rows if r["user"] == pseudonym(same_everywhere["PSEUDONYM_KEY"], "wechat", openid)]
                assert len(mine) == TURNS and len({r["enquiry_id"] for r in mine}) == 1  # one enquiry each

            # -- both Rasa servers served, and both read every conversation the same from PostgreSQL
            served = sum((a.rasa.requests for a in assistants), Counter())
            assert set(served) == set(rasa.urls) and sum(served.values()) == len(sent), served
            asked: dict[str, list[str]] = defaultdict(list)
            for m in sent:
                asked[m.openid].append(m.text)
            for openid, texts in asked.items():
                assert await user_turns(http, rasa.urls[0], token, openid) == texts, openid
                assert await user_turns(http, rasa.urls[1], token, openid) == texts, openid

            # -- one Rasa server goes away: its users are answered by the other
            movers = [o for o in asked if assistants[0].rasa.order(f"wechat:{o}")[0] == rasa.urls[1]][:6]
            assert movers
            await rasa.second.stop_all()
            await asyncio.sleep(0.5)
            late = [await say(int(o[-2:]), TURNS, "专利年费什么时候交", n % 2) for n, o in enumerate(movers)]
            rows = await wait_records(gateways_settings[0], len(sent) + len(late), timeout=30)
            assert len(rows) == len(sent) + len(late)
            row_of = {r["msg_key"]: r for r in rows}
            for m in late:
                assert m.contents[0] != replies.ASSISTANT_UNAVAILABLE, m
                assert row_of[m.msg_key]["decision"] != "unavailable", row_of[m.msg_key]
                assert await user_turns(http, rasa.urls[0], token, m.openid) == [*asked[m.openid], m.text]
            assert sum((a.rasa.requests for a in assistants), Counter())[rasa.urls[0]] == served[rasa.urls[0]] + len(late)
            # nothing was generated under a gateway's var/: the secrets came from the environment
            assert not any((s.var_dir / "secrets").exists() for s in gateways_settings)
