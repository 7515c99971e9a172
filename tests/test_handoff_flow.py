"""Handoff over the whole path: simulated WeChat users -> gateway -> real Rasa, the queue in
a real Redis, and the agent's side driven through the same HandoffFlow the console uses."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot import replies
from bot.gateway.appkeys import FLOW
from bot.gateway.handoff_flow import HandoffFlow
from bot.gateway.words import parse_rating
from bot.handoff import Conflict
from tests.test_gateway_wechat import Pair, wechat_pair

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def calendar_file(folder: Path, open_now: bool) -> Path:
    """A desk open every day all day, or one open only for a minute far from now."""
    path = folder / ("open.yml" if open_now else "closed.yml")
    if open_now:
        hours = 'opens: "00:00"\ncloses: "23:59"\n'
    else:
        far = (dt.datetime.now(SHANGHAI) + dt.timedelta(hours=6)).replace(second=0, microsecond=0)
        hours = f'opens: "{far:%H:%M}"\ncloses: "{far + dt.timedelta(minutes=1):%H:%M}"\n'
        if far.hour == 23 and far.minute == 59:
            hours = 'opens: "12:00"\ncloses: "12:01"\n'
    path.write_text(f"timezone: Asia/Shanghai\n{hours}weekdays: [1, 2, 3, 4, 5, 6, 7]\n", encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def desk(tmp_path: Path, redis_server, rasa_url: str, token: str, open_now: bool = True,
               **env: str) -> AsyncIterator[tuple[Pair, HandoffFlow]]:
    env = {"HANDOFF_CALENDAR": str(calendar_file(tmp_path, open_now)), "RASA_AUTH_TOKEN": token,
           "HANDOFF_NOTICE_INTERVAL": "1", **env}
    async with wechat_pair(tmp_path, redis_server.url, rasa_url, **env) as pair:
        yield pair, pair.gateway.app[FLOW]


async def agent(flow: HandoffFlow, agent_id: str, capacity: int = 3, status: str = "online") -> None:
    await flow.queue.register_agent(agent_id, name=f"客服{agent_id}", capacity=capacity)
    await flow.queue.set_presence(agent_id, status)


async def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    for _ in range(int(timeout / 0.1)):
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    return await predicate()


async def rasa_paused(pair: Pair, rasa_url: str, token: str, openid: str) -> bool:
    async with pair.http.get(f"{rasa_url}/conversations/wechat:{openid}/tracker",
                             params={"token": token, "include_events": "NONE"}) as resp:
        assert resp.status == 200, await resp.text()
        return bool((await resp.json())["paused"])


async def wait_enquiry(pair: Pair, ready: Any, timeout: float = 15.0) -> dict[str, Any]:
    """The first enquiry the gateway's records writer stored that satisfies `ready`."""
    from sqlalchemy.exc import OperationalError

    from bot.records.store import list_enquiries, make_engine

    engine = make_engine(pair.settings.database_url)
    try:
        found: list[dict[str, Any]] = []
        for _ in range(int(timeout / 0.2)):
            try:
                found = [e for e in list_enquiries(engine) if ready(e)]
            except OperationalError:
                found = []
            if found:
                return found[0]
            await asyncio.sleep(0.2)
        raise AssertionError(f"no matching enquiry in {list_enquiries(engine)}")
    finally:
        engine.dispose()


async def texts(pair: Pair, openid: str, want: int) -> list[str]:
    return [m["text"] for m in await pair.inbox(openid, want=want)]


