"""The IO-free protocol core against vectors computed independently inside the tests."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.wechat.crypto import WeChatCrypto, aes_key, decrypt_text, encrypt_text
from bot.wechat.errors import DecryptError, InvalidSignature, MalformedMessage, ReplayedRequest
from bot.wechat.messages import (
    EventMessage,
    ImageMessage,
    PickedLocation,
    PicsSent,
    ScanCode,
    SubscribeItem,
    TextMessage,
    UnknownMessage,
    VoiceMessage,
    parse_message,
)
from bot.wechat.replies import split_text, text_reply
from bot.wechat.signature import check_signature, check_timestamp, jsapi_signature, sign
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
    assert event.dedupe_key == "evt:o_b:1700000000:CLICK:FAQ_EFILING"
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


# --- wechatpy's published samples (tests/fixtures/wechatpy, MIT): their data, our assertions ---

WECHATPY = Path(__file__).parent / "fixtures" / "wechatpy"


def _sample(name: str) -> EventMessage:
    message = parse_message((WECHATPY / f"{name}.xml").read_bytes())
    assert isinstance(message, EventMessage)
    return message


def test_wechatpy_crypto_vectors_byte_for_byte() -> None:
    v = json.loads((WECHATPY / "crypto_vectors.json").read_text())
    crypto = WeChatCrypto(v["token"], v["encoding_aes_key"], v["app_id"])
    check_signature(v["verify"]["signature"], v["token"], v["verify"]["timestamp"], v["verify"]["nonce"],
                    v["verify"]["echostr"])
    with pytest.raises(InvalidSignature):
        check_signature(v["verify"]["signature"], v["token"], v["verify"]["timestamp"], v["verify"]["wrong_nonce"],
                        v["verify"]["echostr"])
    enc = v["encrypt"]
    sealed = parse_fields(crypto.encrypt_message(enc["reply"], enc["timestamp"], enc["nonce"],
                                                 random16=enc["random16"].encode()))
    assert sealed["Encrypt"] == enc["encrypt"] and sealed["MsgSignature"] == enc["msg_signature"]
    dec = v["decrypt"]
    inner = parse_fields(crypto.decrypt_message(dec["body"].encode(), dec["msg_signature"], dec["timestamp"],
                                                dec["nonce"]))
    assert inner["Content"] == "test" and inner["FromUserName"] == "messense"


def test_wechatpy_scan_and_qr_subscribe_samples_carry_the_scene() -> None:
    follow = _sample("subscribe_scan_event")
    assert (follow.event, follow.scene, follow.ticket) == ("subscribe", "123123", "TICKET")
    scan = _sample("scan_event")
    assert (scan.event, scan.scene, scan.ticket) == ("scan", "SCENE_VALUE", "TICKET")
    assert _sample("subscribe_event").scene is None and _sample("click_event").scene is None


@pytest.mark.parametrize("name,result", [("scan_code_push_event", "1"), ("scan_code_waitmsg_event", "2")])
def test_wechatpy_scancode_samples(name: str, result: str) -> None:
    event = _sample(name)
    assert event.scan_code == ScanCode("qrcode", result) and event.event_key == "6"


@pytest.mark.parametrize("name,md5", [("pic_sysphoto_event", "1b5f7c23b5bf75682a53e7b6d163e185"),
                                      ("pic_photo_or_album_event", "5a75aaca956d97be686719218f275c6b"),
                                      ("pic_wechat_event", "5a75aaca956d97be686719218f275c6b")])
def test_wechatpy_picture_samples(name: str, md5: str) -> None:
    assert _sample(name).pictures == PicsSent(1, (md5,))


def test_wechatpy_location_select_sample() -> None:
    assert _sample("location_select_event").location == PickedLocation("23", "113", "15", "广州市海珠区客村艺苑路 106号", "")


def test_wechatpy_subscription_notice_samples() -> None:
    popup = _sample("template_subscribe_msg_popup_event").subscriptions
    assert [(s.template_id, s.status, s.popup_scene) for s in popup] == [
        ("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "accept", "2"),
        ("9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI", "reject", "2")]
    change = _sample("template_subscribe_msg_change_event").subscriptions
    assert change == (SubscribeItem("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "reject"),)
    sent = _sample("template_subscribe_msg_sent_event").subscriptions
    assert sent == (SubscribeItem("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "success", msg_id="1700827132819554304",
                                  error_code="0"),)


def test_every_wechatpy_sample_parses() -> None:
    for path in sorted(WECHATPY.glob("*.xml")):
        assert parse_message(path.read_bytes()).from_user, path.name


def test_two_clicks_in_one_second_are_two_events() -> None:
    first = parse_message(_msg("<MsgType>event</MsgType><Event>CLICK</Event><EventKey>FAQ_EFILING</EventKey>"))
    second = parse_message(_msg("<MsgType>event</MsgType><Event>CLICK</Event><EventKey>FAQ_CHANGE</EventKey>"))
    assert first.dedupe_key != second.dedupe_key
    again = parse_message(_msg("<MsgType>event</MsgType><Event>CLICK</Event><EventKey>FAQ_EFILING</EventKey>"))
    assert again.dedupe_key == first.dedupe_key  # the platform's retry of the same click


def test_garbled_nested_block_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        parse_message(_msg("<MsgType>event</MsgType><Event>pic_weixin</Event><SendPicsInfo><Count>x</Count></SendPicsInfo>"))


def test_wechatpy_jsapi_signature_vector() -> None:
    v = json.loads((WECHATPY / "jsapi_signature.json").read_text())
    assert jsapi_signature(v["ticket"], v["noncestr"], v["timestamp"], v["url"]) == v["signature"]
    assert jsapi_signature(v["ticket"], v["noncestr"], v["timestamp"], v["url"] + "#top") == v["signature"]
