"""The simulator's chat page in a real browser: Debian's Chromium driven by playwright.

Two tabs are two WeChat users; each sees only its own chat, and a customer-service
message sent through the API shows up live in the right tab. No browser is downloaded:
`make test` installs Debian's chromium package.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.simulator.routes import PLATFORM
from bot.wechat.menu import MENU
from tests.test_simulator import custom, get_json, new_token, simulator_and_gateway

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = PROJECT_ROOT / "var" / "screenshots" / "simulator.png"
WAIT_MS = 10_000


async def test_two_users_chat_and_see_customer_service_live(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package "
                    "(these tests never download a browser)")
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=WAIT_MS)
    async with simulator_and_gateway(tmp_path, "safe") as (client, gateway), async_playwright() as p:
        base = f"http://{client.host}:{client.port}/"
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 460, "height": 860}, locale="zh-CN",
                                                device_scale_factor=1)
            problems: list[str] = []
            first, second = await context.new_page(), await context.new_page()
            for page in (first, second):
                page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
                page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)

            # user 1 arrives (following the account greets them) and asks a question
            await first.goto(base)
            await expect(first.locator(".row.them .bubble").first).to_have_text("欢迎关注")
            await first.fill("#nickname", "张三")
            await first.press("#nickname", "Enter")
            await first.fill("#input", "专利年费什么时候缴纳")
            await first.click("#send")
            await expect(first.locator(".row.them .bubble").last).to_have_text("收到：专利年费什么时候缴纳")
            await expect(first.locator(".row.me .bubble")).to_have_text(["专利年费什么时候缴纳"])
            await expect(first.locator(".row.me.pending")).to_have_count(0)

            # user 2, another tab: another OpenID, its own chat; the custom menu sends a CLICK
            await second.goto(base)
            await expect(second.locator(".row.them .bubble").first).to_have_text("欢迎关注")
            await second.fill("#input", "<img src=x onerror=alert(1)>")
            await second.press("#input", "Enter")
            await expect(second.locator(".row.them .bubble").last).to_have_text("收到：<img src=x onerror=alert(1)>")
            assert await second.locator("#chat img").count() == 0  # shown as text, never as markup
            await second.click("#to-menu")
            await second.click(f"#menu-items button[data-key='{MENU[1].key}']")
            await expect(second.locator(".row.them .bubble").last).to_have_text(f"菜单：{MENU[1].key}")
            labels = await second.locator("#menu-items button").all_text_contents()
            assert labels == [item.label for item in MENU]

            openid1 = await first.locator("#openid").get_attribute("data-openid")
            openid2 = await second.locator("#openid").get_attribute("data-openid")
            assert openid1 and openid2 and openid1 != openid2
            assert openid1 == await first.evaluate("sessionStorage.getItem('wechat-sim.openid')")
            assert "收到：<img" not in await first.locator("#chat").inner_text()
            assert "年费" not in await second.locator("#chat").inner_text()
            senders = {g["fields"]["FromUserName"] for g in gateway.received}
            assert senders == {openid1, openid2}

            # a human agent answers user 1 through the customer-service API: it appears live
            token = await new_token(client)
            result = await custom(client, token, openid1, "您好，我是人工客服小李。年费应在每个申请日对应日前缴纳。",
                                  customservice={"kf_account": "kf2001@patentdesk"})
            assert result["errcode"] == 0
            await expect(first.locator(".row.custom .bubble")).to_have_text(
                "您好，我是人工客服小李。年费应在每个申请日对应日前缴纳。")
            await expect(first.locator(".row.custom .tag")).to_have_text("客服消息 · kf2001@patentdesk")
            assert await second.locator(".row.custom").count() == 0
            inbox2 = await get_json(client, f"/sim/inbox/{openid2}")
            assert all(m["via"] == "passive" for m in inbox2)

            # a reload keeps the user and redraws the chat from the platform's history
            await first.reload()
            await expect(first.locator(".row.custom .bubble")).to_have_count(1)
            assert await first.locator("#openid").get_attribute("data-openid") == openid1

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await first.screenshot(path=str(SCREENSHOT))
            assert not problems, problems
        finally:
            await browser.close()


async def test_page_scans_the_accounts_codes_and_allows_a_notice(tmp_path: Path) -> None:
    """The page's stand-ins for a camera and WeChat's subscription popup post what the
    platform would: SCAN with the code's scene, and subscribe_msg_popup_event (accept)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=WAIT_MS)
    async with simulator_and_gateway(tmp_path, "safe") as (client, gateway), async_playwright() as p:
        token = await new_token(client)
        made = await client.post("/cgi-bin/qrcode/create", params={"access_token": token}, json={
            "action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "hall"}}})
        ticket = (await made.json())["ticket"]
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 460, "height": 860}, locale="zh-CN")
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            await page.goto(f"http://{client.host}:{client.port}/")
            await expect(page.locator(".row.them .bubble").first).to_have_text("欢迎关注")
            await page.click("#to-menu")
            await expect(page.locator(".menu-group")).to_have_text(["常见问题", "扫一扫（模拟扫描公众号二维码）"])
            await page.click("#menu-items button.scan")
            for _ in range(50):
                if any(r["fields"].get("Event") == "SCAN" for r in gateway.received):
                    break
                await page.wait_for_timeout(100)
            scan = next(r["fields"] for r in gateway.received if r["fields"].get("Event") == "SCAN")
            assert scan["EventKey"] == "hall" and scan["Ticket"] == ticket

            openid = await page.locator("#openid").get_attribute("data-openid")
            assert openid
            await custom(client, token, openid=openid, content="请打开 https://example.org/wechat/subscribe 选择允许")
            await page.click("button.allow-notice")
            await expect(page.locator("button.allow-notice")).to_have_text("已允许")
            for _ in range(50):
                if any(r["fields"].get("Event") == "subscribe_msg_popup_event" for r in gateway.received):
                    break
                await page.wait_for_timeout(100)
            assert any(r["fields"].get("Event") == "subscribe_msg_popup_event" for r in gateway.received)
            assert client.server.app[PLATFORM].subscriptions[(openid, "patentdesk_reply_notice")] == 1
            assert problems == []
        finally:
            await browser.close()
