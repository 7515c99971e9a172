"""The agent console in a real browser (Debian's Chromium through playwright, never a
downloaded one), on the whole path: a simulated WeChat user -> the gateway -> real Rasa
hands off -> an agent logs in, claims, reads the transcript, replies, and the user's
inbox on the simulator receives it; two agents racing for one conversation."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot import replies
from bot.console.app import mount_console
from bot.gateway.app import create_app
from bot.simulator import create_app as create_simulator
from tests.gateway_kit import gateway_settings
from tests.test_console_auth import PASSWORD, Desk, console_of, flush, open_calendar, settled
from tests.test_gateway_wechat import Pair
from tests.test_simulator_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOT

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

WAIT_MS = 15_000
XSS = "<img src=x onerror=alert(1)>"


@contextlib.asynccontextmanager
async def desk_with_users(tmp_path: Path, redis_url: str, rasa_url: str, token: str,
                          **env: str) -> AsyncIterator[tuple[Pair, Desk]]:
    """Simulator (the platform and its users) + the real gateway with the console + Rasa."""
    await flush(redis_url)
    settings = gateway_settings(tmp_path, redis_url, rasa_url, WECHAT_ENCRYPT_MODE="safe", RASA_AUTH_TOKEN=token,
                                HANDOFF_CALENDAR=open_calendar(tmp_path), **env)
    sim = TestServer(create_simulator(settings), host="127.0.0.1", port=settings.wechat_sim_port)
    await sim.start_server()
    app = create_app(settings)
    console = console_of(app) or mount_console(app, settings)
    gateway = TestServer(app, host="127.0.0.1", port=settings.gateway_port)
    await gateway.start_server()
    try:
        await settled(settings, console)
        async with aiohttp.ClientSession() as http:
            yield Pair(settings, gateway, sim, http), Desk(settings, gateway, console)
    finally:
        await gateway.close()
        await sim.close()


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package "
                    "(these tests never download a browser)")
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=WAIT_MS)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class Watch:
    """Whatever goes wrong on a page: script errors, console errors (CSP reports included),
    and any dialog (an alert() from injected markup would be one)."""

    def __init__(self, expected: tuple[int, ...] = ()) -> None:
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        # refusals the test provokes on purpose: the browser logs them as failed loads
        self.expected = tuple(f"the server responded with a status of {status} " for status in (401, *expected))

    def attach(self, page: Any) -> Any:
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("console", self._console)

        async def dismiss(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", dismiss)
        return page

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and not any(e in msg.text for e in self.expected):
            self.problems.append(msg.text)


async def log_in(browser: Any, desk: Desk, login: str, watch: Watch) -> Any:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = watch.attach(await context.new_page())
    await page.goto(desk.base + "/")  # not logged in: sent to the login page
    await expect(page).to_have_url(desk.base + "/login")
    await page.fill("#login", login)
    await page.fill("#password", "not the password")
    await page.click("#submit")
    await expect(page.locator("#error")).to_have_text("账号或密码不正确，请重新输入。")  # the 401 is expected
    # the browser reports the refused attempt as a failed resource load: expected here
    watch.problems = [p for p in watch.problems if "status of 401" not in p]
    await page.fill("#password", PASSWORD)
    await page.click("#submit")
    await expect(page).to_have_url(desk.base + "/")
    await expect(page.locator("#link")).to_have_text("已连接")
    await expect(page.locator("#presence")).to_have_value("online")
    return page


async def inbox_texts(pair: Pair, openid: str, want: int) -> list[str]:
    """The user's inbox once it holds exactly `want` messages (a wrong count fails fast)."""
    texts = [m["text"] for m in await pair.inbox(openid, want=want)]
    assert len(texts) == want, texts
    return texts


