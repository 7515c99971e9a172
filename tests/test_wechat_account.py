"""The official account on the platform: our menu pushed and compared through the API, and
`patentdesk doctor --wechat` against a simulator configured wrongly in each way it can be.

Real HTTP on loopback: the simulator plays the platform, the gateway answers the server-URL
verification, the token cache is a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from bot.cli.wechat import menu_diff, menu_push, menu_show, qrcode
from bot.cli.wechat_doctor import check_wechat
from bot.config import Settings
from bot.simulator import create_app as create_simulator
from bot.wechat.menu import MENU, menu_payload
from tests.gateway_kit import gateway_settings, running_gateway

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Account:
    settings: Settings
    sim: TestServer
    http: aiohttp.ClientSession

    async def control(self, path: str, body: dict[str, Any]) -> Any:
        async with self.http.post(str(self.sim.make_url(path)), json=body) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def api(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A call as any API client makes it, with a fresh token."""
        s = self.settings
        async with self.http.get(str(self.sim.make_url("/cgi-bin/token")), params={
                "grant_type": "client_credential", "appid": s.wechat_appid, "secret": s.wechat_appsecret}) as resp:
            token = (await resp.json())["access_token"]
        url = str(self.sim.make_url(path))
        call = self.http.post(url, params={"access_token": token}, json=body) if body is not None else \
            self.http.get(url, params={"access_token": token})
        async with call as resp:
            return await resp.json()


@contextlib.asynccontextmanager
async def account(tmp_path: Path, redis_url: str, menu: Any = None, gateway: bool = False) -> AsyncIterator[Account]:
    client = aioredis.from_url(redis_url)
    try:
        await client.flushall()  # no token cached by an earlier test's account
    finally:
        await client.close()
    settings = gateway_settings(tmp_path, redis_url, "http://127.0.0.1:9")
    sim = TestServer(create_simulator(settings, menu=menu), host="127.0.0.1", port=settings.wechat_sim_port)
    await sim.start_server()
    try:
        async with contextlib.AsyncExitStack() as stack:
            if gateway:
                await stack.enter_async_context(running_gateway(settings))
            http = await stack.enter_async_context(aiohttp.ClientSession())
            yield Account(settings, sim, http)
    finally:
        await sim.close()


async def test_menu_push_creates_our_menu_and_diff_agrees(tmp_path, redis_server) -> None:
    async with account(tmp_path, redis_server.url) as acc:
        code, lines = await menu_show(acc.settings)
        assert code == 0 and "no menu" in lines[-1]
        code, lines = await menu_diff(acc.settings)
        assert code == 1 and sum(line.strip().startswith("+ ") for line in lines) == len(MENU)
        code, lines = await menu_push(acc.settings)
        assert code == 0, lines
        held = (await acc.api("/cgi-bin/menu/get"))["menu"]
        assert [b["name"] for b in held["button"]] == ["常见问题", "人工服务"]
        assert [s["key"] for s in held["button"][0]["sub_button"]] == [i.key for i in MENU if i.group == "常见问题"]
        assert (await menu_diff(acc.settings))[0] == 0
        # the chat page draws the menu the platform holds
        async with acc.http.get(str(acc.sim.make_url("/sim/config"))) as resp:
            page_menu = (await resp.json())["menu"]
        assert [(i["key"], i["group"]) for i in page_menu] == [(i.key, i.group) for i in MENU]


async def test_diff_names_what_someone_changed_by_hand(tmp_path, redis_server) -> None:
    hand_made = menu_payload()
    hand_made["button"][0]["sub_button"][1] = {"type": "click", "name": "年费", "key": "ANNUAL"}
    hand_made["button"].append({"type": "view", "name": "官网", "url": "https://www.cnipa.gov.cn/"})
    async with account(tmp_path, redis_server.url, menu=hand_made) as acc:
        code, lines = await menu_diff(acc.settings)
        assert code == 1
        body = "\n".join(lines)
        assert "- 常见问题 › 年费  [click ANNUAL]" in body and "- 官网  [view https://www.cnipa.gov.cn/]" in body
        assert "+ 常见问题 › 年费缴纳  [click FAQ_ANNUAL_FEE]" in body
        await menu_push(acc.settings)
        assert (await menu_diff(acc.settings))[0] == 0


