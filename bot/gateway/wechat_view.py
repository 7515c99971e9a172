"""The official-account endpoint: verification GET, signed (optionally AES) POSTs.

The 5-second rule: the platform waits 5 s for the HTTP answer, then retries. We wait
for the assistant up to a deadline with a margin; in time, the answer goes back
passively; late, we answer `success` and the answer follows as customer-service
messages through the outbox. Dedupe makes a retried message run the assistant once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.gateway.dedupe import Claimed, Once, Outcome
from bot.gateway.messages import Handled, Inbound, from_wechat
from bot.gateway.outbox import Outbox
from bot.gateway.pipeline import Assistant
from bot.wechat.crypto import WeChatCrypto
from bot.wechat.errors import DecryptError, InvalidSignature, MalformedMessage, ReplayedRequest
from bot.wechat.messages import Message, parse_message
from bot.wechat.replies import SUCCESS, TEXT_LIMIT_BYTES, split_text, text_reply
from bot.wechat.signature import check_signature, check_timestamp

log = logging.getLogger("patentdesk.wechat")

XML_TYPES = ("text/xml", "application/xml", "text/plain", "")


class WeChatEndpoint:
    def __init__(self, settings: Settings, assistant: Assistant, once: Once, outbox: Outbox) -> None:
        self.settings = settings
        self.assistant = assistant
        self.once = once
        self.outbox = outbox
        self.crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
        self._background: set[asyncio.Task] = set()

    # --- edge ---------------------------------------------------------------------------
    def _reject(self, request: web.Request, status: int, reason: str, detail: object = None) -> web.Response:
        """A short fixed reason for the caller; what exactly went wrong (parser messages,
        the values sent) goes to the log only, so nothing of the request is echoed."""
        if isinstance(detail, Exception):
            detail = f"{type(detail).__name__}: {detail}"
        log.warning("wechat %s %s rejected (%d): %s%s", request.method, request.path, status, reason,
                    f" ({detail!s:.300})" if detail is not None else "")
        response = web.Response(status=status, text=reason + "\n", content_type="text/plain")
        if status == 413:
            response.force_close()  # the unread rest of the body must not be parsed as a request
        return response

    async def verify(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            check_signature(q.get("signature", ""), self.settings.wechat_token, q.get("timestamp", ""), q.get("nonce", ""))
        except InvalidSignature:
            return self._reject(request, 403, "invalid signature")
        echostr = q.get("echostr")
        if echostr is None:
            return self._reject(request, 400, "missing echostr")
        return web.Response(text=echostr, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        q = request.query
        if request.content_type not in XML_TYPES:
            return self._reject(request, 415, "content type is not XML", repr(request.content_type))
        if (request.content_length or 0) > self.settings.gateway_max_body:
            return self._reject(request, 413, "body too large")
        try:
            body = await request.content.read(self.settings.gateway_max_body + 1)
        except (TimeoutError, ConnectionError) as exc:
            return self._reject(request, 400, "body unreadable", exc)
        if len(body) > self.settings.gateway_max_body:
            return self._reject(request, 413, "body too large")
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        encrypted = q.get("encrypt_type", "raw").lower() == "aes"
        mode = self.settings.wechat_encrypt_mode
        try:
            check_timestamp(timestamp, time.time(), self.settings.wechat_timestamp_window)
            check_signature(q.get("signature", ""), self.settings.wechat_token, timestamp, nonce)
            if encrypted:
                if mode == "plain":
                    return self._reject(request, 400, "safe mode is not enabled here")
                xml = self.crypto.decrypt_message(body, q.get("msg_signature", ""), timestamp, nonce)
            else:
                if mode == "safe":
                    return self._reject(request, 400, "plaintext messages are not accepted (safe mode)")
                xml = body
            message = parse_message(xml)
        except InvalidSignature as exc:
            return self._reject(request, 403, "invalid signature", exc)
        except ReplayedRequest as exc:
            return self._reject(request, 403, "timestamp outside the accepted window", exc)
        except MalformedMessage as exc:
            return self._reject(request, 400, "malformed message", exc)
        except DecryptError as exc:
            return self._reject(request, 400, "encrypted message cannot be opened", exc)
        if message.to_user == "" or message.from_user == "":
            return self._reject(request, 400, "missing ToUserName/FromUserName")
        reply = await self.respond(message)
        if reply == SUCCESS:
            return web.Response(text=SUCCESS, content_type="text/plain")
        if encrypted:
            reply = self.crypto.encrypt_message(reply, str(int(time.time())), nonce)
        return web.Response(text=reply, content_type="application/xml")

    # --- once, within the deadline ------------------------------------------------------
    async def respond(self, message: Message) -> str:
        """The passive reply XML, or SUCCESS when the answer goes out asynchronously."""
        claim = await self.once.claim(message.dedupe_key)
        if claim is None:  # another worker holds it: replay its outcome if it comes in time
            claim = await self.once.wait_outcome(message.dedupe_key, self.settings.wechat_reply_deadline)
            if claim is None:
                log.info("wechat %s: retry while another worker answers; `success`", message.dedupe_key)
                return SUCCESS
        if isinstance(claim, Outcome):
            log.info("wechat %s: retried delivery, replaying the %s outcome", message.dedupe_key, claim.delivery)
            if claim.delivery == "passive" and claim.texts:
                return text_reply(message, claim.texts[0], int(time.time()))
            return SUCCESS
        # Shielded: if the platform hangs up (and aiohttp cancels the handler), the run
        # still settles its outcome, so the platform's retry can replay it.
        run = asyncio.create_task(self._run(message, claim))
        self._background.add(run)
        run.add_done_callback(self._background.discard)
        return await asyncio.shield(run)

    async def _run(self, message: Message, claim: Claimed) -> str:
        inbound = from_wechat(message)
        task = asyncio.create_task(self.assistant.handle(inbound))
        done, _ = await asyncio.wait({task}, timeout=self.settings.wechat_reply_deadline)
        if not done:
            await claim.settle(Outcome("async"))
            log.info("wechat %s: assistant slower than %.1f s; `success`, answer follows as a customer-service message",
                     message.dedupe_key, self.settings.wechat_reply_deadline)
            self._spawn(self._late(inbound, task))
            return SUCCESS
        handled = task.result()
        pieces = _pieces(handled)
        if not pieces:
            await claim.settle(Outcome("none"))
            await self.assistant.record(inbound, handled, "none")
            return SUCCESS
        await claim.settle(Outcome("passive", (pieces[0],)))
        await self.assistant.record(inbound, handled, "passive" if len(pieces) == 1 else "passive+async")
        if len(pieces) > 1:
            await self.outbox.put(inbound.user_id, pieces[1:], inbound.msg_key)
        return text_reply(message, pieces[0], int(time.time()))

    async def _late(self, inbound: Inbound, task: asyncio.Task[Handled]) -> None:
        handled = await task
        pieces = _pieces(handled)
        # recorded before it is queued, so the outbox's delivery record always finds it
        await self.assistant.record(inbound, handled, "async" if pieces else "none")
        if pieces:
            await self.outbox.put(inbound.user_id, pieces, inbound.msg_key)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """On shutdown: let late answers reach the outbox (they are short)."""
        if self._background:
            await asyncio.wait(self._background, timeout=10)


def _pieces(handled: Handled) -> list[str]:
    """The answer as platform-sized messages: one passive reply if it fits, else several."""
    text = "\n\n".join(t for t in handled.texts if t.strip())
    return split_text(text, TEXT_LIMIT_BYTES) if text else []
