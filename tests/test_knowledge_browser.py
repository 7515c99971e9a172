"""The feedback loop in a real browser (Debian's Chromium through playwright): a question
the bot could not answer shows up as a knowledge gap on the supervisor's page with its
conversation; an entry is drafted from it with its dated source, published after review;
the action server's watcher rebuilds in the background and swaps the index in; the bot
then answers the question with the new entry through the action server's path
(actions/knowledge_holder.run + dialogue.ask), without a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from actions import knowledge_holder
from bot.curation.served import current_knowledge
from bot.curation.watcher import KnowledgeWatcher
from bot.knowledge import dialogue
from bot.knowledge.service import load_or_build
from bot.records.episodes import apply_events
from bot.records.store import make_engine
from tests.knowledge_kit import small_settings
from tests.records_kit import User
from tests.test_console_auth import console_desk
from tests.test_console_browser import Watch, chromium, log_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

ASKED = "专利证书丢了还能再办一个吗"
ANSWER = ("可以向国家知识产权局请求办理专利证书副本或专利证书证明，办理前缴纳副本证明费每份30元。"
          "需要证明专利当前法律状态的，也可以请求出具专利登记簿副本。")
XSS = "<img src=x onerror=alert(1)>"


async def test_from_a_gap_to_a_published_entry_the_bot_answers_with(tmp_path, redis_server, small_base) -> None:
    from playwright.async_api import expect

    home, built = small_base
    async with console_desk(tmp_path, redis_server.url, PATENTDESK_HOME=str(home)) as desk, chromium() as browser:
        desk.add("boss", "王主管", role="supervisor")
        engine = make_engine(desk.settings.database_url)
        user = User("o_gap_user", base=datetime.now(UTC) - timedelta(minutes=30))
        apply_events(engine, [user.says(0, ASKED, decision="fallback", texts=["抱歉，这个问题我暂时无法回答。"]),
                              user.says(1, XSS, decision="fallback", texts=["抱歉。"])], 1800.0)

        # the action server: the small base served through the real holder, and its watcher
        settings = small_settings(tmp_path / "actions", home, built, DATABASE_URL=desk.settings.database_url)
        version, kb = current_knowledge(settings)
        previous = knowledge_holder._index
        knowledge_holder.serve(load_or_build(settings, kb=kb))
        watcher = KnowledgeWatcher(settings, knowledge_holder.get_index, knowledge_holder.serve, version,
                                   name="actions-1:5055")
        try:
            before = await knowledge_holder.run(lambda index: dialogue.ask(index, ASKED))
            assert not (before.entry_id or "").startswith("console-")

            watch = Watch()
            page = await log_in(browser, desk, "boss", watch)
            await page.goto(desk.base + "/knowledge")
            gap = page.locator("#gaps li.gap", has_text=ASKED)
            await expect(gap.locator(".meta")).to_contain_text("未能回答 1")
            await expect(page.locator("#gaps li.gap", has_text=XSS).locator(".question")).to_have_text(XSS)
            await gap.locator(".view").click()
            await expect(page.locator("#conversation-lines .line.user .text").first).to_have_text(ASKED)
            await expect(page.locator("#conversation-lines .line.bot .text").first).to_have_text(
                "抱歉，这个问题我暂时无法回答。")

            # drafted from the gap: the form refuses it without a dated source
            await gap.locator(".draft").click()
            await expect(page.locator("#f-question")).to_have_value(ASKED)
            await page.fill("#f-question", "专利证书丢了能补办吗？")
            # the user's own words stay among the phrasings (the form keeps them there); the agent adds more
            await expect(page.locator("#f-alternatives")).to_have_value(ASKED)
            await page.fill("#f-alternatives", ASKED + "\n证书弄丢了怎么办\n专利证书遗失能补吗\n证书丢了能出个证明吗")
            await page.select_option("#f-category", "著录项目变更与转让")
            await page.fill("#f-answer", ANSWER)
            await page.fill("#f-title", "《专利和集成电路布图设计缴费服务指南》")
            await page.fill("#f-article", "第二章")
            await page.evaluate("document.getElementById('f-date').removeAttribute('required')")
            await page.click("#f-submit")
            await expect(page.locator("#notice-text")).to_have_text("请填写依据的日期。")
            watch.problems = [p for p in watch.problems if "status of 400" not in p]  # the refusal, on purpose
            await page.fill("#f-date", "2026-07-31")
            await page.click("#f-submit")
            await expect(page.locator("#notice-text")).to_have_text("条目已提交，等待主管审核。")
            await expect(page.locator("#d-status")).to_have_text("待审核")

            # the supervisor publishes it; the console says it is being rebuilt
            await page.click("#publish")
            await expect(page.locator("#notice-text")).to_contain_text("已发布")
            await expect(page.locator("#d-status")).to_have_text("已发布")
            await expect(page.locator("#version")).to_have_text("已发布版本 1")

            outcome = await asyncio.to_thread(watcher.poll)  # the watcher's round, as its thread runs it
            assert outcome is not None and outcome.ok, outcome
            await expect(page.locator("#servers li[data-state='serving']")).to_contain_text("提供版本 1")

            # the bot answers with it, through the action server's path, with no restart
            turn = await knowledge_holder.run(lambda index: dialogue.ask(index, ASKED))
            assert turn.decision == "answer" and turn.entry_id == "console-1", (turn.decision, turn.candidates)
            assert ANSWER in turn.text and "（依据：《专利和集成电路布图设计缴费服务指南》第二章）" in turn.text

            history = page.locator("#d-history li")
            await expect(history).to_have_count(2)
            await expect(history.last).to_contain_text("boss 发布")
            assert watch.dialogs == [] and watch.problems == [], (watch.dialogs, watch.problems)

            # an agent drafts from a question in a conversation they answered (the console's
            # transcript links it as knowledge#q=...): no gaps, no review buttons for them
            desk.add("li", "客服小李")
            agent_watch = Watch()
            agent = await log_in(browser, desk, "li", agent_watch)
            await agent.goto(desk.base + "/knowledge#q=" + "年费发票怎么开")
            await expect(agent.locator("#f-question")).to_have_value("年费发票怎么开")
            assert await agent.locator("#gaps-panel").is_hidden() and await agent.locator("#status-panel").is_hidden()
            await agent.select_option("#f-category", "年费")
            await agent.fill("#f-answer", "缴费后可以在专利业务办理系统中申请开具电子票据。")
            await agent.fill("#f-title", "国家知识产权局关于专利缴费电子票据的公告")
            await agent.fill("#f-date", "2020-06-10")
            await agent.click("#f-submit")
            await expect(agent.locator("#notice-text")).to_have_text("条目已提交，等待主管审核。")
            await expect(agent.locator("#entries li")).to_have_count(1)  # only their own
            await expect(agent.locator("#d-status")).to_have_text("待审核")
            assert await agent.locator("#d-review").is_hidden() and await agent.locator("#d-edit").is_visible()
            assert agent_watch.dialogs == [] and agent_watch.problems == [], agent_watch.problems
        finally:
            knowledge_holder._index = previous
            engine.dispose()
