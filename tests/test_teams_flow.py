"""Teams over the whole path: simulated WeChat users -> gateway -> real Rasa, per-team queues
in a real Redis, and the agents' side driven through the HandoffFlow the console uses.

A technical problem goes to technical support; an agent passes a conversation or a left
message to another team with a note; a technician answers a ticket; and a message is left
only on purpose (a knowledge question is answered while the offer is open)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import replies
from bot.handoff import Conflict
from tests.test_gateway_wechat import Pair
from tests.test_handoff_flow import agent, closed_offer, desk, texts, wait_enquiry

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

TECH_ISSUE = "电子申请客户端提交时一直报错，提示“签名验证失败，错误代码 E3021”"


async def new_texts(pair: Pair, openid: str, seen: int, more: int) -> list[str]:
    """The `more` messages a user received after the first `seen` (a reply may be several)."""
    return (await texts(pair, openid, seen + more))[seen:]


def teams_file(folder: Path, tech_hours: str = "") -> Path:
    """Business: biz1 and duo; technical support: tech1 and duo (an agent in two teams)."""
    path = folder / "teams.yml"
    path.write_text(
        "default: business\nteams:\n"
        "  business:\n    name: 业务咨询\n    members: [biz1, duo]\n    supervisors: [boss]\n"
        "  tech:\n    name: 技术支持\n    members: [tech1, duo]\n    supervisors: [boss]\n"
        "    ticket_working_days: 2\n" + tech_hours, encoding="utf-8")
    return path


def closed_hours() -> str:
    """Technical support opens for one minute, six hours from now (closed now)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    far = (dt.datetime.now(ZoneInfo("Asia/Shanghai")) + dt.timedelta(hours=6)).replace(second=0, microsecond=0)
    if far.hour == 23 and far.minute == 59:
        far = far.replace(hour=12, minute=0)
    return (f'    hours:\n      opens: "{far:%H:%M}"\n      closes: "{far + dt.timedelta(minutes=1):%H:%M}"\n'
            "      weekdays: [1, 2, 3, 4, 5, 6, 7]\n")


async def test_technical_problem_goes_to_technical_support(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    env = {"HANDOFF_TEAMS": str(teams_file(tmp_path))}
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token, **env) as (pair, flow):
        await agent(flow, "biz1", capacity=0)
        await agent(flow, "tech1", capacity=0)
        user = "o_tech_problem"
        await pair.send(openid=user, content=TECH_ISSUE)
        got = await texts(pair, user, 1)
        assert got[0].startswith("非常抱歉给您带来不便，您的问题需要技术支持同事协助处理，正在为您转接。"), got
        conv_id = flow.conv_id_for("wechat", user)
        assert [w.conversation.conv_id for w in await flow.queue.list_waiting("tech")] == [conv_id]
        assert await flow.queue.list_waiting("business") == []
        conv = await flow.queue.get(conv_id)
        assert conv is not None and conv.team == "tech" and conv.reason == "technical"
        # a business question in the same desk still goes to the business queue
        await pair.send(openid="o_business", content="转人工")
        assert [w.conversation.user_id for w in await flow.queue.list_waiting("business")] == ["o_business"]
        # only the team's members are given it by round-robin: biz1 has room, tech1 none
        await flow.queue.register_agent("biz1", name="客服biz1", capacity=3)
        await flow.queue.assign_waiting()
        assert (await flow.queue.get(conv_id)).state == "waiting"  # type: ignore[union-attr]
        await flow.queue.register_agent("tech1", name="客服tech1", capacity=3)
        await flow.queue.assign_waiting()
        assert (await flow.queue.get(conv_id)).agent == "tech1"  # type: ignore[union-attr]
        enquiry = await wait_enquiry(pair, lambda e: e["team"] == "tech")
        assert enquiry["reason"] == "technical"


