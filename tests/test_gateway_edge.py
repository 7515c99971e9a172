"""The gateway's edge over real HTTP: verification, signatures, replay, hostile input,
message types answered without the assistant, and Redis or Rasa being down."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import aiohttp
import pytest

from bot import replies
from tests.gateway_kit import (
    Poster,
    assistant_of,
    event_xml,
    gateway_settings,
    running_gateway,
    text_xml,
    wait_records,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

DEAD_RASA = "http://127.0.0.1:9"  # discard port: nothing listens


@pytest.fixture
async def edge(tmp_path: Path, redis_server):
    settings = gateway_settings(tmp_path, redis_server.url, DEAD_RASA)
    async with running_gateway(settings) as server, aiohttp.ClientSession() as session:
        yield settings, server, session, Poster(settings, str(server.make_url("")).rstrip("/"))


async def test_verification_get(edge) -> None:
    settings, server, session, poster = edge
    ts, nonce = str(int(time.time())), "abc123"
    # the signature computed by hand, as the platform documents it
    signature = hashlib.sha1("".join(sorted([settings.wechat_token, ts, nonce])).encode()).hexdigest()
    async with session.get(poster.url + "/wechat", params={"signature": signature, "timestamp": ts,
                                                          "nonce": nonce, "echostr": "4711e"}) as resp:
        assert resp.status == 200 and await resp.text() == "4711e"
    async with session.get(poster.url + "/wechat", params={"signature": "0" * 40, "timestamp": ts,
                                                          "nonce": nonce, "echostr": "4711e"}) as resp:
        assert resp.status == 403 and "4711e" not in await resp.text()


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
                  '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><xml><ToUserName>a</ToUserName><Content>&lol3;</Content></xml>')
XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>'


async def test_hostile_and_malformed_requests_get_clear_4xx(edge) -> None:
    settings, server, session, poster = edge
    cases: list[tuple[str, int, dict]] = [
        ("billion laughs", 400, {"xml": BILLION_LAUGHS}),
        ("external entity", 400, {"xml": XXE}),
        ("not xml", 400, {"xml": "hello"}),
        ("missing fields", 400, {"xml": "<xml><ToUserName>a</ToUserName></xml>"}),
        ("wrong content type", 415, {"xml": text_xml("o_u1", "x"), "content_type": "application/json"}),
        ("forged signature", 403, {"xml": text_xml("o_u1", "x"), "query": {**poster.query(), "signature": "f" * 40}}),
        ("replayed timestamp", 403, {"xml": text_xml("o_u1", "x"), "query": poster.query(timestamp=int(time.time()) - 3600)}),
        ("future timestamp", 403, {"xml": text_xml("o_u1", "x"), "query": poster.query(timestamp=int(time.time()) + 3600)}),
        ("huge body", 413, {"xml": "<xml>" + "A" * (settings.gateway_max_body + 10) + "</xml>"}),
        ("empty body", 400, {"xml": ""}),
    ]
    for name, status, kwargs in cases:
        got, body = await poster.post(session, **kwargs)
        assert got == status, (name, got, body)
        assert "Traceback" not in body and "/etc/passwd" not in body, name
    assert assistant_of(server).bot_runs == 0


async def test_broken_aes_payloads_are_rejected(edge) -> None:
    settings, server, session, poster = edge
    q = poster.query()
    for encrypted in ("not-base64!!", "QUJD", "A" * 64):
        from bot.wechat.signature import sign

        params = {**q, "encrypt_type": "aes", "msg_signature": sign(settings.wechat_token, q["timestamp"], q["nonce"], encrypted)}
        body = f"<xml><ToUserName>gh</ToUserName><Encrypt>{encrypted}</Encrypt></xml>"
        async with session.post(poster.url + "/wechat", params=params, data=body.encode(),
                                headers={"Content-Type": "text/xml"}) as resp:
            assert resp.status == 400, (encrypted, await resp.text())
    # correct ciphertext, wrong msg_signature: forged
    status, _ = await poster.post(session, text_xml("o_u1", "x"), safe=True,
                                  query={**poster.query()})  # baseline is fine
    assert status == 200
    params = {**poster.query(), "encrypt_type": "aes", "msg_signature": "0" * 40}
    async with session.post(poster.url + "/wechat", params=params,
                            data=b"<xml><Encrypt>QUJD</Encrypt></xml>", headers={"Content-Type": "text/xml"}) as resp:
        assert resp.status == 403


async def test_types_answered_by_the_gateway_and_records(edge) -> None:
    settings, server, session, poster = edge
    openid = "o_types_user"
    status, body = await poster.post(session, event_xml(openid, "subscribe"), safe=True)
    reply = poster.open_reply(body, safe=True)
    assert status == 200 and reply["ToUserName"] == openid and "欢迎关注" in reply["Content"]
    image = ('<xml><ToUserName>gh</ToUserName><FromUserName>o_types_user</FromUserName><CreateTime>'
             f'{int(time.time())}</CreateTime><MsgType>image</MsgType><PicUrl>http://x/y.jpg</PicUrl>'
             '<MediaId>m1</MediaId><MsgId>42</MsgId></xml>')
    status, body = await poster.post(session, image)
    assert poster.open_reply(body, safe=False)["Content"] == replies.UNSUPPORTED_MESSAGE
    voice = image.replace("<MsgType>image</MsgType><PicUrl>http://x/y.jpg</PicUrl>", "<MsgType>voice</MsgType><Format>amr</Format><Recognition></Recognition>").replace("<MsgId>42", "<MsgId>43")
    status, body = await poster.post(session, voice)
    assert poster.open_reply(body, safe=False)["Content"] == replies.VOICE_NOT_RECOGNISED
    status, body = await poster.post(session, event_xml(openid, "unsubscribe"))
    assert status == 200 and body == "success"
    status, body = await poster.post(session, event_xml(openid, "CLICK", "NO_SUCH_KEY"))
    assert poster.open_reply(body, safe=False)["Content"] == replies.UNKNOWN_MENU
    assert assistant_of(server).bot_runs == 0
    rows = await wait_records(settings, 5)
    assert [r["msg_type"] for r in rows] == ["event:subscribe", "image", "voice", "event:unsubscribe", "event:click"]
    assert all(r["user"].startswith("u_") and openid not in r["user"] for r in rows)
    assert rows[3]["path"] == "none" and rows[3]["texts_out"] == []


async def test_rasa_down_gets_an_apology_not_an_error(edge) -> None:
    settings, server, session, poster = edge
    status, body = await poster.post(session, text_xml("o_rasa_down", "年费怎么交"))
    assert status == 200
    assert poster.open_reply(body, safe=False)["Content"] == replies.ASSISTANT_UNAVAILABLE


async def test_plaintext_refused_in_safe_mode_and_aes_in_plain_mode(tmp_path: Path, redis_server) -> None:
    for mode, safe in (("safe", False), ("plain", True)):
        settings = gateway_settings(tmp_path / mode, redis_server.url, DEAD_RASA, WECHAT_ENCRYPT_MODE=mode)
        async with running_gateway(settings) as server, aiohttp.ClientSession() as session:
            poster = Poster(settings, str(server.make_url("")).rstrip("/"))
            status, body = await poster.post(session, event_xml("o_m", "subscribe"), safe=safe)
            assert status == 400, (mode, body)


async def test_redis_down_still_answers_and_spools_the_record(tmp_path: Path) -> None:
    from tests.conftest import RedisServer

    redis = RedisServer(tmp_path / "redis")  # not started yet: Redis is down
    settings = gateway_settings(tmp_path, redis.url, DEAD_RASA)
    async with running_gateway(settings) as server, aiohttp.ClientSession() as session:
        poster = Poster(settings, str(server.make_url("")).rstrip("/"))
        status, body = await poster.post(session, event_xml("o_no_redis", "subscribe"))
        assert status == 200 and "欢迎关注" in poster.open_reply(body, safe=False)["Content"]
        spool = settings.var_dir / "records-spool.jsonl"
        assert spool.exists() and "o_no_redis" not in spool.read_text()
        redis.start()
        try:
            rows = await wait_records(settings, 1)  # the writer replays the spool on its own
            assert [r["msg_type"] for r in rows] == ["event:subscribe"]
        finally:
            redis.stop()


async def test_web_chat_refuses_deep_or_unencodable_json_politely(tmp_path, redis_server) -> None:
    """Found by the console fuzzer on its own routes; the web chat had the same two 500s."""
    import aiohttp

    from tests.gateway_kit import gateway_settings, running_gateway

    settings = gateway_settings(tmp_path, redis_server.url, "http://127.0.0.1:9")
    async with running_gateway(settings) as server, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{server.port}/api/chat"
        for body in (b"[" * 60_000, b'{"sender": "s1", "message": "\\ud800"}', b"\xff\xfe"):
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 400, await resp.text()
                assert "Traceback" not in await resp.text()
