"""The console's knowledge pages over real HTTP on loopback (the real gateway app, a real
Redis, SQLite): supervisors see the report's knowledge gaps and their conversations; an
agent drafts an entry with a dated source; only a supervisor publishes, returns or
withdraws; login, CSRF and Origin guard every new form; errors are courteous Chinese."""

from __future__ import annotations

import asyncio

import pytest

from tests.test_console_report import PERIOD, report_desk

pytestmark = pytest.mark.asyncio(loop_scope="session")

XSS = "<img src=x onerror=alert(1)>"
FORM = {
    "category": "费用减缴", "question": "个人申请专利能减费吗？", "alternatives": "个人申请专利能减费吗\n个人能少交专利费吗",
    "answer": "可以。个人年收入低于规定标准的，可以请求减缴申请费、实质审查费、年费（授予专利权当年起10年内）等。",
    "source_title": "《专利收费减缴办法》", "source_article": "第三条", "source_date": "2016-07-27",
}


async def canned_ids(client, question: str) -> list[str]:
    """The entries an agent's canned-reply search offers (the published version is read at
    most every KNOWLEDGE_POLL_INTERVAL; a small base swaps in within the same request)."""
    await asyncio.sleep(0.15)
    status, found = await client.get("/api/canned", q=question)
    assert status == 200
    return [r["id"] for r in found["results"]]


