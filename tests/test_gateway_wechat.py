"""The whole WeChat path over real HTTP on loopback: simulator (the platform) -> gateway ->
real Rasa + action server, and back passively or through the customer-service API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.simulator import create_app as create_simulator
from tests.gateway_kit import (
    assistant_of,
    gateway_settings,
    outbox_of,
    running_gateway,
    serving,
    wait_records,
)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]


@contextlib.asynccontextmanager
async def slow_rasa(rasa_url: str, delay: float) -> AsyncIterator[str]:
    """A real Rasa, reached through a proxy that holds each request `delay` seconds."""

    async def forward(request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        async with aiohttp.ClientSession() as session:
            async with session.post(rasa_url + request.path, data=await request.read(),
                                    headers={"Content-Type": "application/json"}) as resp:
                return web.Response(body=await resp.read(), status=resp.status, content_type="application/json")

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", forward)
    async with serving(app) as url:
        yield url


@dataclass
class Pair:
    settings: Any
    gateway: TestServer
    sim: TestServer
    http: aiohttp.ClientSession

    @property
    def sim_url(self) -> str:
        return str(self.sim.make_url("")).rstrip("/")

    async def send(self, **body: Any) -> dict[str, Any]:
        body.setdefault("type", "text")
        async with self.http.post(self.sim_url + "/sim/send", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def inbox(self, openid: str, want: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        for _ in range(int(timeout / 0.1)):
            async with self.http.get(f"{self.sim_url}/sim/inbox/{openid}") as resp:
                got = await resp.json()
            if len(got) >= want:
                return got
            await asyncio.sleep(0.1)
        return got

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.post(self.sim_url + path, json=body or {}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def stats(self) -> dict[str, Any]:
        async with self.http.get(self.sim_url + "/sim/stats") as resp:
            return await resp.json()

    async def gateway_status(self) -> dict[str, Any]:
        async with self.http.get(str(self.gateway.make_url("/status"))) as resp:
            return await resp.json()

    async def gateway_status_once(self, counter: str, timeout: float = 5.0) -> dict[str, Any]:
        """/status as soon as the outbox counter `counter` is set (or at the timeout)."""
        for _ in range(int(timeout / 0.1)):
            status = await self.gateway_status()
            if status["outbox"].get(counter):
                break
            await asyncio.sleep(0.1)
        return status


@contextlib.asynccontextmanager
async def wechat_pair(tmp_path: Path, redis_url: str, rasa_url: str, sim_options: dict[str, Any] | None = None,
                      **env: str) -> AsyncIterator[Pair]:
    """A fresh simulator and gateway over a flushed Redis (tests share one Redis server, and
    an earlier test's undelivered outbox entries must not reach this test's simulator)."""
    client = aioredis.from_url(redis_url)
    try:
        await client.flushall()
    finally:
        await client.close()
    settings = gateway_settings(tmp_path, redis_url, rasa_url, WECHAT_ENCRYPT_MODE="safe", **env)
    sim = TestServer(create_simulator(settings, **(sim_options or {})), host="127.0.0.1", port=settings.wechat_sim_port)
    await sim.start_server()
    try:
        async with running_gateway(settings) as gateway, aiohttp.ClientSession() as http:
            yield Pair(settings, gateway, sim, http)
    finally:
        await sim.close()


async def test_question_answered_passively_in_safe_mode_and_recorded(tmp_path, redis_server, rasa_url) -> None:
    async with wechat_pair(tmp_path, redis_server.url, rasa_url) as pair:
        report = await pair.send(openid="o_fee_user", content="申请专利的申请费是多少")
        assert report["outcome"] == "passive", report
        inbox = await pair.inbox("o_fee_user")
        assert inbox[0]["via"] == "passive" and "申请费" in inbox[0]["text"]
        rows = await wait_records(pair.settings, 1)
        assert rows[0]["path"] == "passive" and rows[0]["decision"] == "answer" and rows[0]["entry_id"]
        assert rows[0]["msg_key"] == f"msg:{report['msg_id']}" and "o_fee_user" not in str(rows[0])


async def test_three_deliveries_run_the_bot_once_and_make_one_record(tmp_path, redis_server, rasa_url) -> None:
    async with wechat_pair(tmp_path, redis_server.url, rasa_url) as pair:
        report = await pair.send(openid="o_dupe", content="年费逾期了还能补交吗", deliveries=3)
        assert assistant_of(pair.gateway).bot_runs == 1
        inbox = await pair.inbox("o_dupe")
        assert len(inbox) == 1 and inbox[0]["via"] == "passive", inbox
        await asyncio.sleep(1.0)  # let a wrongly duplicated record show up, if there were one
        rows = await wait_records(pair.settings, 1, msg_key=f"msg:{report['msg_id']}")
        assert len(rows) == 1


async def test_a_retry_after_a_lost_response_replays_the_answer(tmp_path, redis_server, rasa_url) -> None:
    """The platform gives up on the first POST (its timeout, here 1 s) while the assistant
    works (1.5 s); its retry gets the first run's answer: one bot run, one record."""
    async with slow_rasa(rasa_url, delay=1.5) as slow, \
            wechat_pair(tmp_path, redis_server.url, slow, sim_options={"timeout": 1.0}) as pair:
        report = await pair.send(openid="o_retry", content="什么是专利权评价报告")
        assert report["outcome"] == "passive" and report["tries"] in (2, 3), report
        assert assistant_of(pair.gateway).bot_runs == 1
        inbox = await pair.inbox("o_retry")
        assert len(inbox) == 1 and "评价报告" in inbox[0]["text"]
        await asyncio.sleep(1.0)
        assert len(await wait_records(pair.settings, 1)) == 1


