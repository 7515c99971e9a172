"""What a console shows, as JSON: the queue, conversations, agents, tickets, transcripts.

One function builds the whole picture for one viewer, so the WebSocket push and the
HTTP GET can never disagree, and the role rules live in one place: supervisors see every
team's queue, every conversation and every agent's load; agents see the queues and
tickets of their teams (`bot.handoff.teams`), their own conversations and, to pick a
transfer target, only their colleagues' names and presence and the teams. A team's
supervisors (named in the teams file) are shown its overdue left messages.
"""

from __future__ import annotations

import time
from typing import Any

from bot.console.sessions import Session
from bot.gateway.handoff_flow import GRADES as COMPLAINT_GRADES
from bot.gateway.handoff_flow import HandoffFlow, Line
from bot.handoff import Agent, Conversation, Teams, Ticket, Waiting

CHANNELS = {"wechat": "微信", "web": "网页"}
REASONS = {"request": "转人工", "complaint": "投诉", "fallback": "机器人未能解答", "technical": "技术问题"}
# how a left message was closed (its answer went to the user)
RESOLUTIONS: dict[str, str] = {
    "resolved": "已解决",
    "follow_up": "需后续跟进",
    "unresolved": "未解决",
}
OUTCOMES: dict[str, str] = {
    "resolved": "已解决",
    "unresolved": "未解决",
    "follow_up": "需后续跟进",
    "no_reply": "用户未回复",
}
# as service centres grade complaints
GRADES = COMPLAINT_GRADES
PRESENCE_LABELS = {"online": "在线", "away": "离开", "offline": "离线"}


def user_label(channel: str, user_id: str) -> str:
    """Agents need to tell users apart, not to know their OpenIDs."""
    return f"{CHANNELS.get(channel, channel or '用户')}用户 …{user_id[-4:]}" if user_id else "用户"


def conversation_json(conv: Conversation, names: dict[str, str], teams: Teams) -> dict[str, Any]:
    """`teams` is required: without it the console showed team ids ("tech") as names."""
    return {
        "team": teams.get(conv.team).team_id,
        "team_name": teams.name(conv.team),
        "conv_id": conv.conv_id,
        "channel": conv.channel,
        "user": user_label(conv.channel, conv.user_id),
        "reason": conv.reason,
        "reason_label": REASONS.get(conv.reason, conv.reason),
        "priority": conv.priority,
        "state": conv.state,
        "summary": conv.summary,
        "enqueued_at": conv.enqueued_at,
        "agent": conv.agent,
        "agent_name": names.get(conv.agent or "", conv.agent),
        "assigned_at": conv.assigned_at,
        "requeues": conv.requeues,
        "transfers": conv.transfers,
    }


def waiting_json(item: Waiting, names: dict[str, str], teams: Teams) -> dict[str, Any]:
    return {**conversation_json(item.conversation, names, teams), "position": item.position, "waited": item.waited}


def ticket_json(ticket: Ticket, teams: Teams) -> dict[str, Any]:
    return {
        "team": teams.get(ticket.team).team_id,
        "team_name": teams.name(ticket.team),
        "context": [{"at": c.get("at"), "who": c.get("who"), "text": c.get("text")} for c in ticket.context],
        "notes": [{"from": teams.name(n.get("from")), "to": teams.name(n.get("to")),
                   "by": n.get("by"), "note": n.get("note"), "at": n.get("at")} for n in ticket.notes],
        "resolution": ticket.resolution,
        "ticket_id": ticket.ticket_id,
        "conv_id": ticket.conv_id,
        "user": user_label(ticket.channel, ticket.user_id),
        "reason_label": REASONS.get(ticket.reason, ticket.reason),
        "summary": ticket.summary,
        "message": ticket.message,
        "created_at": ticket.created_at,
        "due_at": ticket.due_at,
        "overdue": ticket.overdue,
        "state": ticket.state,
    }


def agent_json(agent: Agent) -> dict[str, Any]:
    return {
        "agent_id": agent.agent_id,
        "name": agent.name,
        "status": agent.status,
        "capacity": agent.capacity,
        "load": agent.load,
        "last_seen": agent.last_seen,
        "conversations": list(agent.conversations),
    }


def line_json(line: Line, names: dict[str, str]) -> dict[str, Any]:
    return {
        "at": line.at,
        "who": line.who,
        "text": line.text,
        "agent": line.agent,
        "agent_name": names.get(line.agent or "", line.agent),
        "decision": line.decision,
        "entry_id": line.entry_id,
        "confidence": line.confidence,
    }


def my_teams(session: Session, teams: Teams) -> tuple[str, ...]:
    """The teams whose queues and tickets the viewer works on (supervisors: all)."""
    return teams.ids if session.supervisor else teams.of_agent(session.login)


def in_my_teams(session: Session, team: str | None, teams: Teams) -> bool:
    """Whether a conversation's or left message's team is one of the viewer's. One rule for
    seeing and acting: an empty (before teams) or unknown (removed) team is the default one."""
    return teams.get(team).team_id in my_teams(session, teams)


def can_view(session: Session, conv: Conversation, teams: Teams) -> bool:
    """Supervisors see every transcript; agents their teams' queues and left messages, and their own."""
    if session.supervisor:
        return True
    if conv.state in ("waiting", "ticket"):
        return in_my_teams(session, conv.team, teams)
    return conv.state == "assigned" and conv.agent == session.login


async def build(flow: HandoffFlow, session: Session) -> dict[str, Any]:
    queue = flow.queue
    teams = queue.teams
    mine = my_teams(session, teams)
    watched = tuple(dict.fromkeys((*mine, *teams.supervised_by(session.login))))
    agents = await queue.list_agents()
    names = {a.agent_id: a.name for a in agents}
    waiting = [w for team in mine for w in await queue.list_waiting(team)]
    tickets = await queue.list_tickets("open", teams=watched)
    overseen = teams.ids if session.supervisor else teams.supervised_by(session.login)
    me = next((a for a in agents if a.agent_id == session.login), None)
    if session.supervisor:
        conversations: list[Conversation] = []
        for agent in agents:
            if agent.conversations:
                conversations.extend(await queue.agent_conversations(agent.agent_id))
    else:
        conversations = await queue.agent_conversations(session.login)
    body: dict[str, Any] = {
        "type": "snapshot",
        "now": time.time(),
        "me": {"login": session.login, "role": session.role, "name": names.get(session.login, session.login),
               "teams": [teams.name(t) for t in mine],
               "status": me.status if me else "offline", "load": me.load if me else 0,
               "capacity": me.capacity if me else 0},
        "queue": [waiting_json(w, names, teams) for w in waiting],
        "conversations": [conversation_json(c, names, teams) for c in conversations],
        "tickets": [ticket_json(t, teams) for t in tickets],
        "teams": [{"team_id": t.team_id, "name": t.name, "mine": t.team_id in mine} for t in teams],
        # escalation: overdue left messages of the teams the viewer supervises
        "overdue": [{"ticket_id": t.ticket_id, "team_name": teams.name(t.team), "due_at": t.due_at}
                    for t in tickets if t.overdue and teams.get(t.team).team_id in overseen],
        "colleagues": [{"agent_id": a.agent_id, "name": a.name, "status": a.status}
                       for a in agents if a.agent_id != session.login],
    }
    if session.supervisor:
        body["agents"] = [agent_json(a) for a in agents]
    return body