async def test_platform_refuses_a_menu_that_breaks_its_rules(tmp_path, redis_server) -> None:
    async with account(tmp_path, redis_server.url) as acc:
        too_many = {"button": [{"type": "click", "name": f"项{i}", "key": f"K{i}"} for i in range(4)]}
        assert (await acc.api("/cgi-bin/menu/create", too_many))["errcode"] == 40016
        long_name = {"button": [{"type": "click", "name": "这是一个过长的菜单名称", "key": "K"}]}
        assert (await acc.api("/cgi-bin/menu/create", long_name))["errcode"] == 40018
        six_subs = {"button": [{"name": "组", "sub_button": [{"type": "click", "name": f"子{i}", "key": f"K{i}"}
                                                             for i in range(6)]}]}
        assert (await acc.api("/cgi-bin/menu/create", six_subs))["errcode"] == 40023
        assert (await acc.api("/cgi-bin/menu/get"))["errcode"] == 46003  # nothing was kept
        assert (await acc.api("/cgi-bin/menu/create", menu_payload()))["errcode"] == 0
        assert (await acc.api("/cgi-bin/menu/delete"))["errcode"] == 0
        assert (await acc.api("/cgi-bin/menu/get"))["errcode"] == 46003


def _findings(findings: list) -> dict[str, Any]:
    return {f.name: f for f in findings}


async def test_doctor_passes_a_right_configuration(tmp_path, redis_server) -> None:
    async with account(tmp_path, redis_server.url, menu="ours", gateway=True) as acc:
        found = _findings(await check_wechat(acc.settings))
        assert all(f.ok for f in found.values()), found
        assert set(found) == {"wechat token", "wechat aes key", "wechat server url", "wechat menu", "wechat account file"}
        assert "patentdesk_reply_notice" in found["wechat account file"].detail


async def test_doctor_explains_each_wrong_configuration(tmp_path, redis_server) -> None:
    async with account(tmp_path, redis_server.url, menu=None, gateway=True) as acc:
        # the menu was never pushed
        found = _findings(await check_wechat(acc.settings))
        assert found["wechat token"].ok and not found["wechat menu"].ok
        assert "menu push" in found["wechat menu"].fix and "尚未设置菜单" in found["wechat menu"].detail
        # this server's IP is not on the whitelist
        await acc.control("/sim/account", {"ip_whitelist": ["203.0.113.7"]})
        found = _findings(await check_wechat(acc.settings))
        token = found["wechat token"]
        assert not token.ok and "40164" in token.detail and "白名单" in token.detail and "whitelist" in token.fix
        assert not found["wechat menu"].ok and "token" in found["wechat menu"].detail
        await acc.control("/sim/account", {"ip_whitelist": None})
        # the secret was reset on the platform
        await acc.control("/sim/account", {"appsecret": "a-secret-reset-by-someone-else"})
        token = _findings(await check_wechat(acc.settings))["wechat token"]
        assert not token.ok and "40125" in token.detail and "AppSecret" in token.detail
    # an EncodingAESKey pasted with a character missing; a token differing from the server's
    async with account(tmp_path, redis_server.url, menu="ours", gateway=True) as acc:
        wrong = replace(acc.settings, wechat_aes_key=acc.settings.wechat_aes_key[:-1], wechat_token="not-the-token")
        found = _findings(await check_wechat(wrong))
        assert not found["wechat aes key"].ok and "42" in found["wechat aes key"].detail
        url = found["wechat server url"]
        assert not url.ok and "Token" in url.fix and "签名" in url.detail
        assert found["wechat token"].ok and found["wechat menu"].ok


async def test_doctor_when_the_server_url_does_not_answer(tmp_path, redis_server) -> None:
    async with account(tmp_path, redis_server.url, menu="ours", gateway=False) as acc:
        url = _findings(await check_wechat(acc.settings))["wechat server url"]
        assert not url.ok and "unreachable" in url.detail and "/wechat" in url.fix


# -- scenes ---------------------------------------------------------------------------------