async def test_menu_click_and_recognised_voice_reach_the_assistant(tmp_path, redis_server, rasa_url) -> None:
    async with wechat_pair(tmp_path, redis_server.url, rasa_url) as pair:
        await pair.send(openid="o_menu", type="click", event_key="FAQ_ANNUAL_FEE")
        await pair.send(openid="o_menu", type="voice", recognition="怎么提出优先审查请求")
        inbox = await pair.inbox("o_menu", want=2)
        assert "年费" in inbox[0]["text"] and "优先审查" in inbox[1]["text"], inbox
        rows = await wait_records(pair.settings, 2)
        assert [r["decision"] for r in rows] == ["answer", "answer"]
        assert rows[1]["text_in"].startswith("[语音]")


async def test_slow_assistant_success_then_customer_service_message(tmp_path, redis_server, rasa_url) -> None:
    async with slow_rasa(rasa_url, delay=1.5) as slow, \
            wechat_pair(tmp_path, redis_server.url, slow, WECHAT_REPLY_DEADLINE="0.5") as pair:
        report = await pair.send(openid="o_slow", content="专利权评价报告多久能出来")
        assert report["outcome"] == "success" and report["tries"] == 1, report
        inbox = await pair.inbox("o_slow")
        assert inbox and inbox[0]["via"] == "custom" and "评价报告" in inbox[0]["text"], inbox
        rows = await wait_records(pair.settings, 1)
        assert rows[0]["path"] == "async"
        # the token expires on the platform: the next late answer refreshes it and still arrives
        await pair.control("/sim/expire-tokens")
        await pair.send(openid="o_slow", content="什么是专利优先审查")
        inbox = await pair.inbox("o_slow", want=2)
        assert len(inbox) == 2 and inbox[1]["via"] == "custom", inbox
        assert outbox_of(pair.gateway).api.token_fetches == 2
        stats = (await pair.stats())["counters"]
        assert stats.get("api.custom_send.42001", 0) + stats.get("api.custom_send.40001", 0) == 1, stats


async def test_platform_errors_retried_refused_or_waited_out(tmp_path, redis_server, rasa_url) -> None:
    async with wechat_pair(tmp_path, redis_server.url, rasa_url) as pair:
        await pair.send(openid="o_err", content="您好")  # opens the 48-hour window
        outbox = outbox_of(pair.gateway)
        # "system busy" twice: retried with backoff, then delivered
        await pair.control("/sim/faults", {"api_errors": [-1, -1]})
        await outbox.put("o_err", ["第一条客服消息"], "test:busy")
        inbox = await pair.inbox("o_err", want=2)
        assert inbox[-1]["text"] == "第一条客服消息"
        # over the quota: refused for good, counted and surfaced, not retried forever
        await pair.control("/sim/faults", {"api_errors": [45047]})
        await outbox.put("o_err", ["超出配额的消息"], "test:quota")
        status = await pair.gateway_status_once("errcode_45047")
        assert status["outbox"]["errcode_45047"] == 1 and status["outbox"]["refused"] == 1
        # platform down: the message waits in the outbox and goes out when it is back
        await pair.control("/sim/faults", {"api_down": True})
        await outbox.put("o_err", ["平台恢复后送达"], "test:down")
        await asyncio.sleep(1.5)
        assert (await pair.gateway_status())["outbox"]["waiting"] >= 1
        await pair.control("/sim/faults", {"api_down": False})
        inbox = await pair.inbox("o_err", want=3, timeout=40)
        assert [m["text"] for m in inbox[1:]] == ["第一条客服消息", "平台恢复后送达"]
        # outside the 48-hour window: refused with 45015 and counted
        await pair.control("/sim/clock", {"advance": 49 * 3600})
        await outbox.put("o_err", ["窗口外的消息"], "test:window")
        status = await pair.gateway_status_once("errcode_45015")
        assert status["outbox"]["errcode_45015"] == 1