async def test_gaps_drafts_review_and_publication(tmp_path, redis_server) -> None:
    async with report_desk(tmp_path, redis_server.url, KNOWLEDGE_POLL_INTERVAL="0.1") as desk, desk.client() as boss, desk.client() as li, \
            desk.client() as wang:
        desk.add("wang", "客服小王")
        for client, login in ((boss, "boss"), (li, "li"), (wang, "wang")):
            assert (await client.login(login))[0] == 200

        # the gaps, with the enquiries they came from and their conversation: supervisors only
        status, body = await boss.get("/api/knowledge/gaps", **PERIOD)
        assert status == 200
        gap = next(g for g in body["gaps"] if g["question"] == "个人申请专利能减费吗")
        assert gap["clarified"] == 1 and gap["unhelpful"] == 1 and gap["enquiries"]
        status, conv = await boss.get(f"/api/knowledge/enquiries/{gap['enquiries'][0]}")
        assert status == 200 and any(line["who"] == "user" and "减费" in line["text"] for line in conv["lines"])
        assert (await li.get("/api/knowledge/gaps", **PERIOD))[0] == 403
        status, body = await li.get(f"/api/knowledge/enquiries/{gap['enquiries'][0]}")
        assert status == 403 and body["error"].startswith("抱歉，")
        assert (await boss.get("/api/knowledge/enquiries/999999"))[0] == 404
        assert (await boss.get("/api/knowledge/enquiries/abc"))[0] == 404

        # a draft needs a dated source; the form says which field, in Chinese
        status, body = await li.post("/api/knowledge/entries", {**FORM, "source_date": ""})
        assert (status, body["code"]) == (400, "invalid") and "依据的日期" in body["error"]
        status, body = await li.post("/api/knowledge/entries", {**FORM, "source_title": "  "})
        assert status == 400 and "依据名称" in body["error"]
        assert (await li.post("/api/knowledge/entries", FORM, csrf=False))[0] == 403
        assert (await li.post("/api/knowledge/entries", FORM, origin="https://evil.example"))[0] == 403
        status, body = await li.post("/api/knowledge/entries", {**FORM, "question": XSS + "个人申请专利能减费吗？",
                                                                 "origin_question": gap["question"],
                                                                 "origin_enquiry": gap["enquiries"][0]})
        assert status == 201
        entry = body["entry"]
        assert entry["status"] == "pending" and entry["question"].startswith(XSS)  # stored as text, shown with textContent
        pk = entry["id"]

        # agents see their own drafts; only supervisors review
        assert [e["id"] for e in (await wang.get("/api/knowledge/entries"))[1]["entries"]] == []
        assert (await wang.get(f"/api/knowledge/entries/{pk}"))[0] == 403
        status, body = await li.post(f"/api/knowledge/entries/{pk}/publish", {"revision": 1})
        assert status == 403 and "仅限主管" in body["error"]
        assert (await boss.post(f"/api/knowledge/entries/{pk}/publish", {"revision": 1}, csrf=False))[0] == 403
        status, body = await boss.post(f"/api/knowledge/entries/{pk}/return", {"revision": 1, "note": ""})
        assert status == 400 and "退回说明" in body["error"]
        status, body = await boss.post(f"/api/knowledge/entries/{pk}/return", {"revision": 1, "note": "问题里多了字符"})
        assert status == 200 and body["entry"]["status"] == "returned"
        status, body = await li.post(f"/api/knowledge/entries/{pk}", {**FORM, "revision": 2})
        assert status == 200 and body["entry"]["status"] == "pending" and body["entry"]["revision"] == 3
        status, body = await boss.post(f"/api/knowledge/entries/{pk}/publish", {"revision": 2})
        assert status == 409 and body["code"] == "changed"

        status, body = await boss.post(f"/api/knowledge/entries/{pk}/publish", {"revision": 3})
        assert status == 200 and body["version"] == 1 and body["entry"]["status"] == "published"
        revision = body["entry"]["revision"]
        # agents' canned replies follow the published knowledge, with no restart
        for _ in range(20):
            if f"console-{pk}" in await canned_ids(wang, "个人能少交专利费吗"):
                break
        assert f"console-{pk}" in await canned_ids(wang, "个人能少交专利费吗")

        # the check over files and published entries: a question knowledge/ already answers
        status, body = await wang.post("/api/knowledge/entries", {**FORM, "question": "专利保护期是从申请日还是授权日开始算？",
                                                                   "category": "保护期限", "alternatives": ""})
        dup = body["entry"]["id"]
        status, body = await boss.post(f"/api/knowledge/entries/{dup}/publish", {"revision": 1})
        assert status == 409 and body["code"] == "check_failed" and "知识库检查" in body["error"]
        assert "term-start-date" in body["error"]
        # ...and one the console published a moment ago
        status, body = await wang.post("/api/knowledge/entries", {**FORM, "alternatives": ""})
        status, body = await boss.post(f"/api/knowledge/entries/{body['entry']['id']}/publish", {"revision": 1})
        assert status == 409 and f"console-{pk}" in body["error"]

        status, body = await boss.get("/api/knowledge/status")
        assert status == 200 and body["version"] == 1 and body["counts"] == {"published": 1, "pending": 2}
        assert (await li.get("/api/knowledge/status"))[0] == 403
        async with boss.http.get(str(desk.server.make_url("/status"))) as resp:  # the operator's counters
            assert (await resp.json())["knowledge"] == {"published_version": 1, "action_servers": {}}

        status, body = await boss.post(f"/api/knowledge/entries/{pk}/withdraw", {"revision": revision, "note": "测试撤回"})
        assert status == 200 and body["version"] == 2 and body["entry"]["status"] == "withdrawn"
        for _ in range(20):
            if f"console-{pk}" not in await canned_ids(wang, "个人能少交专利费吗"):
                break
        assert f"console-{pk}" not in await canned_ids(wang, "个人能少交专利费吗")
        status, body = await li.get(f"/api/knowledge/entries/{pk}")
        assert status == 200
        assert [(h["action"], h["actor"]) for h in body["history"]] == [
            ("create", "li"), ("return", "boss"), ("edit", "li"), ("publish", "boss"), ("withdraw", "boss")]
        assert body["history"][2]["changes"]["question"] == [XSS + "个人申请专利能减费吗？", FORM["question"]]
        assert (await li.get("/api/knowledge/entries/abc"))[0] == 404


async def test_pages_need_a_login_and_carry_the_console_headers(tmp_path, redis_server) -> None:
    async with report_desk(tmp_path, redis_server.url) as desk, desk.client() as li:
        async with li.http.get(desk.base + "/knowledge", allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"].endswith("/console/login")
        assert (await li.get("/api/knowledge/entries"))[0] == 401
        await li.login("li")
        for path in ("/knowledge", "/knowledge.js"):
            async with li.http.get(desk.base + path) as resp:
                assert resp.status == 200
                assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        status, body = await li.post("/api/knowledge/entries", ["not", "an", "object"])
        assert status == 400 and body["error"] == "请求内容无法识别，请刷新页面后再试。"