async def test_transfer_between_teams_with_a_note(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    env = {"HANDOFF_TEAMS": str(teams_file(tmp_path))}
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token, **env) as (pair, flow):
        await agent(flow, "biz1", capacity=0)
        await agent(flow, "tech1", capacity=0)
        user = "o_bulk_change"
        await pair.send(openid=user, content="转人工")
        conv_id = flow.conv_id_for("wechat", user)
        await flow.claim(conv_id, "biz1")
        await pair.send(openid=user, content="我们是代理机构，批量变更申请人的时候系统不让继续")
        note = "代理机构批量著录项目变更在系统中无法继续，电话中未能解决，请技术支持协助。"
        with pytest.raises(ValueError):
            await flow.transfer_team(conv_id, "biz1", "tech", "  ")
        with pytest.raises(Conflict):
            await flow.transfer_team(conv_id, "tech1", "tech", note)  # only the agent holding it
        moved = await flow.transfer_team(conv_id, "biz1", "tech", note)
        assert moved.state == "waiting" and moved.team == "tech" and moved.agent is None
        got = await texts(pair, user, 4)
        assert got[-1] == replies.team_transferred("技术支持")
        assert [w.conversation.conv_id for w in await flow.queue.list_waiting("tech")] == [conv_id]
        # the note travels with the transcript the technician reads
        lines = await flow.transcript(conv_id)
        noted = [line for line in lines if line.who == "note"]
        assert len(noted) == 1 and noted[0].text == note and noted[0].agent == "biz1"
        assert noted[0].decision == "业务咨询 → 技术支持"
        await flow.claim(conv_id, "tech1")
        assert (await texts(pair, user, 5))[-1] == replies.agent_joined("客服tech1")
        await flow.reply(conv_id, "tech1", "您好，我是技术支持，已为您重置变更流程，请重新提交。")
        assert (await texts(pair, user, 6))[-1] == "您好，我是技术支持，已为您重置变更流程，请重新提交。"
        enquiry = await wait_enquiry(pair, lambda e: e["team"] == "tech" and e["agent"] == "tech1")
        assert enquiry["handed_off"] and enquiry["conv_id"] == conv_id


async def test_message_left_only_on_confirmation_and_knowledge_answered_meanwhile(
        tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token, open_now=False) as (pair, flow):
        user = "o_leave_on_purpose"
        await pair.send(openid=user, content="年费逾期了还能补交吗？")
        seen = len(await texts(pair, user, 1))
        await pair.send(openid=user, content="转人工")
        assert await new_texts(pair, user, seen, 1) == [closed_offer(flow)]
        seen += 1
        # a knowledge question is answered, and the offer stays open
        await pair.send(openid=user, content="发明专利的申请费是多少")
        answered = (await new_texts(pair, user, seen, 1))[0]  # one passive reply: the answer, then the offer
        assert "申请费" in answered and answered.endswith(replies.LEAVE_STILL_OPEN), answered
        seen += 1
        conv_id = flow.conv_id_for("wechat", user)
        conv = await flow.queue.get(conv_id)
        assert conv is not None and conv.state == "waiting" and conv.offer == "offered"
        assert await flow.queue.list_tickets() == []
        # "1" with nothing written yet asks for the message
        await pair.send(openid=user, content="1")
        assert await new_texts(pair, user, seen, 1) == [replies.LEAVE_PROMPT]
        seen += 1
        # anything else is echoed back and waits for the user's "1"
        first = "我想请人工确认一下我们公司的PCT进入国家阶段手续"
        await pair.send(openid=user, content=first)
        assert await new_texts(pair, user, seen, 1) == [replies.leave_confirm(first)]
        await pair.send(openid=user, content="下午三点以后方便联系")
        whole = f"{first}\n下午三点以后方便联系"
        assert await new_texts(pair, user, seen + 1, 1) == [replies.leave_confirm(whole)]
        assert await flow.queue.list_tickets() == []
        await pair.send(openid=user, content="1")
        done = await new_texts(pair, user, seen + 2, 1)
        assert done[0].startswith("您的留言已收到（留言编号 "), done
        tickets = await flow.queue.list_tickets()
        assert len(tickets) == 1 and tickets[0].message == whole and tickets[0].team == "business"
        said = [line["text"] for line in tickets[0].context if line["who"] == "user"]
        assert said[:2] == ["年费逾期了还能补交吗？", "转人工"] and first in said
        # the bot holds the conversation again
        after = await pair.send(openid=user, content="专利年费什么时候交？")
        assert after["outcome"] == "passive" and "年费" in (await new_texts(pair, user, seen + 3, 1))[0]


