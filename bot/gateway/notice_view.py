"""The two pages a WeChat user opens from our messages: where to allow a subscription
notice (/wechat/subscribe) and what a notice links to (/wechat/notice/{id}: the whole
reply, and the way back into the conversation). Plain HTML, nothing loaded from elsewhere.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from bot import replies
from bot.gateway.notices import Notices
from bot.gateway.outbox import Reporter
from bot.gateway.wechat_api import PlatformUnavailable
from bot.records.buffer import RecordBuffer
from bot.records.pseudonym import pseudonym, record_key
from bot.wechat.errors import APIError

log = logging.getLogger("patentdesk.gateway")

JSSDK = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:1.5em auto;padding:0 1em;line-height:1.6}}
.reply{{white-space:pre-wrap;background:#f4f4f4;padding:1em;border-radius:6px}}</style>{head}</head>
<body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200, head: str = "", script_src: str = "") -> web.Response:
    csp = "default-src 'none'; style-src 'unsafe-inline'" + (f"; script-src {script_src}" if script_src else "")
    return web.Response(text=PAGE.format(title=html.escape(title), body=body, head=head), status=status,
                        content_type="text/html", headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"})


async def subscribe_page(notices: Notices, path_qs: str) -> web.Response:
    """WeChat's open tag for one-time subscriptions (<wx-open-subscribe>), configured through
    the JS-SDK: wx.config signed with the jsapi_ticket for this page's exact URL (the
    gateway's domain must be the account's JS interface safe domain). The simulator plays
    the user's "允许" directly (its notice_accept action)."""
    template = html.escape(notices.template.template_id)
    body = (f"<p>{html.escape(replies.SUBSCRIBE_PAGE)}</p>"
            f'<wx-open-subscribe template="{template}" id="subscribe-btn">'
            '<script type="text/wxtag-template"><button>允许接收答复通知</button></script></wx-open-subscribe>'
            f'<p id="done" hidden>{html.escape(replies.SUBSCRIBE_DONE)}</p>')
    try:
        config = await notices.jsapi_config(notices.public_url + path_qs)
    except (APIError, PlatformUnavailable, RedisError, OSError) as exc:
        log.warning("subscribe page without the JS-SDK (no jsapi_ticket): %s", exc)
        return _page(replies.NOTICE_PAGE_TITLE, body + f"<p>{html.escape(replies.SUBSCRIBE_UNAVAILABLE)}</p>")
    nonce = secrets.token_urlsafe(12)
    script = (f'<script src="{JSSDK}"></script><script nonce="{nonce}">'
              f"wx.config({json.dumps(config)});"
              "document.addEventListener('DOMContentLoaded',function(){"
              "var b=document.getElementById('subscribe-btn');"
              "b.addEventListener('success',function(){document.getElementById('done').hidden=false;});});"
              "</script>")
    return _page(replies.NOTICE_PAGE_TITLE, body, head=script, script_src=f"{JSSDK} 'nonce-{nonce}'")


async def notice_page(notices: Notices, page_id: str) -> web.Response:
    try:
        texts = await notices.page(page_id[:64])
    except (RedisError, OSError):
        texts = None
    if not texts:
        return _page(replies.NOTICE_PAGE_TITLE, f"<p>{html.escape(replies.NOTICE_PAGE_GONE)}</p>", status=404)
    body = "".join(f'<div class="reply">{html.escape(t)}</div>' for t in texts)
    return _page(replies.NOTICE_PAGE_TITLE, body + f"<p>{html.escape(replies.NOTICE_PAGE_BACK)}</p>")


def delivery_reporter(records: RecordBuffer, pseudonym_key: str) -> Reporter:
    """The outbox's report: one `delivery` record per job (what reached the user, and how)."""

    async def report(job: dict[str, Any], via: str, errcode: int | None) -> None:
        msg_key = str(job.get("msg_key") or "")
        event: dict[str, Any] = {
            "kind": "delivery", "event_key": f"delivery:{uuid.uuid4().hex}", "channel": "wechat",
            "user": pseudonym(pseudonym_key, "wechat", str(job["openid"])), "at": datetime.now(UTC).isoformat(),
            "via": via, "errcode": errcode, "part": job.get("part", 0)}
        if msg_key.startswith("ticket:"):
            event["ticket_id"] = msg_key.split(":", 1)[1]
        else:
            event["for_key"] = record_key(pseudonym_key, msg_key)
        await records.add(event)

    return report
