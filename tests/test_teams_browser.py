"""Teams in a real browser (Debian's Chromium): a simulated WeChat user asks for a person,
a business agent takes the conversation and passes it to technical support with a note,
a technician takes it from the team's queue, reads the note in the transcript and answers,
and the user's inbox on the simulator receives the answer."""

from __future__ import annotations

import pytest

from bot import replies
from tests.test_console_browser import Watch, chromium, desk_with_users, inbox_texts, log_in
from tests.test_console_teams import teams_file

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]


async def test_business_agent_passes_to_a_technician_who_answers(tmp_path, redis_server, rasa_url,
                                                                 rasa_auth_token) -> None:
    from playwright.async_api import expect

    async with desk_with_users(tmp_path, redis_server.url, rasa_url, rasa_auth_token,
                               HANDOFF_TEAMS=teams_file(tmp_path)) as (pair, desk), chromium() as browser:
        desk.add("biz1", "客服小王", capacity=0)  # conversations by hand only
        desk.add("tech1", "技术员小张", capacity=0)
        watch = Watch()
        biz = await log_in(browser, desk, "biz1", watch)
        tech = await log_in(browser, desk, "tech1", watch)
        await expect(biz.locator("#me-teams")).to_have_text("团队：业务咨询")
        await expect(tech.locator("#me-teams")).to_have_text("团队：技术支持")

        user = "o_agency_bulk_change"
        await pair.send(openid=user, content="转人工")
        assert "正在为您转接人工客服" in (await inbox_texts(pair, user, 1))[0]
        conv_id = desk.flow.conv_id_for("wechat", user)
        waiting = biz.locator(f"#queue li[data-conv-id='{conv_id}']")
        await expect(waiting.locator(".badge.team")).to_have_text("业务咨询")
        await expect(tech.locator("#queue li")).to_have_count(0)  # not technical support's queue
        await waiting.locator(".claim").click()
        await expect(biz.locator("#notice-text")).to_have_text("已接入会话，请及时回复用户。")
        assert (await inbox_texts(pair, user, 2))[-1] == replies.agent_joined("客服小王")

        # the business agent cannot solve it by phone: to technical support, with a note
        note = "代理机构批量变更申请人在系统中失败，电话中未能解决，请技术支持协助。"
        await biz.select_option("#team-to", "tech")
        await biz.fill("#team-note", note)
        await biz.click("#team-transfer")
        await expect(biz.locator("#notice-text")).to_have_text("已转交给“技术支持”团队，转交说明已随对话记录一起转交。")
        await expect(biz.locator("#conversations li")).to_have_count(0)
        assert (await inbox_texts(pair, user, 3))[-1] == replies.team_transferred("技术支持")

        # the technician takes it from the team's queue and reads the note with the transcript
        queued = tech.locator(f"#queue li[data-conv-id='{conv_id}']")
        await expect(queued.locator(".badge.team")).to_have_text("技术支持")
        await queued.locator(".claim").click()
        await expect(tech.locator("#notice-text")).to_have_text("已接入会话，请及时回复用户。")
        noted = tech.locator("#transcript .line.note")
        await expect(noted.locator(".text")).to_have_text(note)
        await expect(noted.locator(".entry")).to_have_text("业务咨询 → 技术支持")
        assert (await inbox_texts(pair, user, 4))[-1] == replies.agent_joined("技术员小张")

        answer = "您好，我是技术支持小张。已为您重置批量变更流程，请重新提交，如仍有问题请随时联系我们。"
        await tech.fill("#reply-text", answer)
        await tech.click("#reply-send")
        await expect(tech.locator("#reply-text")).to_have_value("")
        assert (await inbox_texts(pair, user, 5))[-1] == answer
        assert watch.dialogs == [] and watch.problems == [], (watch.dialogs, watch.problems)