async def test_request_claim_reply_and_hand_back(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token) as (pair, flow):
        user = "o_handoff_full"
        await agent(flow, "a1", capacity=0)  # on duty, but only manual claims reach it
        first = await pair.send(openid=user, content="专利年费什么时候交？")
        assert first["outcome"] == "passive"
        await pair.send(openid=user, content="转人工")
        got = await texts(pair, user, 2)
        assert "正在为您转接人工客服" in got[1] and "您是下一位" in got[1]
        conv_id = flow.conv_id_for("wechat", user)
        assert await rasa_paused(pair, rasa_url, rasa_auth_token, user)
        waiting = await flow.queue.list_waiting()
        assert [w.conversation.conv_id for w in waiting] == [conv_id]
        assert user not in conv_id  # queue ids carry the pseudonym, not the OpenID

        # while waiting, the user's words go to the transcript, not to the bot
        await pair.send(openid=user, content="我想问减缴的事")
        await flow.claim(conv_id, "a1")
        joined = await texts(pair, user, 4)
        assert joined[-1] == replies.agent_joined("客服a1")

        lines = await flow.transcript(conv_id)
        whos = [line.who for line in lines]
        assert whos[:2] == ["user", "bot"] and lines[1].decision == "answer" and lines[1].entry_id
        assert any(line.who == "user" and line.text == "我想问减缴的事" for line in lines)

        # the user writes; the agent answers within the deadline: a passive reply
        async def agent_answers() -> str:
            await asyncio.sleep(0.8)
            return await flow.reply(conv_id, "a1", "您好，费用减缴请在专利业务办理系统提交请求。")

        sent, path = await asyncio.gather(pair.send(openid=user, content="在吗？"), agent_answers())
        assert sent["outcome"] == "passive" and path == "passive"
        got = await texts(pair, user, 5)
        assert got[-1] == "您好，费用减缴请在专利业务办理系统提交请求。"

        # a later agent message with no pending request goes as a customer-service message
        assert await flow.reply(conv_id, "a1", "还有其他问题吗？") == "async"
        got = await texts(pair, user, 6)
        assert got[-1] == "还有其他问题吗？"
        with pytest.raises(Conflict):
            await flow.reply(conv_id, "someone_else", "抢答")

        await flow.hand_back(conv_id, "a1")
        got = await texts(pair, user, 7)
        assert got[-1] == replies.RETURNED_TO_BOT
        assert not await rasa_paused(pair, rasa_url, rasa_auth_token, user)
        back = await pair.send(openid=user, content="年费逾期了还能补交吗？")
        assert back["outcome"] == "passive"
        got = await texts(pair, user, 8)
        assert "年费" in got[-1]


async def test_round_robin_assigns_and_close_asks_for_a_rating(tmp_path, redis_server, rasa_url,
                                                               rasa_auth_token) -> None:
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token) as (pair, flow):
        await agent(flow, "rr1", capacity=1)
        user = "o_round_robin"
        await pair.send(openid=user, content="我要找人工客服")
        got = await texts(pair, user, 2)  # the queue notice, then the agent (by upkeep, no claim)
        assert got[-1] == replies.agent_joined("客服rr1")
        conv = await flow.queue.get(flow.conv_id_for("wechat", user))
        assert conv is not None and conv.agent == "rr1"
        await flow.close(conv.conv_id, "rr1", "resolved", category="fees", grade=None)
        got = await texts(pair, user, 3)
        assert got[-1] == replies.RATING_REQUEST_AGENT
        report = await pair.send(openid=user, content="1")
        assert report["outcome"] == "passive"
        got = await texts(pair, user, 4)
        assert got[-1] == replies.rating_thanks(1)
        with pytest.raises(ValueError):
            await flow.close(conv.conv_id, "rr1", "resolved", grade="E")

        # the enquiry record: resolved by the agent, with wait, handle time, category and rating
        enquiry = await wait_enquiry(pair, lambda e: e["rating"] == 1)
        assert enquiry["resolved_by"] == "agent" and enquiry["agent"] == "rr1" and enquiry["handed_off"]
        assert enquiry["category"] == "fees" and enquiry["outcome"] == "resolved"
        assert enquiry["wait_seconds"] is not None and enquiry["handle_seconds"] is not None
        assert user not in str(enquiry)  # a pseudonym, never the OpenID


async def test_complaints_first_notices_and_cancel(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token) as (pair, flow):
        await agent(flow, "busy1", capacity=0)  # on duty but full: everyone waits
        await pair.send(openid="o_req", content="转人工")
        await pair.send(openid="o_cmp", content="我要投诉，你们的服务太差了")
        complaint = await texts(pair, "o_cmp", 1)
        assert "非常抱歉给您带来了不好的体验" in complaint[0] and "您是下一位" in complaint[0]
        order = [w.conversation.user_id for w in await flow.queue.list_waiting()]
        assert order == ["o_cmp", "o_req"]

        # the request was pushed back by the complaint and is told so (notice interval 1 s)
        pushed_back = await wait_for(lambda: _texts_with(pair, "o_req", "感谢您的耐心等待。您前面还有 1 位"))
        assert pushed_back, "the complaint jumping ahead was not notified"
        # the complaint leaves; the request moves up and is told so
        await pair.send(openid="o_cmp", content="算了")
        assert (await texts(pair, "o_cmp", 2))[-1] == replies.LEFT_QUEUE
        told = await wait_for(lambda: _texts_with(pair, "o_req", "感谢您的耐心等待。您是下一位"))
        assert told, "the user who moved up was not told"
        assert [w.conversation.user_id for w in await flow.queue.list_waiting()] == ["o_req"]
        # after leaving, the bot answers again
        await pair.send(openid="o_cmp", content="年费可以晚交吗")
        assert "年费" in (await texts(pair, "o_cmp", 3))[-1]


