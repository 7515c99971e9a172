"""The supervisor's service report in the console (issue 6), over real HTTP against the
real gateway app (a real Redis, SQLite in tmp_path): the hand-computed enquiries of
tests/test_records_report.py go into the gateway's database and the page's JSON must carry
exactly the figures worked out by hand there; who may see it; bad dates; the charts; and
the page itself in headless Chromium (Debian's, never a downloaded one).

The console's clock is pinned at the fixture's `now`: which quiet enquiries count as
finished and how late an unanswered ticket is depend on it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import struct
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.console.keys import CLOCK
from bot.gateway.appkeys import WRITER
from bot.records.charts import CHARTS
from bot.records.episodes import apply_events
from bot.records.report import REPORT_TZ
from bot.records.store import list_enquiries, make_engine
from tests.test_console_auth import Desk, console_desk
from tests.test_console_browser import Watch, chromium, log_in
from tests.test_records_report import NOW, assert_hand_computed, fixture_events
from tests.test_simulator_browser import SCREENSHOT

pytestmark = pytest.mark.asyncio(loop_scope="session")

PERIOD = {"from": "2025-03-03", "to": "2025-03-04"}  # the fixture's two days, `to` included
PNG = b"\x89PNG\r\n\x1a\n"
SUPERVISORS_ONLY = "抱歉，服务报表仅供主管查看。如需了解相关数据，请与您的主管联系。"


def pin_clock(console: web.Application) -> None:
    console[CLOCK] = lambda: NOW


@contextlib.asynccontextmanager
async def report_desk(tmp_path: Path, redis_url: str, **env: str) -> AsyncIterator[Desk]:
    """The gateway with the console at the fixture's `now`, the fixture's enquiries in its
    database, a supervisor `boss` and an agent `li`."""
    async with console_desk(tmp_path, redis_url, prepare=pin_clock, **env) as desk:
        # the records writer sweeps quiet enquiries on the real clock, which would close
        # the one still in the queue at `now` (E12): it stops before the fixture goes in
        desk.server.app[WRITER].stop()
        writer = [t for t in asyncio.all_tasks() if t.get_name() == "records-writer" and not t.done()]
        assert len(writer) == 1
        await asyncio.wait_for(writer[0], timeout=10)
        engine = make_engine(desk.settings.database_url)
        try:
            apply_events(engine, fixture_events(), 1800.0)
        finally:
            engine.dispose()
        desk.add("boss", "王主管", role="supervisor")
        desk.add("li", "客服小李")
        yield desk


def china_today() -> str:
    return datetime.now(REPORT_TZ).date().isoformat()


async def test_supervisors_get_the_hand_computed_figures_and_charts(tmp_path, redis_server) -> None:
    async with report_desk(tmp_path, redis_server.url) as desk, desk.client() as boss:
        assert (await boss.login("boss"))[0] == 200
        status, report = await boss.get("/api/report", **PERIOD)
        assert status == 200
        engine = make_engine(desk.settings.database_url)
        try:
            assert_hand_computed(report, list_enquiries(engine))
        finally:
            engine.dispose()
        assert report["generated_at"] == NOW.isoformat()

        # no dates: the last 7 days up to today, China time (as `patentdesk report`)
        before = china_today()
        status, recent = await boss.get("/api/report")
        assert status == 200 and len(recent["per_day"]) == 7
        assert recent["per_day"][-1]["day"] in {before, china_today()}

        for name in CHARTS:
            async with boss.http.get(f"{desk.base}/api/report/chart/{name}.png", params=PERIOD) as resp:
                assert resp.status == 200 and resp.content_type == "image/png", name
                assert resp.headers["Cache-Control"] == "no-store"
                png = await resp.read()
            width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
            assert png[:8] == PNG and width > 0 and height > 0, name
        status, body = await boss.get("/api/report/chart/nothing.png", **PERIOD)
        assert status == 404 and body["code"] == "no_chart"


async def test_agents_strangers_and_bad_dates_are_refused(tmp_path, redis_server) -> None:
    async with report_desk(tmp_path, redis_server.url) as desk, \
            desk.client() as stranger, desk.client() as agent, desk.client() as boss:
        chart = "/api/report/chart/satisfaction.png"
        for path in ("/api/report", chart):
            status, body = await stranger.get(path, **PERIOD)
            assert status == 401 and body["error"] == "您尚未登录或登录已过期，请重新登录。"
        assert (await agent.login("li"))[0] == 200
        for path in ("/api/report", chart):
            status, body = await agent.get(path, **PERIOD)
            assert status == 403 and body == {"error": SUPERVISORS_ONLY, "code": "supervisors_only"}

        assert (await boss.login("boss"))[0] == 200
        for query, message in (
            ({"from": "2025-13-01", "to": "2025-03-04"}, "开始日期格式不正确"),
            ({"to": "yesterday"}, "结束日期格式不正确"),
            ({"from": "2025-03-05", "to": "2025-03-04"}, "开始日期不能晚于结束日期"),
            ({"from": "2024-01-01", "to": "2025-03-04"}, "一次最多查询 366 天"),
            ({"from": "0001-01-01", "to": "0001-01-02"}, "日期超出了可以查询的范围"),
            ({"to": "9999-12-31"}, "日期超出了可以查询的范围"),
        ):
            for path in ("/api/report", chart):
                status, body = await boss.get(path, **query)
                assert status == 400 and body["code"] == "bad_period" and message in body["error"], (query, body)

        # the records unreadable, then the whole database gone (a directory where its file
        # was): courteous 503s, no traceback
        db = Path(desk.settings.database_url.removeprefix("sqlite:///"))
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute("ALTER TABLE enquiry_events RENAME TO enquiry_events_away")
        status, body = await boss.get("/api/report", **PERIOD)
        assert status == 503 and body == {"error": "报表数据暂时无法读取，请稍后再试。给您带来不便，敬请谅解。",
                                          "code": "report_unavailable"}
        for file in db.parent.glob(db.name + "*"):
            file.rename(file.with_name("gone-" + file.name))
        db.mkdir()
        status, body = await boss.get("/api/report", **PERIOD)
        assert status == 503 and "请稍后再试" in body["error"] and "Traceback" not in json.dumps(body)


async def test_the_report_page_in_chromium(tmp_path, redis_server) -> None:
    from playwright.async_api import expect

    async with report_desk(tmp_path, redis_server.url) as desk, chromium() as browser:
        watch = Watch()
        agent = await log_in(browser, desk, "li", watch)
        await expect(agent.locator("#report-link")).to_be_hidden()
        page = await log_in(browser, desk, "boss", watch)
        await page.click("#report-link")
        today = china_today()
        await expect(page.locator("#to")).to_have_value(today)  # the last 7 days at first
        await expect(page.locator("#from")).to_have_value(
            (datetime.fromisoformat(today) - timedelta(days=6)).date().isoformat())

        await page.fill("#from", PERIOD["from"])
        await page.fill("#to", PERIOD["to"])
        await page.click("#show")
        await expect(page.locator("#bot-rate")).to_have_text("30.0%")
        await expect(page).to_have_url(re.compile(r"/console/report\?from=2025-03-03&to=2025-03-04$"))
        await expect(page.locator("#handoff-rate")).to_have_text("63.6%")
        await expect(page.locator("#wait-median")).to_have_text("1分00秒")
        await expect(page.locator("#wait-p95")).to_have_text("4分00秒")
        await expect(page.locator("#follow-up")).to_have_text("1")
        await expect(page.locator("#gaps tr").first.locator("td").first).to_have_text("个人申请专利能减费吗")
        for name in CHARTS:
            chart = page.locator(f"#charts img[data-chart='{name}']")
            await expect(chart).to_have_js_property("complete", True)
            assert await chart.evaluate("img => img.naturalWidth") > 0, name
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT.with_name("report.png")), full_page=True)
        assert watch.dialogs == [] and watch.problems == [], (watch.dialogs, watch.problems)
