"""The WeChat simulator against an independent echo gateway: real HTTP on loopback, no mocks.

The echo gateway below signs, seals and opens messages with hashlib + cryptography
directly (not bot.wechat), and those helpers are pinned to published vectors first, so the
simulator is checked against something other than itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import struct
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.config import Settings
from bot.runtime.local_stack import free_port
from bot.simulator import NOTICE, PLATFORM, create_app
from bot.wechat.menu import MENU

pytestmark = pytest.mark.asyncio(loop_scope="session")

TOKEN = "simtoken2024"
APPID = "wx5a1e0c0ffee0demo"
SECRET = "0123456789abcdef0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DAY = 86400


# -- a reference implementation of the protocol, independent of bot.wechat -----------------

def ref_sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def ref_key(encoding_aes_key: str) -> bytes:
    return base64.b64decode(encoding_aes_key + "=")


def ref_decrypt(key: bytes, encrypted: str) -> tuple[str, str]:
    """(xml, appid) out of a platform envelope."""
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length].decode("utf-8"), plain[20 + length :].decode("utf-8")


def ref_encrypt(key: bytes, appid: str, xml: str) -> str:
    body = xml.encode("utf-8")
    plain = os.urandom(16) + struct.pack(">I", len(body)) + body + appid.encode("utf-8")
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def ref_fields(xml: str | bytes) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(xml)}


async def test_reference_helpers_match_published_vectors() -> None:
    # wechatpy's signature vector, and Tencent's WXBizMsgCrypt sample message
    assert ref_sign("test", "1410685589", "test") == "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
    encrypted = (
        "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2L"
        "dJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux"
        "5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJ"
        "pXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCz"
        "pu9GhglF2PE="
    )
    assert ref_sign("spamtest", "1409735669", "1320562132", encrypted) == "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
    xml, appid = ref_decrypt(ref_key(AES_KEY), encrypted)
    assert appid == "wx2c2769f8efd9abc2"
    assert ref_fields(xml)["Content"] == "abcdteT"
    assert ref_fields(xml)["MsgId"] == "6054768590064713728"
    again, _ = ref_decrypt(ref_key(AES_KEY), ref_encrypt(ref_key(AES_KEY), APPID, "<xml><A>甲</A></xml>"))
    assert again == "<xml><A>甲</A></xml>"


# -- the echo gateway ---------------------------------------------------------------------

def _cdata(text: str) -> str:
    return "<![CDATA[" + text + "]]>"


@dataclass
class EchoGateway:
    """A minimal account server: verifies, opens, answers "收到：<content>" (sealed in safe mode).

    `behaviour` picks a misbehaviour for a test: echo, success, empty, json, garbage,
    error500, fail_first (500 once, then echo), wrong_user, plain (unsealed reply in safe mode).
    """

    token: str = TOKEN
    appid: str = APPID
    aes_key: str = AES_KEY
    behaviour: str = "echo"
    delay: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/wechat", self.verify)
        app.router.add_post("/wechat", self.receive)
        return app

    async def verify(self, request: web.Request) -> web.Response:
        q = request.query
        if ref_sign(self.token, q["timestamp"], q["nonce"]) != q["signature"]:
            return web.Response(status=403)
        return web.Response(text=q["echostr"])

    async def receive(self, request: web.Request) -> web.Response:
        q = request.query
        if ref_sign(self.token, q["timestamp"], q["nonce"]) != q.get("signature"):
            return web.Response(status=403, text="bad signature")
        body = await request.read()
        outer = ref_fields(body)
        sealed = q.get("encrypt_type") == "aes"
        if sealed:
            if ref_sign(self.token, q["timestamp"], q["nonce"], outer["Encrypt"]) != q.get("msg_signature"):
                return web.Response(status=403, text="bad msg_signature")
            xml, appid = ref_decrypt(ref_key(self.aes_key), outer["Encrypt"])
            assert appid == self.appid
            fields = ref_fields(xml)
        else:
            fields = outer
        self.received.append({"query": dict(q), "outer": outer, "fields": fields, "sealed": sealed})
        if self.delay:
            await asyncio.sleep(self.delay)
        behaviour = self.behaviour
        if behaviour == "fail_first":
            behaviour = "error500" if len(self.received) == 1 else "echo"
        if behaviour == "success":
            return web.Response(text="success")
        if behaviour == "empty":
            return web.Response(body=b"")
        if behaviour == "json":
            return web.json_response({"reply": "收到"})
        if behaviour == "garbage":
            return web.Response(text="<xml><ToUserName>oops")
        if behaviour == "error500":
            return web.Response(status=500, text="boom")
        reply = self.answer(fields)
        if reply is None:
            return web.Response(text="success")
        to_user = "o_somebody_else" if behaviour == "wrong_user" else fields["FromUserName"]
        xml = (f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(fields['ToUserName'])}"
               f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType>{_cdata('text')}</MsgType>"
               f"<Content>{_cdata(reply)}</Content></xml>")
        if not sealed or behaviour == "plain":
            return web.Response(text=xml, content_type="application/xml")
        encrypted = ref_encrypt(ref_key(self.aes_key), self.appid, xml)
        ts, nonce = str(int(time.time())), "4242"
        envelope = (f"<xml><Encrypt>{_cdata(encrypted)}</Encrypt><MsgSignature>"
                    f"{_cdata(ref_sign(self.token, ts, nonce, encrypted))}</MsgSignature>"
                    f"<TimeStamp>{ts}</TimeStamp><Nonce>{_cdata(nonce)}</Nonce></xml>")
        return web.Response(text=envelope, content_type="application/xml")

    @staticmethod
    def answer(fields: dict[str, str]) -> str | None:
        msg_type = fields["MsgType"]
        if msg_type == "text":
            return "收到：" + fields["Content"]
        if msg_type == "voice":
            return "收到：" + fields["Recognition"]
        if msg_type == "image":
            return "收到图片"
        if fields.get("Event") == "subscribe":
            return "欢迎关注"
        if fields.get("Event") == "CLICK":
            return "菜单：" + fields["EventKey"]
        return None


def sim_settings(var_dir: Path, mode: str = "safe", **extra: str) -> Settings:
    env = {
        "PATENTDESK_VAR_DIR": str(var_dir),
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APPID": APPID,
        "WECHAT_APPSECRET": SECRET,
        "WECHAT_AES_KEY": AES_KEY,
        "WECHAT_ENCRYPT_MODE": mode,
        "WECHAT_SIM_PORT": str(free_port()),
        "GATEWAY_PORT": str(free_port()),
    }
    env.update(extra)
    return Settings.from_env(env)


@contextlib.asynccontextmanager
async def simulator_and_gateway(
    var_dir: Path, mode: str = "safe", gateway: EchoGateway | None = None, **options: Any,
) -> AsyncIterator[tuple[TestClient, EchoGateway]]:
    """The simulator wired to an echo gateway, both on loopback ports; yields (client, gateway)."""
    gateway = gateway or EchoGateway()
    gateway_server = TestServer(gateway.app(), host="127.0.0.1")
    await gateway_server.start_server()
    app = create_app(sim_settings(var_dir, mode), gateway_url=str(gateway_server.make_url("/wechat")), **options)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, gateway
    finally:
        await client.close()
        await gateway_server.close()


@pytest.fixture
async def safe(tmp_path: Path) -> AsyncIterator[tuple[TestClient, EchoGateway]]:
    async with simulator_and_gateway(tmp_path, "safe", timeout=0.5) as pair:
        yield pair


async def send(client: TestClient, **body: Any) -> dict[str, Any]:
    body.setdefault("openid", "oUser0001")
    body.setdefault("type", "text")
    resp = await client.post("/sim/send", json=body)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def get_json(client: TestClient, path: str, **params: str) -> Any:
    resp = await client.get(path, params=params)
    return await resp.json()


async def new_token(client: TestClient) -> str:
    body = await get_json(client, "/cgi-bin/token", grant_type="client_credential", appid=APPID, secret=SECRET)
    return body["access_token"]


async def custom(client: TestClient, token: str, openid: str = "oUser0001", content: str = "人工回复",
                 **extra: Any) -> dict[str, Any]:
    payload = {"touser": openid, "msgtype": "text", "text": {"content": content}, **extra}
    resp = await client.post("/cgi-bin/message/custom/send", params={"access_token": token}, json=payload)
    assert resp.status == 200
    return await resp.json()


# -- delivering messages ------------------------------------------------------------------

async def test_plaintext_delivery_is_signed_and_the_passive_reply_shown(tmp_path: Path) -> None:
    async with simulator_and_gateway(tmp_path, "plain") as (client, gateway):
        before = int(time.time())
        report = await send(client, content="你好")
        assert report["outcome"] == "passive" and report["passive"] == ["收到：你好"]
        assert report["tries"] == 1 and report["statuses"] == [200]
        (got,) = gateway.received
        q, f = got["query"], got["fields"]
        assert not got["sealed"] and "encrypt_type" not in q and q["openid"] == "oUser0001"
        assert q["signature"] == ref_sign(TOKEN, q["timestamp"], q["nonce"])
        assert f["ToUserName"].startswith("gh_") and f["FromUserName"] == "oUser0001"
        assert f["MsgType"] == "text" and f["Content"] == "你好" and f["MsgId"] == report["msg_id"]
        assert f["MsgId"].isdigit() and 1 << 50 < int(f["MsgId"]) < 1 << 64
        assert before <= int(f["CreateTime"]) <= time.time() + 1
        inbox = await get_json(client, "/sim/inbox/oUser0001")
        assert [(m["via"], m["text"]) for m in inbox] == [("passive", "收到：你好")]


@pytest.mark.parametrize("mode", ["safe", "compat"])
async def test_safe_delivery_is_sealed_and_the_sealed_reply_opened(tmp_path: Path, mode: str) -> None:
    async with simulator_and_gateway(tmp_path, mode) as (client, gateway):
        report = await send(client, content="专利年费什么时候缴纳")
        assert report["outcome"] == "passive" and report["passive"] == ["收到：专利年费什么时候缴纳"]
        (got,) = gateway.received
        q, outer = got["query"], got["outer"]
        assert got["sealed"] and set(outer) == {"ToUserName", "Encrypt"}
        assert q["msg_signature"] == ref_sign(TOKEN, q["timestamp"], q["nonce"], outer["Encrypt"])
        assert q["signature"] == ref_sign(TOKEN, q["timestamp"], q["nonce"])
        assert got["fields"]["Content"] == "专利年费什么时候缴纳"
        assert outer["ToUserName"] == got["fields"]["ToUserName"]


async def test_compat_mode_accepts_a_plaintext_reply_to_a_sealed_message(tmp_path: Path) -> None:
    async with simulator_and_gateway(tmp_path, "compat", EchoGateway(behaviour="plain")) as (client, gateway):
        report = await send(client, content="兼容")
    assert gateway.received[0]["sealed"] and report["passive"] == ["收到：兼容"]


async def test_verification_handshake(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    result = await (await client.post("/sim/verify")).json()
    assert result["ok"] and result["body"] == result["echostr"]


async def test_injected_clock_drives_create_time_but_not_the_signed_timestamp(tmp_path: Path) -> None:
    fixed = 1_700_000_000.0
    async with simulator_and_gateway(tmp_path, "safe", clock=lambda: fixed) as (client, gateway):
        platform = client.server.app[PLATFORM]
        await send(client, content="一")
        platform.clock.advance(2 * DAY)
        await send(client, content="二")
        first, second = gateway.received
    assert first["fields"]["CreateTime"] == str(int(fixed))
    assert second["fields"]["CreateTime"] == str(int(fixed) + 2 * DAY)
    # the query timestamp stays on the base clock, so a gateway's replay window still accepts it
    assert first["query"]["timestamp"] == second["query"]["timestamp"] == str(int(fixed))


@pytest.mark.parametrize("behaviour", ["success", "empty"])
async def test_success_or_empty_body_shows_nothing(safe: tuple[TestClient, EchoGateway], behaviour: str) -> None:
    client, gateway = safe
    gateway.behaviour = behaviour
    report = await send(client, content="稍等")
    assert report["outcome"] == behaviour and report["passive"] == [] and report["tries"] == 1
    assert await get_json(client, "/sim/inbox/oUser0001") == []


@pytest.mark.parametrize("behaviour", ["json", "garbage", "wrong_user", "plain", "error500"])
async def test_bad_answers_make_wechat_apologise(safe: tuple[TestClient, EchoGateway], behaviour: str) -> None:
    client, gateway = safe
    gateway.behaviour = behaviour
    report = await send(client, content="你好")
    assert report["outcome"] == ("unreachable" if behaviour == "error500" else "invalid")
    assert report["tries"] == (3 if behaviour == "error500" else 1)
    inbox = await get_json(client, "/sim/inbox/oUser0001")
    assert [(m["via"], m["text"]) for m in inbox] == [("notice", NOTICE)]
    assert NOTICE == "该公众号暂时无法提供服务，请稍后再试"


async def test_a_slow_gateway_gets_three_tries_of_the_same_message(tmp_path: Path) -> None:
    async with simulator_and_gateway(tmp_path, "safe", EchoGateway(delay=0.4), timeout=0.15) as (client, gateway):
        report = await send(client, content="慢一点")
        await asyncio.sleep(0.5)  # let the gateway's abandoned handlers finish
    assert report["outcome"] == "unreachable"
    assert report["tries"] == 3 and report["statuses"] == ["timeout"] * 3
    assert len(gateway.received) == 3
    assert {g["fields"]["MsgId"] for g in gateway.received} == {report["msg_id"]}
    assert len({g["outer"]["Encrypt"] for g in gateway.received}) == 1  # the very same request


async def test_a_retry_that_succeeds_is_shown_once(safe: tuple[TestClient, EchoGateway]) -> None:
    client, gateway = safe
    gateway.behaviour = "fail_first"
    report = await send(client, content="重试")
    assert report["outcome"] == "passive" and report["statuses"] == [500, 200]
    assert [m["text"] for m in await get_json(client, "/sim/inbox/oUser0001")] == ["收到：重试"]


async def test_concurrent_duplicates_carry_one_msg_id(safe: tuple[TestClient, EchoGateway]) -> None:
    client, gateway = safe
    report = await send(client, content="重复", deliveries=3)
    assert len(gateway.received) == 3 and report["tries"] == 3
    assert {g["fields"]["MsgId"] for g in gateway.received} == {report["msg_id"]}
    assert report["passive"] == ["收到：重复"] * 3 and len(report["copies"]) == 3
    # the user sees the answer once, as WeChat shows one reply per message
    assert [m["text"] for m in await get_json(client, "/sim/inbox/oUser0001")] == ["收到：重复"]


async def test_voice_image_and_events_look_like_the_platform(safe: tuple[TestClient, EchoGateway]) -> None:
    client, gateway = safe
    key = MENU[0].key
    reports = [
        await send(client, type="subscribe"),
        await send(client, type="click", event_key=key),
        await send(client, type="voice", recognition="怎么缴年费"),
        await send(client, type="image"),
        await send(client, type="text", content="一"),
        await send(client, type="unsubscribe"),
    ]
    subscribe, click, voice, image, text, unsubscribe = (g["fields"] for g in gateway.received)
    assert subscribe["MsgType"] == "event" and subscribe["Event"] == "subscribe" and "MsgId" not in subscribe
    assert click["Event"] == "CLICK" and click["EventKey"] == key and "MsgId" not in click
    assert voice["MsgType"] == "voice" and voice["Recognition"] == "怎么缴年费" and voice["Format"] == "amr"
    assert voice["MediaId"] and voice["MsgId"].isdigit()
    assert image["MsgType"] == "image" and image["PicUrl"].startswith("http") and image["MediaId"]
    assert unsubscribe["Event"] == "unsubscribe"
    ids = [voice["MsgId"], image["MsgId"], text["MsgId"]]
    assert len(set(ids)) == 3 and [r["msg_id"] for r in reports[2:5]] == ids
    assert reports[0]["msg_id"] is None
    texts = [m["text"] for m in await get_json(client, "/sim/inbox/oUser0001")]
    assert texts == ["欢迎关注", f"菜单：{key}", "收到：怎么缴年费", "收到图片", "收到：一"]


async def test_send_rejects_bad_input(safe: tuple[TestClient, EchoGateway]) -> None:
    client, gateway = safe
    for body in ({"openid": "o1", "type": "fax"}, {"openid": "bad id!", "content": "x"},
                 {"openid": "o1", "type": "text"}, {"openid": "o1", "type": "click"},
                 {"openid": "o1", "content": "x", "deliveries": 0}):
        resp = await client.post("/sim/send", json=body)
        assert resp.status == 400, body
    assert gateway.received == []


# -- the platform API -----------------------------------------------------------------------

async def test_token_and_its_errors(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    good = await get_json(client, "/cgi-bin/token", grant_type="client_credential", appid=APPID, secret=SECRET)
    assert good["expires_in"] == 7200 and 130 <= len(good["access_token"]) <= 150
    bad_appid = await get_json(client, "/cgi-bin/token", grant_type="client_credential", appid="wx0", secret=SECRET)
    bad_secret = await get_json(client, "/cgi-bin/token", grant_type="client_credential", appid=APPID, secret="no")
    bad_grant = await get_json(client, "/cgi-bin/token", grant_type="password", appid=APPID, secret=SECRET)
    assert [bad_appid["errcode"], bad_secret["errcode"], bad_grant["errcode"]] == [40013, 40125, 40002]
    assert bad_appid["errmsg"].startswith("invalid appid")


async def test_token_expiry_and_the_grace_of_the_previous_token(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    await send(client, content="你好")
    first = await new_token(client)
    second = await new_token(client)
    assert first != second
    assert (await custom(client, first))["errcode"] == 0  # both work during the grace period
    assert (await custom(client, second))["errcode"] == 0
    await client.post("/sim/clock", json={"advance": 301})
    assert (await custom(client, first))["errcode"] == 40001
    assert (await custom(client, second))["errcode"] == 0
    await client.post("/sim/clock", json={"advance": 7200})
    assert (await custom(client, second))["errcode"] == 42001
    third = await new_token(client)
    assert (await custom(client, third))["errcode"] == 0


async def test_expire_tokens_control(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    await send(client, content="你好")
    token = await new_token(client)
    assert (await (await client.post("/sim/expire-tokens")).json())["expired"] == 1
    assert (await custom(client, token))["errcode"] == 42001
    assert (await custom(client, await new_token(client)))["errcode"] == 0


async def test_custom_send_reaches_inbox_and_websocket(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    ws = await client.ws_connect("/sim/ws", params={"openid": "oUser0001", "nickname": "张三"})
    hello = await ws.receive_json(timeout=5)
    assert hello["type"] == "hello" and hello["nickname"] == "张三" and hello["chat"] == []
    assert [m["key"] for m in hello["menu"]] == [m.key for m in MENU]
    await send(client, content="转人工")
    user_line = await ws.receive_json(timeout=5)
    passive = await ws.receive_json(timeout=5)
    assert user_line["entry"]["via"] == "user" and passive["entry"]["text"] == "收到：转人工"
    token = await new_token(client)
    result = await custom(client, token, content="您好，我是客服小李", customservice={"kf_account": "li@patentdesk"})
    assert result == {"errcode": 0, "errmsg": "ok"}
    pushed = await ws.receive_json(timeout=5)
    assert pushed["type"] == "message" and pushed["entry"]["via"] == "custom"
    assert pushed["entry"]["text"] == "您好，我是客服小李" and pushed["entry"]["kf_account"] == "li@patentdesk"
    inbox = await get_json(client, "/sim/inbox/oUser0001")
    assert inbox[-1] == {"via": "custom", "text": "您好，我是客服小李", "at": inbox[-1]["at"], "kf_account": "li@patentdesk"}
    await ws.close()


async def test_custom_send_errors(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    await send(client, content="你好")
    token = await new_token(client)
    assert (await custom(client, "not-a-token"))["errcode"] == 40001
    assert (await custom(client, ""))["errcode"] == 40001
    raw = await client.post("/cgi-bin/message/custom/send", params={"access_token": token}, data=b"{not json")
    assert (await raw.json())["errcode"] == 47001
    assert (await custom(client, token, openid="oNobody"))["errcode"] == 40003
    image = await client.post("/cgi-bin/message/custom/send", params={"access_token": token},
                              json={"touser": "oUser0001", "msgtype": "image", "image": {"media_id": "m"}})
    assert (await image.json())["errcode"] == 40008
    assert (await custom(client, token, content="专" * 682 + "ab"))["errcode"] == 0  # 2048 bytes
    assert (await custom(client, token, content="专" * 683))["errcode"] == 45002  # 2049 bytes
    await send(client, type="unsubscribe")
    assert (await custom(client, token))["errcode"] == 43004


async def test_48_hour_window(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    await send(client, content="你好")
    await client.post("/sim/clock", json={"advance": 47 * 3600})
    token = await new_token(client)
    assert (await custom(client, token))["errcode"] == 0
    await client.post("/sim/clock", json={"advance": 3600 + 1})
    token = await new_token(client)
    assert (await custom(client, token))["errcode"] == 45015
    await send(client, content="我又来了")  # a new message reopens the window
    assert (await custom(client, token))["errcode"] == 0


async def test_quota_of_customer_service_messages(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    await send(client, content="你好")
    token = await new_token(client)
    codes = [(await custom(client, token, content=f"第{i}条"))["errcode"] for i in range(6)]
    assert codes == [0, 0, 0, 0, 0, 45047]
    await send(client, type="click", event_key=MENU[1].key)  # any user action resets the count
    assert (await custom(client, token))["errcode"] == 0


async def test_injected_faults_and_api_down(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    await send(client, content="你好")
    token = await new_token(client)
    state = await (await client.post("/sim/faults", json={"api_errors": [-1, 45047]})).json()
    assert state == {"api_errors": [-1, 45047], "api_down": False}
    codes = [(await custom(client, token))["errcode"] for _ in range(3)]
    assert codes == [-1, 45047, 0]
    await client.post("/sim/faults", json={"api_down": True})
    resp = await client.post("/cgi-bin/message/custom/send", params={"access_token": token}, json={})
    assert resp.status == 503
    assert (await client.get("/cgi-bin/token", params={"appid": APPID})).status == 503
    await client.post("/sim/faults", json={"api_down": False})
    assert (await custom(client, token))["errcode"] == 0
    counters = (await get_json(client, "/sim/stats"))["counters"]
    assert counters["api.custom_send.ok"] == 2 and counters["api.custom_send.-1"] == 1
    assert counters["api.custom_send.45047"] == 1 and counters["api.custom_send.503"] == 1
    assert counters["api.token.ok"] == 1 and counters["api.token.503"] == 1
    assert counters["deliveries"] == 1 and counters["delivery.passive"] == 1


async def test_reset_forgets_everything(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    await send(client, content="你好")
    token = await new_token(client)
    await client.post("/sim/clock", json={"advance": DAY})
    await client.post("/sim/reset")
    assert await get_json(client, "/sim/inbox/oUser0001") == []
    stats = await get_json(client, "/sim/stats")
    assert stats["users"] == 0 and stats["counters"] == {} and stats["clock"]["offset"] == 0
    assert (await custom(client, token))["errcode"] == 40001


# -- guard rails ----------------------------------------------------------------------------

async def test_controls_refuse_web_pages(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    own = f"http://{client.host}:{client.port}"
    for path, body in (("/sim/clock", {"advance": 10}), ("/sim/faults", {"api_down": True}),
                       ("/sim/reset", {}), ("/sim/expire-tokens", {})):
        resp = await client.post(path, json=body, headers={"Origin": own})
        assert resp.status == 403, path
    assert (await get_json(client, "/sim/stats"))["faults"]["api_down"] is False
    evil = await client.post("/sim/send", json={"openid": "o1", "content": "x"}, headers={"Origin": "http://evil.example"})
    assert evil.status == 403


async def test_websocket_checks_origin_and_sends_from_the_page(safe: tuple[TestClient, EchoGateway]) -> None:
    client, gateway = safe
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/sim/ws", params={"openid": "oPage01"}, headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403
    own = f"http://{client.host}:{client.port}"
    ws = await client.ws_connect("/sim/ws", params={"openid": "oPage01"}, headers={"Origin": own})
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.send_json({"type": "send", "kind": "text", "content": "<img src=x onerror=alert(1)>", "client_id": "c1"})
    events = [await ws.receive_json(timeout=5) for _ in range(3)]
    assert [e["type"] for e in events] == ["message", "message", "delivery"]
    assert events[0]["entry"]["client_id"] == "c1" and events[0]["entry"]["via"] == "user"
    assert events[1]["entry"]["text"] == "收到：<img src=x onerror=alert(1)>"
    assert events[2]["client_id"] == "c1" and events[2]["report"]["outcome"] == "passive"
    await ws.send_json({"type": "send", "kind": "click", "event_key": ""})
    assert (await ws.receive_json(timeout=5))["type"] == "error"
    await ws.close()
    assert gateway.received[0]["fields"]["FromUserName"] == "oPage01"


async def test_chat_page_is_served_without_outside_resources(safe: tuple[TestClient, EchoGateway]) -> None:
    client, _ = safe
    resp = await client.get("/")
    page = await resp.text()
    assert resp.status == 200 and "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert "/static/app.js" in page and "http" not in page.replace('http-equiv', '')
    script = await (await client.get("/static/app.js")).text()
    assert "innerHTML" not in script and "textContent" in script
    config = await get_json(client, "/sim/config")
    assert [m["label"] for m in config["menu"]] == [m.label for m in MENU]


async def test_module_entry_point_serves(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, PATENTDESK_VAR_DIR=str(tmp_path), WECHAT_SIM_PORT=str(port), PYTHONWARNINGS="ignore")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.simulator", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/sim/config") as resp:
                        config = await resp.json()
                    break
                except aiohttp.ClientConnectionError:
                    assert proc.returncode is None and time.monotonic() < deadline, "simulator did not start"
                    await asyncio.sleep(0.1)
        assert config["account_id"].startswith("gh_")
        assert (tmp_path / "secrets" / "wechat-token").exists()  # secrets come from with_secrets
    finally:
        proc.terminate()
        out, _ = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0
    assert f"http://127.0.0.1:{port}/" in out.decode()