async def _texts_with(pair: Pair, openid: str, part: str) -> list[str]:
    return [m["text"] for m in await pair.inbox(openid, want=0, timeout=0.1) if part in m["text"]]


def closed_offer(flow) -> str:
    """The out-of-hours offer as the desk makes it: it states the default team's hours (the
    test calendar's short window, not 8:30-17:00)."""
    calendar = flow.queue.teams.get(None).calendar
    return replies.leave_offer("closed", None, replies.team_hours(calendar.opens, calendar.closes))


async def test_out_of_hours_leave_message_becomes_a_ticket_and_is_answered(tmp_path, redis_server, rasa_url,
                                                                           rasa_auth_token) -> None:
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token, open_now=False) as (pair, flow):
        user = "o_after_hours"
        await pair.send(openid=user, content="转人工")
        got = await texts(pair, user, 1)
        assert got[0] == closed_offer(flow)
        await pair.send(openid=user, content="PCT进入中国国家阶段的手续想请人工确认，下午方便")
        got = await texts(pair, user, 2)
        assert got[-1] == replies.leave_confirm("PCT进入中国国家阶段的手续想请人工确认，下午方便")
        assert await flow.queue.list_tickets() == []  # a message is left only on purpose
        await pair.send(openid=user, content="1")
        got = await texts(pair, user, 3)
        assert got[-1].startswith("您的留言已收到（留言编号 ")
        tickets = await flow.queue.list_tickets()
        assert len(tickets) == 1 and tickets[0].message.startswith("PCT进入中国国家阶段")
        assert tickets[0].due_at > tickets[0].created_at + 86400  # two working days
        assert not await rasa_paused(pair, rasa_url, rasa_auth_token, user)

        await agent(flow, "t1")
        await flow.answer_ticket(tickets[0].ticket_id, "t1", "您好，请在30个月期限内办理进入手续。")
        got = await texts(pair, user, 4)
        assert got[-1] == replies.ticket_answer(tickets[0].ticket_id, "您好，请在30个月期限内办理进入手续。")
        assert await flow.queue.list_tickets() == []
        enquiry = await wait_enquiry(pair, lambda e: e["ticket_answered_at"] is not None)
        # still open until it goes quiet (RECORDS_IDLE_TIMEOUT); then it counts as resolved by ticket
        assert enquiry["handoff_state"] == "ticket" and enquiry["ticket_id"] == tickets[0].ticket_id


async def test_nobody_claims_in_time_the_user_is_offered_a_message(tmp_path, redis_server, rasa_url,
                                                                   rasa_auth_token) -> None:
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token, HANDOFF_CLAIM_TIMEOUT="1") as (pair, flow):
        await agent(flow, "full", capacity=0)
        user = "o_timeout"
        await pair.send(openid=user, content="转人工")
        got = await texts(pair, user, 2, )
        assert got[-1] == replies.leave_offer("timeout")
        await pair.send(openid=user, content="请回电话给我，谢谢")
        got = await texts(pair, user, 3)
        assert got[-1] == replies.leave_confirm("请回电话给我，谢谢")
        await pair.send(openid=user, content="确认留言")
        got = await texts(pair, user, 4)
        assert got[-1].startswith("您的留言已收到")
        assert len(await flow.queue.list_tickets()) == 1


async def test_two_agents_claim_at_once_and_one_wins(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token) as (pair, flow):
        await agent(flow, "x1", capacity=0)
        await agent(flow, "x2", capacity=0)
        await pair.send(openid="o_race", content="转人工")
        conv_id = flow.conv_id_for("wechat", "o_race")
        results = await asyncio.gather(flow.claim(conv_id, "x1"), flow.claim(conv_id, "x2"), return_exceptions=True)
        wins = [r for r in results if not isinstance(r, BaseException)]
        assert len(wins) == 1 and sum(isinstance(r, Conflict) for r in results) == 1
        got = await texts(pair, "o_race", 2)
        assert got.count(replies.agent_joined(f"客服{wins[0].agent}")) == 1


