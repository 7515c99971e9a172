"""The IO-free protocol core against vectors computed independently inside the tests."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.wechat.crypto import WeChatCrypto, aes_key, decrypt_text, encrypt_text
from bot.wechat.errors import DecryptError, InvalidSignature, MalformedMessage, ReplayedRequest
from bot.wechat.messages import (
    EventMessage,
    ImageMessage,
    TextMessage,
    UnknownMessage,
    VoiceMessage,
    parse_message,
)
from bot.wechat.replies import split_text, text_reply
from bot.wechat.signature import check_signature, check_timestamp, sign
from bot.wechat.xmlio import parse_fields, render_xml

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx1234567890abcdef"


def test_signature_matches_the_documented_recipe() -> None:
    # token, timestamp, nonce sorted: "1409304348" < "nonce" < "token"
    expected = hashlib.sha1(b"1409304348" + b"nonce" + b"token").hexdigest()
    assert sign("token", "1409304348", "nonce") == expected
    check_signature(expected, "token", "1409304348", "nonce")
    check_signature(expected.upper(), "token", "1409304348", "nonce")
    with pytest.raises(InvalidSignature):
        check_signature(expected[:-1] + "0", "token", "1409304348", "nonce")
    with pytest.raises(InvalidSignature):
        check_signature("", "token", "1409304348", "nonce")


def test_timestamp_window() -> None:
    assert check_timestamp("1000", now=1200, window=300) == 1000
    with pytest.raises(ReplayedRequest):
        check_timestamp("1000", now=1400, window=300)
    with pytest.raises(ReplayedRequest):
        check_timestamp("1700", now=1000, window=300)  # from the future, too
    with pytest.raises(ReplayedRequest):
        check_timestamp("abc", now=1000, window=300)


def _independent_encrypt(xml: bytes, random16: bytes) -> str:
    """The platform's framing written out by hand, not through bot.wechat."""
    key = base64.b64decode(AES_KEY + "=")
    plain = random16 + struct.pack(">I", len(xml)) + xml + APPID.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def test_aes_matches_an_independent_vector() -> None:
    xml = "<xml><Content><![CDATA[年费怎么交]]></Content></xml>"
    random16 = b"0123456789abcdef"
    ours = encrypt_text(aes_key(AES_KEY), APPID, xml, random16)
    assert ours == _independent_encrypt(xml.encode(), random16)
    assert decrypt_text(aes_key(AES_KEY), APPID, ours) == xml


def test_envelope_round_trip_and_tampering() -> None:
    crypto = WeChatCrypto("tok", AES_KEY, APPID)
    inner = render_xml({"ToUserName": "gh_x", "FromUserName": "o_user", "CreateTime": 1, "MsgType": "text",
                        "Content": "你好 ]]> <b>"})
    envelope = crypto.encrypt_message(inner, "1700000000", "n1")
    fields = parse_fields(envelope)
    assert fields["MsgSignature"] == hashlib.sha1("".join(sorted(["tok", "1700000000", "n1", fields["Encrypt"]])).encode()).hexdigest()
    opened = crypto.decrypt_message(envelope.encode(), fields["MsgSignature"], "1700000000", "n1")
    assert parse_message(opened).content == "你好 ]]> <b>"  # type: ignore[attr-defined]
    with pytest.raises(InvalidSignature):
        crypto.decrypt_message(envelope.encode(), "0" * 40, "1700000000", "n1")
    other_app = WeChatCrypto("tok", AES_KEY, "wxSOMEONEELSE")
    with pytest.raises(DecryptError):
        other_app.decrypt_message(envelope.encode(), fields["MsgSignature"], "1700000000", "n1")


@pytest.mark.parametrize("payload", ["not base64!!", base64.b64encode(b"short").decode(), base64.b64encode(b"x" * 32).decode()])
def test_broken_ciphertext_is_a_decrypt_error(payload: str) -> None:
    with pytest.raises(DecryptError):
        decrypt_text(aes_key(AES_KEY), APPID, payload)


def _msg(body: str) -> str:
    return f"<xml><ToUserName>gh_a</ToUserName><FromUserName>o_b</FromUserName><CreateTime>1700000000</CreateTime>{body}</xml>"


def test_parse_each_message_type() -> None:
    text = parse_message(_msg("<MsgType>text</MsgType><Content><![CDATA[费减怎么办]]></Content><MsgId>6054768590064713728</MsgId>"))
    assert isinstance(text, TextMessage) and text.content == "费减怎么办" and text.dedupe_key == "msg:6054768590064713728"
    voice = parse_message(_msg("<MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><Recognition>年费</Recognition><MsgId>2</MsgId>"))
    assert isinstance(voice, VoiceMessage) and voice.recognition == "年费"
    image = parse_message(_msg("<MsgType>image</MsgType><PicUrl>http://x/y.jpg</PicUrl><MediaId>m</MediaId><MsgId>3</MsgId>"))
    assert isinstance(image, ImageMessage)
    event = parse_message(_msg("<MsgType>event</MsgType><Event>CLICK</Event><EventKey>FAQ_EFILING</EventKey>"))
    assert isinstance(event, EventMessage) and event.event == "click" and event.msg_id is None
    assert event.dedupe_key == "evt:o_b:1700000000:CLICK"
    video = parse_message(_msg("<MsgType>shortvideo</MsgType><MediaId>m</MediaId><MsgId>4</MsgId>"))
    assert isinstance(video, UnknownMessage)


HOSTILE = {
    "billion laughs": '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><xml><Content>&lol2;</Content></xml>',
    "external entity": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>',
    "doctype only": '<!DOCTYPE xml><xml><ToUserName>a</ToUserName></xml>',
    "not xml": "{\"json\": true}",
    "truncated": "<xml><ToUserName>a</To",
    "wrong root": "<root><ToUserName>a</ToUserName></root>",
    "missing fields": "<xml><ToUserName>a</ToUserName><MsgType>text</MsgType></xml>",
    "bad CreateTime": _msg("<MsgType>text</MsgType>").replace("1700000000", "yesterday"),
    "bad MsgId": _msg("<MsgType>text</MsgType><Content>x</Content><MsgId>1 OR 1=1</MsgId>"),
    "event without Event": _msg("<MsgType>event</MsgType>"),
    "empty": "",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_or_malformed_xml_is_rejected(name: str) -> None:
    with pytest.raises(MalformedMessage):
        parse_message(HOSTILE[name])


def test_reply_swaps_sender_and_receiver() -> None:
    message = parse_message(_msg("<MsgType>text</MsgType><Content>x</Content><MsgId>9</MsgId>"))
    fields = parse_fields(text_reply(message, "您好", 1700000001))
    assert fields == {"ToUserName": "o_b", "FromUserName": "gh_a", "CreateTime": "1700000001",
                      "MsgType": "text", "Content": "您好"}


def test_split_text_respects_the_byte_limit_and_sentences() -> None:
    assert split_text("短句。") == ["短句。"]
    text = "".join(f"第{i}句话，说明一个办理事项。" for i in range(300))
    pieces = split_text(text, 2048)
    assert all(len(p.encode()) <= 2048 for p in pieces) and len(pieces) > 1
    assert "".join(pieces) == text and all(p.endswith("。") for p in pieces)
    no_breaks = "字" * 1000  # 3000 bytes, no sentence end: hard cut on a character boundary
    pieces = split_text(no_breaks, 2048)
    assert "".join(pieces) == no_breaks and all(len(p.encode()) <= 2048 for p in pieces)