async def test_technician_answers_a_ticket_of_their_team(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    env = {"HANDOFF_TEAMS": str(teams_file(tmp_path, closed_hours()))}
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token, **env) as (pair, flow):
        await agent(flow, "tech1", capacity=0)
        user = "o_cert_after_hours"
        await pair.send(openid=user, content="数字证书登录不了，提示证书已过期")
        from bot.handoff.calendar import load_calendar
        from bot.handoff.teams import load_teams

        tech = load_teams(env["HANDOFF_TEAMS"], load_calendar(None)).get("tech")
        # the offer states technical support's own hours, not the desk's 8:30-17:00
        hours = replies.team_hours(tech.calendar.opens, tech.calendar.closes)
        assert hours != "8:30-17:00"
        assert (await texts(pair, user, 1))[0] == replies.leave_offer("closed", "技术支持", hours=hours)
        await pair.send(openid=user, content="证书昨天刚更新过，麻烦技术人员联系我")
        assert await new_texts(pair, user, 1, 1) == [replies.leave_confirm("证书昨天刚更新过，麻烦技术人员联系我")]
        await pair.send(openid=user, content="确认")
        assert (await new_texts(pair, user, 2, 1))[0].startswith("您的留言已收到")
        tickets = await flow.queue.list_tickets(teams=["tech"])
        assert len(tickets) == 1 and tickets[0].team == "tech"
        assert await flow.queue.list_tickets(teams=["business"]) == []
        ticket = tickets[0]
        answer = "您好，已为您重新签发数字证书，请下载新证书后重新登录。"
        done = await flow.answer_ticket(ticket.ticket_id, "tech1", answer, resolution="resolved")
        assert done.state == "answered" and done.resolution == "resolved" and done.answered_by == "tech1"
        assert await new_texts(pair, user, 3, 1) == [replies.ticket_answer(ticket.ticket_id, answer)]
        enquiry = await wait_enquiry(pair, lambda e: e["ticket_answered_at"] is not None)
        assert enquiry["ticket_team"] == "tech" and enquiry["team"] == "tech"


async def test_a_ticket_goes_to_another_team_with_its_note(tmp_path, redis_server, rasa_url, rasa_auth_token) -> None:
    env = {"HANDOFF_TEAMS": str(teams_file(tmp_path))}
    async with desk(tmp_path, redis_server, rasa_url, rasa_auth_token, open_now=False, **env) as (pair, flow):
        user = "o_ticket_moves"
        await pair.send(openid=user, content="转人工")
        await pair.send(openid=user, content="缴费页面一直打不开，想问问怎么办")
        await pair.send(openid=user, content="1")
        assert (await texts(pair, user, 3))[-1].startswith("您的留言已收到")
        ticket = (await flow.queue.list_tickets(teams=["business"]))[0]
        note = "缴费系统页面问题，请技术支持处理。"
        moved = await flow.transfer_ticket(ticket.ticket_id, "biz1", "tech", note)
        assert moved.team == "tech" and moved.due_at == ticket.due_at
        assert moved.notes[0]["note"] == note and moved.notes[0]["from"] == "business"
        assert [t.ticket_id for t in await flow.queue.list_tickets(teams=["tech"])] == [ticket.ticket_id]
        assert any(line.who == "note" and line.text == note for line in await flow.transcript(ticket.conv_id))
        with pytest.raises(ValueError):
            await flow.transfer_ticket(ticket.ticket_id, "biz1", "nosuchteam", note)