async def test_web_chat_handoff_and_inbox(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token) as (pair, flow):
        base = str(pair.gateway.make_url("")).rstrip("/")

        async def chat(message: str) -> dict[str, Any]:
            async with pair.http.post(base + "/api/chat", json={"sender": "web_user_1", "message": message}) as resp:
                assert resp.status == 200
                return await resp.json()

        reply = await chat("转人工")
        assert "正在为您转接人工客服" in reply["messages"][0]["text"] or reply["messages"][0]["text"].startswith("非常抱歉")
        conv_id = flow.conv_id_for("web", "web_user_1")
        await agent(flow, "w1", capacity=0)
        await flow.claim(conv_id, "w1")
        await flow.reply(conv_id, "w1", "您好，我是人工客服。")
        async with pair.http.get(base + "/api/chat/inbox", params={"sender": "web_user_1"}) as resp:
            inbox = [m["text"] for m in (await resp.json())["messages"]]
        assert inbox == [replies.agent_joined("客服w1"), "您好，我是人工客服。"]
        async with pair.http.get(base + "/api/chat/inbox", params={"sender": "bad sender!"}) as resp:
            assert resp.status == 400


async def test_redis_down_answers_questions_and_says_no_person(tmp_path, rasa_url, rasa_auth_token) -> None:
    from tests.conftest import RedisServer
    from tests.gateway_kit import gateway_settings, running_gateway

    redis = RedisServer(tmp_path / "redis")  # never started
    settings = gateway_settings(tmp_path, redis.url, rasa_url, RASA_AUTH_TOKEN=rasa_auth_token)
    async with running_gateway(settings) as server, aiohttp.ClientSession() as http:
        base = str(server.make_url("")).rstrip("/")
        for message, expect in (("转人工", replies.HANDOFF_UNAVAILABLE), ("发明专利的申请费是多少", "申请费")):
            async with http.post(base + "/api/chat", json={"sender": "web_no_redis", "message": message}) as resp:
                assert resp.status == 200
                body = await resp.json()
            assert expect in body["messages"][0]["text"]


async def test_rating_words() -> None:
    assert [parse_rating(t) for t in ("1", " 4 ", "非常满意", "满意！", "一般", "不满意", "5", "满意度怎么查询的")] == [
        1, 4, 1, 2, 3, 4, None, None]


async def test_was_this_helpful_and_rating_after_thanks(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token) as (pair, flow):
        base = str(pair.gateway.make_url("")).rstrip("/")

        async def chat(message: str) -> list[str]:
            async with pair.http.post(base + "/api/chat", json={"sender": "web_aftercare", "message": message}) as resp:
                assert resp.status == 200
                return [m["text"] for m in (await resp.json())["messages"]]

        answer = await chat("专利年费什么时候交？")
        assert answer[-1].endswith(replies.FEEDBACK_HINT) and "年费" in answer[0]
        assert await chat("有用") == [replies.FEEDBACK_THANKS]
        thanks = await chat("谢谢")
        assert thanks[-1] == replies.RATING_REQUEST_BOT and "不客气" in thanks[0]
        assert await chat("满意") == [replies.rating_thanks(2)]
        # thanks without a fresh answer: no second rating request
        assert replies.RATING_REQUEST_BOT not in await chat("谢谢")


async def test_feedback_words() -> None:
    from bot.gateway.words import parse_feedback

    assert [parse_feedback(t) for t in ("有用", "有用，谢谢", "没用", "不是这个", "这个回答没用", "年费有用吗能不能减")] == [
        True, True, False, False, False, None]