async def test_web_chat_same_pipeline_and_idempotent_ids(tmp_path, redis_server, rasa_url) -> None:
    async with wechat_pair(tmp_path, redis_server.url, rasa_url) as pair:
        url = str(pair.gateway.make_url("/api/chat"))
        body = {"sender": "visitor-42", "message": "PCT进入中国国家阶段的期限是多久", "id": "m1"}
        async with pair.http.post(url, json=body) as resp:
            first = await resp.json()
        assert resp.status == 200 and first["decision"] in ("answer", "clarify") and first["messages"]
        async with pair.http.post(url, json=body) as resp:
            again = await resp.json()
        assert again["replayed"] and again["messages"] == first["messages"]
        assert assistant_of(pair.gateway).bot_runs == 1
        for bad, status in (({"sender": "<script>", "message": "x"}, 400), ({"sender": "v", "message": ""}, 400),
                            ({"sender": "v", "message": "x" * 3000}, 413)):
            async with pair.http.post(url, json=bad) as resp:
                assert resp.status == status
        async with pair.http.post(url, data="not json", headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 400
        rows = await wait_records(pair.settings, 1)
        assert rows[0]["channel"] == "web" and rows[0]["path"] == "web"


async def test_every_menu_item_gets_its_answer(rasa_url) -> None:
    from bot.rasa_client import RasaClient
    from bot.wechat.menu import MENU

    async with RasaClient(rasa_url) as rasa:
        for item in MENU:
            reply = await rasa.send(f"menu-check-{item.key}", item.question)
            expected = "handoff" if item.key == "HUMAN" else "answer"
            assert reply.info["decision"] == expected, (item, reply.texts)


async def test_simulator_page_chats_with_the_real_assistant(tmp_path, redis_server, rasa_url) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.test_simulator_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOT

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    expect.set_options(timeout=20_000)
    async with wechat_pair(tmp_path, redis_server.url, rasa_url) as pair, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 460, "height": 860}, locale="zh-CN")
            await page.goto(pair.sim_url + "/")
            await expect(page.locator(".row.them .bubble").first).to_contain_text("欢迎关注")
            await page.fill("#input", "专利年费什么时候交")
            await page.click("#send")
            await expect(page.locator(".row.them .bubble")).to_have_count(2)
            answer = await page.locator(".row.them .bubble").last.inner_text()
            assert "年费" in answer and "依据" in answer, answer
            await page.screenshot(path=str(SCREENSHOT.with_name("simulator-demo.png")))
        finally:
            await browser.close()


async def test_two_quick_clicks_on_different_items_each_get_their_answer(tmp_path, redis_server, rasa_url) -> None:
    """Same user, same CreateTime second, two menu items: two events, two answers."""
    from tests.gateway_kit import Poster, event_xml

    async with wechat_pair(tmp_path, redis_server.url, rasa_url) as pair:
        poster = Poster(pair.settings, str(pair.gateway.make_url("")).rstrip("/"))
        second = int(asyncio.get_running_loop().time()) + 1_700_000_000  # any fixed second
        clicks = [event_xml("o_clicks", "CLICK", key, create_time=second) for key in ("FAQ_ANNUAL_FEE", "FAQ_PRIORITY_EXAM")]
        answers = await asyncio.gather(*(poster.post(pair.http, xml, safe=True) for xml in clicks))
        texts = [poster.open_reply(body, safe=True)["Content"] for status, body in answers]
        assert all(status == 200 for status, _ in answers)
        assert "年费" in texts[0] and "优先审查" in texts[1], texts
        assert assistant_of(pair.gateway).bot_runs == 2
        # the platform's retry of the first click still replays its own answer
        status, body = await poster.post(pair.http, clicks[0], safe=True)
        assert poster.open_reply(body, safe=True)["Content"] == texts[0]
        assert assistant_of(pair.gateway).bot_runs == 2


async def test_nested_menu_events_are_read_not_flattened(tmp_path, redis_server, rasa_url) -> None:
    from tests.gateway_kit import Poster
    from tests.test_wechat_protocol import WECHATPY

    async with wechat_pair(tmp_path, redis_server.url, rasa_url) as pair:
        poster = Poster(pair.settings, str(pair.gateway.make_url("")).rstrip("/"))

        async def post(name: str) -> str:
            xml = (WECHATPY / f"{name}.xml").read_text().replace("1408", str(int(time.time()))[:4], 1)
            status, body = await poster.post(pair.http, xml, safe=True)
            assert status == 200, body
            return body

        waitmsg = poster.open_reply(await post("scan_code_waitmsg_event"), safe=True)
        assert "扫描" in waitmsg["Content"]  # the client waits for an answer to scancode_waitmsg
        assert await post("pic_sysphoto_event") == "success"
        assert await post("location_select_event") == "success"
        rows = await wait_records(pair.settings, 3)
        assert [r["text_in"] for r in rows] == ["[扫码] qrcode: 2", "[发图] 1 张", "[选择位置] 广州市海珠区客村艺苑路 106号"]
        assert [r["msg_type"] for r in rows] == ["event:scancode_waitmsg", "event:pic_sysphoto", "event:location_select"]