async def test_agent_claims_reads_replies_and_closes(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    from playwright.async_api import expect

    async with desk_with_users(tmp_path, redis_server.url, rasa_url, rasa_auth_token) as (pair, desk), \
            chromium() as browser:
        desk.add("li", "客服小李", capacity=0)  # takes conversations by hand only
        watch = Watch()
        page = await log_in(browser, desk, "li", watch)
        await expect(page.locator("#me-name")).to_have_text("客服小李")

        # a WeChat user asks the bot, then asks for a person, then writes while waiting
        user = "o_console_user_1"
        await pair.send(openid=user, content="专利年费什么时候交")
        await pair.send(openid=user, content="转人工")
        assert "正在为您转接人工客服" in (await inbox_texts(pair, user, 2))[1]
        await pair.send(openid=user, content=XSS)
        conv_id = desk.flow.conv_id_for("wechat", user)

        waiting = page.locator(f"#queue li[data-conv-id='{conv_id}']")
        await expect(waiting.locator(".wait")).to_contain_text("已等待")
        await expect(waiting.locator(".summary")).to_have_text("转人工")
        await waiting.locator(".claim").click()
        await expect(page.locator("#notice-text")).to_have_text("已接入会话，请及时回复用户。")
        await expect(page.locator(f"#conversations li[data-conv-id='{conv_id}']")).to_be_visible()
        await expect(page.locator("#queue li")).to_have_count(0)
        assert (await inbox_texts(pair, user, 3))[-1] == replies.agent_joined("客服小李")

        # the transcript: the user's words, the bot's answer with its entry, the markup as text
        transcript = page.locator("#transcript")
        await expect(transcript.locator(".line.user .text").first).to_have_text("专利年费什么时候交")
        entry = transcript.locator(".line.bot .entry").first
        await expect(entry).to_contain_text("知识条目 ")
        await expect(entry).to_contain_text("置信度 ")
        await expect(transcript.locator(".line.user .text").last).to_have_text(XSS)
        assert await transcript.locator("img").count() == 0

        # a canned answer from the knowledge base goes into the reply box
        await page.fill("#canned-q", "年费晚交了有滞纳金吗")
        # three entries answer it: the late-payment rule, the surcharge scale, and the tiers by month late
        await expect(page.locator("#canned-results li").first).to_have_attribute(
            "data-entry-id",
            re.compile(r"^(annual-fee-late-payment|fee-sched-annual-late-fee-amounts|qa-annual-late-under-one-month)$"))
        await page.locator("#canned-results .insert").first.click()
        assert "（依据：" in await page.input_value("#reply-text")

        # the agent's reply reaches the user's WeChat inbox
        answer = "您好，我是客服小李。年费应在每年申请日的对应日前缴纳，逾期6个月内可补缴并交滞纳金。"
        await page.fill("#reply-text", answer)
        await page.click("#reply-send")
        await expect(page.locator("#reply-text")).to_have_value("")
        assert (await inbox_texts(pair, user, 4))[-1] == answer
        await expect(transcript.locator(".line.agent .text").last).to_have_text(answer)
        await expect(transcript.locator(".line.agent .who").last).to_have_text("客服小李")

        # close with an outcome, a category and a complaint grade; the user is asked to rate
        await page.select_option("#close-outcome", "resolved")
        await page.select_option("#close-category", "年费")
        await page.select_option("#close-grade", "B")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT.with_name("console.png")))
        await page.click("#close")
        await expect(page.locator("#notice-text")).to_have_text("会话已结束，已邀请用户评价本次服务。")
        await expect(page.locator("#conversations li")).to_have_count(0)
        assert (await inbox_texts(pair, user, 5))[-1] == replies.RATING_REQUEST_AGENT
        closed = await desk.flow.queue.get(conv_id)
        assert closed is not None and closed.state == "closed" and closed.outcome == "resolved"

        assert watch.dialogs == [] and watch.problems == [], (watch.dialogs, watch.problems)


async def test_two_agents_claim_one_conversation_and_a_left_message(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    from playwright.async_api import expect

    async with desk_with_users(tmp_path, redis_server.url, rasa_url, rasa_auth_token) as (pair, desk), \
            chromium() as browser:
        desk.add("x1", "客服甲", capacity=0)
        desk.add("x2", "客服乙", capacity=0)
        watch = Watch(expected=(409,))
        pages = {login: await log_in(browser, desk, login, watch) for login in ("x1", "x2")}
        user = "o_console_race"
        await pair.send(openid=user, content="转人工")
        conv_id = desk.flow.conv_id_for("wechat", user)
        claim = f"#queue li[data-conv-id='{conv_id}'] .claim"
        for page in pages.values():
            await expect(page.locator(claim)).to_be_visible()

        # both click at the same moment: the buttons are taken first, so a page whose list is
        # redrawn by the other's claim before its own click still clicks (its listener is on the
        # button itself), as a person who already pressed would
        buttons = [await page.locator(claim).element_handle() for page in pages.values()]
        await asyncio.gather(*(b.evaluate("button => button.click()") for b in buttons))
        for _ in range(100):
            conv = await desk.flow.queue.get(conv_id)
            if conv is not None and conv.agent:
                break
            await asyncio.sleep(0.1)
        assert conv is not None and conv.state == "assigned" and conv.agent in pages
        winner, loser = pages[conv.agent], pages[({"x1", "x2"} - {conv.agent}).pop()]
        await expect(winner.locator(f"#conversations li[data-conv-id='{conv_id}']")).to_be_visible()
        await expect(winner.locator("#notice-text")).to_have_text("已接入会话，请及时回复用户。")
        await expect(loser.locator("#notice-text")).to_have_text(
            "这位用户已由其他同事接入，无需重复接入。请从队列中选择其他会话。")
        await expect(loser.locator("#queue li")).to_have_count(0)
        await expect(loser.locator("#conversations li")).to_have_count(0)
        assert loser.url == desk.base + "/"  # still the console, no error page
        assert await loser.locator("body.console").count() == 1
        inbox = await inbox_texts(pair, user, 2)
        assert inbox[-1] == replies.agent_joined("客服甲" if conv.agent == "x1" else "客服乙")

        # meanwhile another user leaves a message; the free agent answers it from the list
        other = "o_console_leaver"
        await pair.send(openid=other, content="转人工")
        await pair.send(openid=other, content="留言")
        await pair.send(openid=other, content="请安排工作人员电话联系我，商量我们单位的专利事宜，谢谢。")
        await pair.send(openid=other, content="1")  # confirms the echoed message
        assert "留言已收到" in (await inbox_texts(pair, other, 4))[-1]
        ticket = loser.locator("#tickets li").first
        await expect(ticket.locator(".summary")).to_have_text("请安排工作人员电话联系我，商量我们单位的专利事宜，谢谢。")
        await expect(ticket.locator(".overdue-flag")).to_have_count(0)
        ticket_id = await ticket.get_attribute("data-ticket-id")
        await ticket.click()
        await loser.fill("#ticket-answer", "您好，实用新型专利年费标准请以缴费通知书为准。")
        await loser.click("#ticket-send")
        await expect(loser.locator("#notice-text")).to_have_text("答复已发送给用户。")
        await expect(loser.locator("#tickets li")).to_have_count(0)
        assert (await inbox_texts(pair, other, 5))[-1] == \
            replies.ticket_answer(str(ticket_id), "您好，实用新型专利年费标准请以缴费通知书为准。")
        assert watch.dialogs == [] and watch.problems == [], (watch.dialogs, watch.problems)
