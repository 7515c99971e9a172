"""The console with teams, over real HTTP on loopback and a real Redis: each agent sees
the queues and left messages of their teams, passes a conversation or a left message to
another team with a note, answers and closes a ticket with a resolution; a team's
supervisor is shown its overdue left messages."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path

import pytest

from bot.console import snapshot
from bot.console.sessions import Session
from bot.handoff import HandoffQueue, load_teams
from tests.test_console_auth import console_desk

pytestmark = pytest.mark.asyncio(loop_scope="session")


def teams_file(folder: Path) -> str:
    path = folder / "teams.yml"
    path.write_text("default: business\nteams:\n"
                    "  business:\n    name: 业务咨询\n    members: [biz1]\n"
                    "  tech:\n    name: 技术支持\n    members: [tech1]\n    supervisors: [lead1]\n",
                    encoding="utf-8")
    return str(path)


async def test_each_team_sees_its_own_queue_and_passes_work_on_with_a_note(tmp_path, redis_server) -> None:
    async with console_desk(tmp_path, redis_server.url, HANDOFF_TEAMS=teams_file(tmp_path)) as desk, \
            desk.client() as biz, desk.client() as tech:
        desk.add("biz1", "客服小王")
        desk.add("tech1", "技术员小张")
        assert (await biz.login("biz1"))[0] == 200 and (await tech.login("tech1"))[0] == 200
        flow = desk.flow
        for c in (biz, tech):
            assert (await c.post("/api/presence", {"status": "online"}))[0] == 200
        business = await desk.enqueue("o_biz_user")
        technical = flow.conv_id_for("wechat", "o_tech_user")
        await flow.queue.enqueue(technical, channel="wechat", user_id="o_tech_user", reason="technical",
                                 summary="提交时报错", team="tech")

        _, board = await biz.get("/api/snapshot")
        assert [q["conv_id"] for q in board["queue"]] == [business] and board["me"]["teams"] == ["业务咨询"]
        assert [(t["team_id"], t["name"]) for t in board["teams"]] == [("business", "业务咨询"), ("tech", "技术支持")]
        _, board = await tech.get("/api/snapshot")
        assert [(q["conv_id"], q["team_name"], q["reason_label"]) for q in board["queue"]] == \
            [(technical, "技术支持", "技术问题")]
        # another team's waiting user is neither claimed nor read
        status, body = await tech.post(f"/api/conversations/{business}/claim")
        assert status == 403 and body["code"] == "other_team" and "业务咨询" in body["error"]
        assert (await tech.get(f"/api/conversations/{business}/transcript"))[0] == 403

        # the business agent takes it and passes it to technical support with a note
        assert (await biz.post(f"/api/conversations/{business}/claim"))[0] == 200
        path = f"/api/conversations/{business}/transfer-team"
        assert (await biz.post(path, {"team": "nosuch", "note": "x"}))[1]["code"] == "bad_team"
        status, body = await biz.post(path, {"team": "tech", "note": "   "})
        assert status == 400 and body["code"] == "bad_note"
        assert (await biz.post(path, {"team": "business", "note": "同组"}))[1]["code"] == "same_team"
        note = "用户批量变更申请人时系统报错，电话中未能解决，请技术支持协助。"
        status, body = await biz.post(path, {"team": "tech", "note": note})
        assert status == 200 and body["conversation"]["team"] == "tech" and body["conversation"]["state"] == "waiting"
        _, board = await tech.get("/api/snapshot")
        assert business in [q["conv_id"] for q in board["queue"]]
        assert (await tech.post(f"/api/conversations/{business}/claim"))[0] == 200
        status, seen = await tech.get(f"/api/conversations/{business}/transcript")
        noted = [line for line in seen["lines"] if line["who"] == "note"]
        assert status == 200 and [(n["text"], n["decision"], n["agent_name"]) for n in noted] == \
            [(note, "业务咨询 → 技术支持", "客服小王")]


async def test_tickets_by_team_transfer_answer_and_escalation(tmp_path, redis_server) -> None:
    async with console_desk(tmp_path, redis_server.url, HANDOFF_TEAMS=teams_file(tmp_path)) as desk, \
            desk.client() as biz, desk.client() as tech, desk.client() as lead:
        desk.add("biz1", "客服小王")
        desk.add("tech1", "技术员小张")
        desk.add("lead1", "技术组长")
        for c, login in ((biz, "biz1"), (tech, "tech1"), (lead, "lead1")):
            assert (await c.login(login))[0] == 200
        flow = desk.flow
        conv = await desk.enqueue("o_ticket_user")
        ticket = await flow.queue.to_ticket(conv, "缴费页面打不开，请联系我")
        assert ticket.team == "business"
        assert [t["ticket_id"] for t in (await biz.get("/api/snapshot"))[1]["tickets"]] == [ticket.ticket_id]
        assert (await tech.get("/api/snapshot"))[1]["tickets"] == []
        status, body = await tech.post(f"/api/tickets/{ticket.ticket_id}/answer", {"text": "您好"})
        assert status == 403 and body["code"] == "other_team"

        note = "缴费系统页面问题，请技术支持处理。"
        status, body = await biz.post(f"/api/tickets/{ticket.ticket_id}/transfer", {"team": "tech", "note": note})
        assert status == 200 and body["ticket"]["team_name"] == "技术支持"
        assert body["ticket"]["notes"][0]["note"] == note and body["ticket"]["notes"][0]["from"] == "业务咨询"
        assert (await biz.get("/api/snapshot"))[1]["tickets"] == []
        _, board = await tech.get("/api/snapshot")
        assert [t["ticket_id"] for t in board["tickets"]] == [ticket.ticket_id]
        status, body = await tech.post(f"/api/tickets/{ticket.ticket_id}/answer",
                                       {"text": "您好，缴费系统已恢复，请重新缴费。", "resolution": "bogus"})
        assert status == 400 and body["code"] == "bad_resolution"
        status, body = await tech.post(f"/api/tickets/{ticket.ticket_id}/answer",
                                       {"text": "您好，缴费系统已恢复，请重新缴费。", "resolution": "resolved"})
        assert status == 200 and body["ticket"]["state"] == "answered" and body["ticket"]["resolution"] == "resolved"

        # escalation: an overdue technical ticket is flagged to the team's supervisor only
        late = await flow.queue.to_ticket(await desk.enqueue("o_late"), "证书问题很久没人答复")
        await flow.transfer_ticket(late.ticket_id, "biz1", "tech", "证书问题")
        later = types.SimpleNamespace(queue=HandoffQueue(flow.queue.redis, clock=lambda: late.due_at + 60,
                                                         teams=flow.queue.teams))

        def viewer(login: str) -> Session:
            return Session(login=login, role="agent", csrf="", created=0.0)

        board = await snapshot.build(later, viewer("lead1"))  # type: ignore[arg-type]
        assert [(o["ticket_id"], o["team_name"]) for o in board["overdue"]] == [(late.ticket_id, "技术支持")]
        assert [t["overdue"] for t in board["tickets"]] == [True]
        assert (await snapshot.build(later, viewer("tech1")))["overdue"] == []  # type: ignore[arg-type]
        assert (await snapshot.build(later, viewer("biz1")))["overdue"] == []  # type: ignore[arg-type]


async def business_and_tech_online(desk, biz, tech) -> None:
    """A business agent (biz1) and a technician (tech1), logged in and online."""
    desk.add("biz1", "客服小王")
    desk.add("tech1", "技术员小张")
    for c, login in ((biz, "biz1"), (tech, "tech1")):
        assert (await c.login(login))[0] == 200
        assert (await c.post("/api/presence", {"status": "online"}))[0] == 200


async def test_every_conversation_response_names_the_team(tmp_path, redis_server) -> None:
    """Claim, transcript, transfer, hand-back and close show the team's name, not its id."""
    async with console_desk(tmp_path, redis_server.url, HANDOFF_TEAMS=teams_file(tmp_path)) as desk, \
            desk.client() as biz, desk.client() as tech:
        await business_and_tech_online(desk, biz, tech)
        flow = desk.flow
        first, second = flow.conv_id_for("wechat", "o_tech_a"), flow.conv_id_for("wechat", "o_tech_b")
        for conv_id, user in ((first, "o_tech_a"), (second, "o_tech_b")):
            await flow.queue.enqueue(conv_id, channel="wechat", user_id=user, reason="technical", team="tech")

        def named(body: dict) -> tuple[str, str]:
            return body["conversation"]["team"], body["conversation"]["team_name"]

        tech_team = ("tech", "技术支持")
        status, body = await tech.post(f"/api/conversations/{first}/claim")
        assert status == 200 and named(body) == tech_team
        status, body = await tech.get(f"/api/conversations/{first}/transcript")
        assert status == 200 and named(body) == tech_team
        status, body = await tech.post(f"/api/conversations/{first}/transfer", {"to": "biz1"})
        assert status == 200 and named(body) == tech_team
        status, body = await biz.post(f"/api/conversations/{first}/close", {"outcome": "resolved"})
        assert status == 200 and named(body) == tech_team
        assert (await tech.post(f"/api/conversations/{second}/claim"))[0] == 200
        status, body = await tech.post(f"/api/conversations/{second}/hand-back")
        assert status == 200 and named(body) == tech_team


