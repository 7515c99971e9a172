"""Helpers for gateway tests: a gateway on a free port, and a client that signs like the platform."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Settings
from bot.gateway.app import ASSISTANT, OUTBOX, create_app
from bot.secrets import with_secrets
from bot.wechat.crypto import WeChatCrypto
from bot.wechat.signature import sign
from bot.wechat.xmlio import parse_fields, render_xml
from tests.conftest import make_env

ACCOUNT = "gh_patentdesk_demo"


def gateway_settings(var_dir: Path, redis_url: str, rasa_url: str, **extra: str) -> Settings:
    extra = {"WECHAT_ENCRYPT_MODE": "compat", "DATABASE_URL": f"sqlite:///{var_dir / 'records.db'}", **extra}
    env = make_env(var_dir, REDIS_URL=redis_url, RASA_URL=rasa_url, **extra)
    return with_secrets(Settings.from_env(env))


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[TestServer]:
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.gateway_port)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Any aiohttp app on a free loopback port (stand-ins, proxies); yields its base URL."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def assistant_of(server: TestServer):
    return server.app[ASSISTANT]


def outbox_of(server: TestServer):
    return server.app[OUTBOX]


_msg_ids = iter(range(7_000_000_000_000_000_000, 8_000_000_000_000_000_000, 7919))


def text_xml(openid: str, content: str, msg_id: int | None = None, create_time: int | None = None) -> str:
    return render_xml({"ToUserName": ACCOUNT, "FromUserName": openid, "CreateTime": create_time or int(time.time()),
                       "MsgType": "text", "Content": content, "MsgId": msg_id or next(_msg_ids)})


def event_xml(openid: str, event: str, key: str = "", create_time: int | None = None) -> str:
    return render_xml({"ToUserName": ACCOUNT, "FromUserName": openid, "CreateTime": create_time or int(time.time()),
                       "MsgType": "event", "Event": event, "EventKey": key})


@dataclass
class Poster:
    """Posts as the platform would: plaintext or safe mode, correctly signed unless told otherwise."""

    settings: Settings
    url: str

    def query(self, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
        ts = str(timestamp or int(time.time()))
        nonce = nonce or secrets.token_hex(5)
        return {"timestamp": ts, "nonce": nonce, "signature": sign(self.settings.wechat_token, ts, nonce)}

    async def post(self, session: aiohttp.ClientSession, xml: str, safe: bool = False,
                   query: dict[str, str] | None = None, content_type: str = "text/xml") -> tuple[int, str]:
        params = query or self.query()
        body = xml
        if safe:
            crypto = WeChatCrypto(self.settings.wechat_token, self.settings.wechat_aes_key, self.settings.wechat_appid)
            envelope = parse_fields(crypto.encrypt_message(xml, params["timestamp"], params["nonce"]))
            body = render_xml({"ToUserName": ACCOUNT, "Encrypt": envelope["Encrypt"]})
            params = {**params, "encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}
        async with session.post(self.url + "/wechat", params=params, data=body.encode(),
                                headers={"Content-Type": content_type}) as resp:
            return resp.status, await resp.text()

    def open_reply(self, body: str, safe: bool) -> dict[str, str]:
        fields = parse_fields(body)
        if not safe:
            return fields
        crypto = WeChatCrypto(self.settings.wechat_token, self.settings.wechat_aes_key, self.settings.wechat_appid)
        inner = crypto.decrypt_message(body.encode(), fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
        return parse_fields(inner)


async def wait_records(settings: Settings, count: int, timeout: float = 10.0, **where: object) -> list[dict]:
    """Exchanges (a user message with what was answered, from the enquiry records) once the
    gateway's own writer has stored at least `count` of them."""
    import asyncio

    from sqlalchemy.exc import OperationalError, ProgrammingError

    from bot.records.store import fetch_exchanges, make_engine

    engine = make_engine(settings.database_url)
    try:
        rows: list[dict] = []
        for _ in range(int(timeout / 0.1)):
            try:
                rows = fetch_exchanges(engine, **where)
            except (OperationalError, ProgrammingError):  # tables not migrated yet
                rows = []
            if len(rows) >= count:
                break
            await asyncio.sleep(0.1)
        return sorted(rows, key=lambda r: (r["received_at"], r["id"]))
    finally:
        engine.dispose()
