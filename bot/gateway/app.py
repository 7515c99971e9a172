"""create_app(settings): the gateway's aiohttp application and its long-lived clients."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.console.app import mount_console
from bot.gateway.account import load_account
from bot.gateway.appkeys import (
    ASSISTANT,
    ENGINE,
    FLOW,
    NOTICES,
    ONCE,
    OUTBOX,
    RECORDS,
    REDIS,
    SETTINGS,
    WEBCHAT,
    WECHAT,
    WRITER,
)
from bot.gateway.dedupe import Once
from bot.gateway.delivery import Delivery
from bot.gateway.handlers import handlers_for
from bot.gateway.handoff_flow import HandoffFlow
from bot.gateway.notice_view import delivery_reporter, notice_page, subscribe_page
from bot.gateway.notices import Notices
from bot.gateway.outbox import Outbox
from bot.gateway.pipeline import Assistant
from bot.gateway.rasa_turn import RasaTurn
from bot.gateway.router import Router
from bot.gateway.scenes import SceneGreeter
from bot.gateway.state import StateStore
from bot.gateway.upkeep import HandoffUpkeep
from bot.gateway.webchat import WebChat
from bot.gateway.wechat_api import WeChatAPI
from bot.gateway.wechat_view import WeChatEndpoint
from bot.handoff import HandoffQueue, load_calendar, load_teams
from bot.knowledge.service import knowledge_dir
from bot.rasa_client import RasaClient
from bot.records.buffer import STREAM as RECORDS_STREAM
from bot.records.buffer import RecordBuffer
from bot.records.episodes import entry_categories
from bot.records.store import make_engine
from bot.records.writer import RecordWriter
from bot.runtime.services import rasa_token

log = logging.getLogger("patentdesk.gateway")

__all__ = ["ASSISTANT", "OUTBOX", "REDIS", "SETTINGS", "WRITER", "create_app"]


async def _clients(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    redis = aioredis.from_url(settings.effective_redis_url, socket_timeout=5, socket_connect_timeout=2,
                              health_check_interval=10)
    engine = make_engine(settings.database_url)
    http = aiohttp.ClientSession()
    spool = settings.var_dir / "records-spool.jsonl"
    # Stream consumer names, unique per gateway (host and port), the same after a restart so
    # a restarted gateway takes up its own unacked entries at once. Never the pid alone: in
    # containers every gateway is pid 1, and two consumers sharing a name read each other's
    # pending entries (an outbox message would go out twice).
    worker = f"{socket.gethostname()}-{settings.gateway_port}"
    async with RasaClient(settings.rasa_url, timeout=60, auth_token=rasa_token(settings)) as rasa:
        buffer = RecordBuffer(redis, spool)
        once = Once(redis)
        api = WeChatAPI(http, redis, settings.wechat_api_base, settings.wechat_appid, settings.wechat_appsecret)
        calendar = load_calendar(settings.handoff_calendar or None)
        account = load_account(settings.wechat_account_file or None)
        notices = Notices(api, redis, account.notice, settings.gateway_public_url) if account.notice else None
        outbox = Outbox(redis, api, consumer=f"sender-{worker}", notices=notices,
                        report=delivery_reporter(buffer, settings.pseudonym_key))
        queue = HandoffQueue(redis, lease_seconds=settings.handoff_lease, avg_handle_seconds=settings.handoff_avg_handle,
                             calendar=calendar, teams=load_teams(settings.handoff_teams or None, calendar))
        delivery = Delivery(redis, outbox)
        flow = HandoffFlow(settings, redis, queue, rasa, delivery, buffer)
        turns = RasaTurn(rasa)
        flow.notices = notices
        router = Router(StateStore(redis, queue.keys), handlers_for(flow, turns), flow.conv_id_for, flow.clock,
                        scenes=SceneGreeter(redis, account.scenes))
        assistant = Assistant(turns, router, buffer, flow.transcripts, settings.pseudonym_key)
        # parsing the knowledge base takes ~0.2 s: not on the event loop
        categories = await asyncio.get_running_loop().run_in_executor(None, entry_categories, knowledge_dir(settings))
        writer = RecordWriter(redis, engine, spool, consumer=f"writer-{worker}", idle_timeout=settings.records_idle_timeout,
                              categories=categories)
        app[REDIS], app[ASSISTANT], app[OUTBOX], app[WRITER] = redis, assistant, outbox, writer
        app[ENGINE], app[RECORDS], app[FLOW], app[ONCE] = engine, buffer, flow, once
        app[NOTICES] = notices
        app[WECHAT] = WeChatEndpoint(settings, assistant, once, outbox)
        app[WEBCHAT] = WebChat(assistant, once, delivery)
        upkeep = HandoffUpkeep(flow)
        workers = [asyncio.create_task(outbox.run(), name="outbox"),
                   asyncio.create_task(writer.run(), name="records-writer"),
                   asyncio.create_task(upkeep.run(), name="handoff-upkeep")]
        try:
            yield
        finally:
            upkeep.stop()
            await app[WECHAT].close()
            outbox.stop()
            writer.stop()
            _, late = await asyncio.wait(workers, timeout=5)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=2)
            await writer.flush()
            await http.close()
            await redis.close()
            engine.dispose()


@web.middleware
async def no_tracebacks(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Whatever goes wrong inside, the caller gets a short message; the log gets the rest."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.Response(status=500, text="internal error\n", content_type="text/plain")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def status(request: web.Request) -> web.Response:
    """Counters an operator needs: outbox waiting/refused (window, quota), records buffered,
    requests per Rasa server (how the conversations spread), the published knowledge version
    and what each action server serves."""
    assistant = request.app[ASSISTANT]
    body: dict[str, object] = {"bot_runs": assistant.bot_runs, "rasa_requests": dict(assistant.rasa.requests)}
    try:
        body["outbox"] = await request.app[OUTBOX].stats()
        body["records_buffered"] = await request.app[REDIS].xlen(RECORDS_STREAM)
        body["redis"] = "ok"
    except (RedisError, OSError) as exc:
        body["redis"] = f"unavailable: {exc}"
    body["knowledge"] = await asyncio.get_running_loop().run_in_executor(None, knowledge_status, request.app[ENGINE])
    return web.json_response(body)


def knowledge_status(engine: Engine) -> dict[str, object]:
    """The console's published version and what each action server serves (state and
    version only: the reasons of a failure are for the console and `patentdesk doctor`)."""
    from bot.curation import store
    from bot.curation.served import published_version

    try:
        version = published_version(engine)
        servers = store.servers(engine) if version is not None else []
    except SQLAlchemyError as exc:
        return {"database": f"unavailable: {type(exc).__name__}"}
    return {"published_version": version,
            "action_servers": {s.server: {"state": s.state, "version": s.version} for s in servers}}


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.gateway_max_body, middlewares=[no_tracebacks])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_clients)

    async def wechat_get(request: web.Request) -> web.Response:
        return await request.app[WECHAT].verify(request)

    async def wechat_post(request: web.Request) -> web.Response:
        return await request.app[WECHAT].receive(request)

    async def chat_post(request: web.Request) -> web.Response:
        return await request.app[WEBCHAT].post(request)

    async def chat_inbox(request: web.Request) -> web.Response:
        return await request.app[WEBCHAT].inbox(request)

    async def subscribe_get(request: web.Request) -> web.Response:
        notices = request.app[NOTICES]
        if notices is None:
            raise web.HTTPNotFound()
        return await subscribe_page(notices, request.path_qs)

    async def notice_get(request: web.Request) -> web.Response:
        notices = request.app[NOTICES]
        if notices is None:
            raise web.HTTPNotFound()
        return await notice_page(notices, request.match_info["page_id"])

    app.router.add_get("/wechat/subscribe", subscribe_get)
    app.router.add_get("/wechat/notice/{page_id}", notice_get)
    app.router.add_get("/wechat", wechat_get)
    app.router.add_post("/wechat", wechat_post)
    app.router.add_post("/api/chat", chat_post)
    app.router.add_get("/api/chat/inbox", chat_inbox)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/status", status)
    # the agent console at /console (mount_console rather than add_subapp: see bot/console/app.py)
    mount_console(app, settings)
    return app