async def test_a_conversation_without_a_known_team_is_the_default_teams(tmp_path, redis_server) -> None:
    """A conversation queued before teams (no `team` field) or for a team since removed from
    the teams file is the default team's: its members claim it, other teams' agents do not."""
    async with console_desk(tmp_path, redis_server.url, HANDOFF_TEAMS=teams_file(tmp_path)) as desk, \
            desk.client() as biz, desk.client() as tech:
        await business_and_tech_online(desk, biz, tech)
        queue = desk.flow.queue
        old, orphan = await desk.enqueue("o_before_teams"), await desk.enqueue("o_removed_team")
        await queue.redis.hdel(queue.keys.conv(old), "team", "queue")
        await queue.redis.hset(queue.keys.conv(orphan), "team", "gone")
        for conv_id in (old, orphan):
            assert (await tech.get(f"/api/conversations/{conv_id}/transcript"))[0] == 403
            status, body = await tech.post(f"/api/conversations/{conv_id}/claim")
            assert status == 403 and body["code"] == "other_team" and "业务咨询" in body["error"], conv_id
            status, body = await biz.post(f"/api/conversations/{conv_id}/claim")
            assert status == 200 and body["conversation"]["team_name"] == "业务咨询"


async def test_the_upkeep_gives_a_removed_teams_waiting_users_to_the_default_team(tmp_path, redis_server) -> None:
    """Technical support was taken out of the teams file while a user waited for it: the
    gateway's upkeep puts that user in the business queue, where a business agent claims them."""
    only_business = tmp_path / "business.yml"
    only_business.write_text("default: business\nteams:\n  business:\n    name: 业务咨询\n    members: [biz1]\n",
                             encoding="utf-8")
    async with console_desk(tmp_path, redis_server.url, HANDOFF_TEAMS=str(only_business)) as desk, \
            desk.client() as biz:
        desk.add("biz1", "客服小王")
        assert (await biz.login("biz1"))[0] == 200
        assert (await biz.post("/api/presence", {"status": "online"}))[0] == 200
        flow = desk.flow
        before = HandoffQueue(flow.queue.redis, calendar=flow.queue.calendar,
                              teams=load_teams(teams_file(tmp_path), flow.queue.calendar))
        stranded = flow.conv_id_for("wechat", "o_stranded")
        await before.enqueue(stranded, channel="wechat", user_id="o_stranded", reason="technical", team="tech")
        flow.orphans_due = 0.0  # the next round looks (a running gateway looks every minute)

        async def queued() -> list[str]:
            return [q["conv_id"] for q in (await biz.get("/api/snapshot"))[1]["queue"]]

        for _ in range(100):
            if await queued():
                break
            await asyncio.sleep(0.1)
        assert await queued() == [stranded]
        status, body = await biz.post(f"/api/conversations/{stranded}/claim")
        assert status == 200 and body["conversation"]["team_name"] == "业务咨询"