async def _send(acc: Account, **body: Any) -> dict[str, Any]:
    async with acc.http.post(str(acc.sim.make_url("/sim/send")), json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _inbox(acc: Account, openid: str) -> list[dict[str, Any]]:
    async with acc.http.get(str(acc.sim.make_url(f"/sim/inbox/{openid}"))) as resp:
        return await resp.json()


async def test_qrcode_command_makes_a_permanent_scene_code_and_its_picture(tmp_path, redis_server) -> None:
    async with account(tmp_path, redis_server.url) as acc:
        code, lines = await qrcode(acc.settings, "hall", out_dir=tmp_path / "codes")
        assert code == 0, lines
        picture = (tmp_path / "codes" / "hall.png").read_bytes()
        assert picture.startswith(b"\x89PNG\r\n\x1a\n")
        show = next(line.split("show:", 1)[1].strip() for line in lines if "show:" in line)
        async with acc.http.get(show) as resp:  # the simulator's showqrcode: the same picture
            assert resp.status == 200 and resp.content_type == "image/png"
            assert await resp.read() == picture
        again_code, again = await qrcode(acc.settings, "hall", out_dir=tmp_path / "codes")
        assert again_code == 0 and [line for line in again if "url:" in line] == [line for line in lines if "url:" in line]
        code, lines = await qrcode(acc.settings, "no spaces allowed")
        assert code == 1 and "invalid scene" in lines[0]
        code, lines = await qrcode(acc.settings, "not_in_the_file", out_dir=tmp_path / "codes")
        assert code == 0 and "general greeting" in lines[0]
        # the platform's own checks of a qrcode/create body
        assert (await acc.api("/cgi-bin/qrcode/create", {"action_name": "QR_LIMIT_STR_SCENE",
                                                          "action_info": {"scene": {"scene_str": ""}}}))["errcode"] == 40053
        assert (await acc.api("/cgi-bin/qrcode/create", {"action_name": "QR_LIMIT_SCENE",
                                                          "action_info": {"scene": {"scene_id": 100001}}}))["errcode"] == 40053
        assert (await acc.api("/cgi-bin/qrcode/create", {"action_name": "QR_FOREVER"}))["errcode"] == 40097


async def test_scene_subscribe_and_scan_welcome_once_and_the_record_carries_the_scene(tmp_path, redis_server) -> None:
    from sqlalchemy import select

    from bot.records.report import compute_report
    from bot.records.schema import enquiries
    from bot.records.store import make_engine
    from bot.wechat.menu import TOPICS

    hall = "您好，欢迎来到业务受理大厅！"
    async with account(tmp_path, redis_server.url, menu="ours", gateway=True) as acc:
        code, lines = await qrcode(acc.settings, "hall", out_dir=tmp_path)
        ticket = next(line for line in lines if "show:" in line).split("ticket=", 1)[1]
        from urllib.parse import unquote
        ticket = unquote(ticket)
        # someone who does not follow the account yet scans the poster: a follow through the code
        report = await _send(acc, openid="o_scene_new", type="scan", ticket=ticket)
        assert report["type"] == "subscribe" and report["outcome"] == "passive", report
        first = await _inbox(acc, "o_scene_new")
        assert TOPICS[0] in first[0]["text"] and hall in first[0]["text"], first
        # scanning again (now a follower: a SCAN event) gets a short greeting, not the welcome again
        report = await _send(acc, openid="o_scene_new", type="scan", ticket=ticket)
        again = await _inbox(acc, "o_scene_new")
        assert report["type"] == "scan" and len(again) == 2 and hall not in again[1]["text"] and "欢迎回来" in again[1]["text"]
        # a follower's first scan of the code: the scene's welcome through SCAN
        await _send(acc, openid="o_scene_follower", type="subscribe")
        await _send(acc, openid="o_scene_follower", type="scan", ticket=ticket)
        seen = await _inbox(acc, "o_scene_follower")
        assert hall in seen[-1]["text"] and TOPICS[0] not in seen[-1]["text"]
        # an unknown ticket is refused by the simulator, as a camera would find nothing
        async with acc.http.post(str(acc.sim.make_url("/sim/send")),
                                 json={"openid": "o_x", "type": "scan", "ticket": "nope"}) as resp:
            assert resp.status == 400
        engine = make_engine(acc.settings.database_url)
        try:
            rows: list = []
            for _ in range(100):
                try:
                    with engine.connect() as conn:
                        rows = conn.execute(select(enquiries.c.user, enquiries.c.scene)).all()
                except Exception:  # not migrated yet
                    rows = []
                if len(rows) >= 2 and all(r.scene for r in rows):
                    break
                await asyncio.sleep(0.1)
            assert sorted(r.scene for r in rows) == ["hall", "hall"], rows
            today = datetime.now(UTC)
            figures = compute_report(engine, today - timedelta(days=1), today + timedelta(days=1))
            assert figures["enquiries"]["by_scene"] == {"hall": 2}
        finally:
            engine.dispose()


# -- subscription notices: the platform's rules ----------------------------------------------

async def test_bizsend_one_notice_per_acceptance_with_the_templates_fields(tmp_path, redis_server) -> None:
    template = "patentdesk_reply_notice"

    def notice(**data: str) -> dict[str, Any]:
        return {"touser": "o_notice", "template_id": template, "page": "https://example.org/n/1",
                "data": {k: {"value": v} for k, v in data.items()}}

    good = {"thing1": "您的咨询有了答复", "thing2": "关于年费的留言已答复", "time3": "2026-12-06 10:30"}
    async with account(tmp_path, redis_server.url, gateway=True) as acc:
        await _send(acc, openid="o_notice", type="subscribe")
        assert (await acc.api("/cgi-bin/message/subscribe/bizsend", notice(**good)))["errcode"] == 43101
        report = await _send(acc, openid="o_notice", type="notice_accept", template_id=template)
        assert report["outcome"] == "success"  # the gateway read the popup event and said nothing
        too_long = {**good, "thing2": "这是一段超过二十个字符限制的通知摘要内容，平台会拒绝"}
        assert (await acc.api("/cgi-bin/message/subscribe/bizsend", notice(**too_long)))["errcode"] == 47003
        missing = {k: v for k, v in good.items() if k != "time3"}
        assert (await acc.api("/cgi-bin/message/subscribe/bizsend", notice(**missing)))["errcode"] == 47003
        bad_time = {**good, "time3": "明天上午"}
        assert (await acc.api("/cgi-bin/message/subscribe/bizsend", notice(**bad_time)))["errcode"] == 47003
        wrong_template = {**notice(**good), "template_id": "someone_elses"}
        assert (await acc.api("/cgi-bin/message/subscribe/bizsend", wrong_template))["errcode"] == 40037
        assert (await acc.api("/cgi-bin/message/subscribe/bizsend", {**notice(**good), "touser": "o_nobody"}))[
            "errcode"] == 40003
        # the window does not apply to notices: two days later the accepted one still goes out, once
        await acc.control("/sim/clock", {"advance": 49 * 3600})
        assert (await acc.api("/cgi-bin/message/subscribe/bizsend", notice(**good)))["errcode"] == 0
        shown = (await _inbox(acc, "o_notice"))[-1]
        assert shown["via"] == "subscription" and shown["text"].split("\n") == [*good.values(), "https://example.org/n/1"]
        assert (await acc.api("/cgi-bin/message/subscribe/bizsend", notice(**good)))["errcode"] == 43101
        # an unknown template cannot be accepted either
        async with acc.http.post(str(acc.sim.make_url("/sim/send")), json={
                "openid": "o_notice", "type": "notice_accept", "template_id": "nope"}) as resp:
            assert resp.status == 400


async def test_doctor_reads_a_broken_account_file(tmp_path, redis_server) -> None:
    broken = tmp_path / "account.yml"
    broken.write_text("scenes:\n  bad scene:\n    welcome: 你好\n", encoding="utf-8")
    async with account(tmp_path, redis_server.url, menu="ours", gateway=False) as acc:
        found = _findings(await check_wechat(replace(acc.settings, wechat_account_file=str(broken))))
        assert not found["wechat account file"].ok and "bad scene" in found["wechat account file"].detail


async def test_subscribe_page_signs_the_js_sdk_config_for_its_own_url(tmp_path, redis_server) -> None:
    import json
    import re

    from bot.simulator.routes import PLATFORM
    from bot.wechat.signature import jsapi_signature

    async with account(tmp_path, redis_server.url, gateway=True) as acc:
        url = acc.settings.gateway_public_url + "/wechat/subscribe"
        async with acc.http.get(url) as resp:
            page, csp = await resp.text(), resp.headers["Content-Security-Policy"]
        assert resp.status == 200 and "res.wx.qq.com" in csp and 'template="patentdesk_reply_notice"' in page
        config = json.loads(re.search(r"wx\.config\((\{.*?\})\);", page).group(1))
        ticket = acc.sim.app[PLATFORM].ticket[0]
        assert config["appId"] == acc.settings.wechat_appid and config["openTagList"] == ["wx-open-subscribe"]
        assert config["signature"] == jsapi_signature(ticket, config["nonceStr"], config["timestamp"], url)
        # the platform unreachable: the page still explains, and says the button cannot load
        await acc.control("/sim/faults", {"api_down": True})
        await acc.http.post(str(acc.sim.make_url("/sim/reset")))  # forget tokens; Redis still caches the ticket
        client = aioredis.from_url(redis_server.url)
        try:
            await client.flushall()
        finally:
            await client.close()
        await acc.control("/sim/faults", {"api_down": True})
        async with acc.http.get(url) as resp:
            page = await resp.text()
        assert resp.status == 200 and "暂时无法加载" in page and "wx.config" not in page