async def test_left_message_answered_after_49_hours_through_a_subscription_notice(tmp_path, redis_server, rasa_url,
                                                                                  rasa_auth_token) -> None:
    """Issue 20: the user leaves a message and allows one notice; the answer comes 49 hours
    later (the simulator's clock), the platform refuses the customer-service message (45015)
    and the answer reaches the user as the notice, linking to the whole answer; the record
    says the notice delivered it."""
    from sqlalchemy import select

    from bot.records.schema import messages
    from bot.records.store import make_engine

    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token, open_now=False) as (pair, flow):
        user = "o_after_48h"
        await pair.send(openid=user, content="转人工")
        await pair.send(openid=user, content="我那件申请的事想请工作人员联系我答复")
        await pair.send(openid=user, content="1")  # a message is left only on confirmation (issue 19)
        got = await texts(pair, user, 3)
        assert got[-1].startswith("您的留言已收到") and "/wechat/subscribe" in got[-1] and "允许" in got[-1]
        async with pair.http.get(str(pair.gateway.make_url("/wechat/subscribe"))) as resp:
            assert resp.status == 200 and "patentdesk_reply_notice" in await resp.text()
        report = await pair.send(openid=user, type="notice_accept", template_id="patentdesk_reply_notice")
        assert report["outcome"] == "success"  # the popup event is recorded, nothing to say

        await pair.control("/sim/clock", {"advance": 49 * 3600})
        await agent(flow, "t1")
        ticket = (await flow.queue.list_tickets())[0]
        answer = "您好，在规定期限内提出恢复权利请求并缴纳恢复费和所欠年费及滞纳金，可以请求恢复权利。"
        await flow.answer_ticket(ticket.ticket_id, "t1", answer)
        inbox = await pair.inbox(user, want=4)
        notice = inbox[-1]
        assert notice["via"] == "subscription", inbox
        lines = notice["text"].split("\n")
        assert lines[0] == replies.NOTICE_TITLE and len(lines[1]) <= 20 and lines[1].startswith("您好，关于您的留言")
        link = lines[-1]
        assert link.startswith(str(pair.gateway.make_url("/wechat/notice/")))
        async with pair.http.get(link) as resp:
            page = await resp.text()
        assert resp.status == 200 and answer in page and "返回公众号" in page
        status = await pair.gateway_status_once("notice_sent")
        assert status["outbox"]["notice_sent"] == 1 and status["outbox"]["errcode_45015"] == 1
        assert (await pair.stats())["counters"]["api.bizsend.ok"] == 1

        engine = make_engine(pair.settings.database_url)
        try:
            rows: list = []
            for _ in range(150):
                with engine.connect() as conn:
                    rows = conn.execute(select(messages.c.msg_type, messages.c.delivered_via, messages.c.path)
                                        .where(messages.c.direction == "out")).all()
                if any(r.msg_type == "ticket_answer" and r.delivered_via for r in rows):
                    break
                await asyncio.sleep(0.1)
            ticket_rows = [r for r in rows if r.msg_type == "ticket_answer"]
            assert [r.delivered_via for r in ticket_rows] == ["notice"], rows
            assert any(r.delivered_via == "passive" for r in rows)  # the earlier passive replies
        finally:
            engine.dispose()


async def test_a_late_answer_without_an_accepted_notice_is_refused_and_recorded(tmp_path, redis_server, rasa_url,
                                                                                rasa_auth_token) -> None:
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token, open_now=False) as (pair, flow):
        user = "o_no_notice"
        await pair.send(openid=user, content="转人工")
        await pair.send(openid=user, content="麻烦工作人员给我回个电话，谢谢")
        await pair.send(openid=user, content="1")  # a message is left only on confirmation (issue 19)
        await texts(pair, user, 3)  # the offer, the echo, the ticket
        await pair.control("/sim/clock", {"advance": 49 * 3600})
        await agent(flow, "t1")
        ticket = (await flow.queue.list_tickets())[0]
        await flow.answer_ticket(ticket.ticket_id, "t1", "您好，期限为自优先权日起30个月。")
        status = await pair.gateway_status_once("errcode_43101")
        assert status["outbox"]["errcode_43101"] == 1 and status["outbox"].get("notice_sent", 0) == 0
        assert len(await pair.inbox(user, want=3)) == 3  # nothing new reached the user
        enquiry = await wait_enquiry(pair, lambda e: e["ticket_answered_at"] is not None)
        assert enquiry["ticket_id"] == ticket.ticket_id
        from sqlalchemy import select

        from bot.records.schema import messages
        from bot.records.store import make_engine

        engine = make_engine(pair.settings.database_url)
        try:
            via = None
            for _ in range(100):
                with engine.connect() as conn:
                    via = conn.execute(select(messages.c.delivered_via)
                                       .where(messages.c.msg_type == "ticket_answer")).scalar()
                if via:
                    break
                await asyncio.sleep(0.1)
            assert via == "refused"
        finally:
            engine.dispose()


async def test_unhappy_rating_on_wechat_asks_to_allow_a_notice(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    """An unhappy rating is followed up later, perhaps after 48 hours: the thanks ask the
    WeChat user to allow one subscription notice (a happy one does not)."""
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token) as (pair, flow):
        user = "o_unhappy"
        await pair.send(openid=user, content="专利年费什么时候交？")
        await pair.send(openid=user, content="谢谢")
        got = await texts(pair, user, 2)
        assert replies.RATING_REQUEST_BOT in got[-1]
        await pair.send(openid=user, content="不满意")
        got = await texts(pair, user, 3)
        assert got[-1].startswith(replies.rating_thanks(4)) and "/wechat/subscribe" in got[-1]
