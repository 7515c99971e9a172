"""The queue of conversations waiting for a person, and who is working on what.

Why sorted sets and not a stream with a consumer group: a stream hands entries out in
append order, but complaints must jump ahead of ordinary requests, a user may cancel
from the middle of the queue, an agent may pick any waiting conversation by hand, and
work reclaimed from a dead console must return to its *original* place for anyone to
take. A stream can do none of that without rewriting entries (XAUTOCLAIM only moves
an entry to another consumer). So:

- `waiting`, a sorted set scored `priority * 1e12 + arrival number`: priority order,
  then first come first served (the arrival number comes from one Redis counter, so
  order does not depend on the gateways' clocks); ZRANK is the position, ZREM is
  cancel. The score is kept in the conversation's hash, so a requeue restores it.
- the processing side: `leases`, a sorted set conv -> lease deadline, renewed by the
  agent console's heartbeat, and one set of conversations per agent (its load).
  Deadlines are scores, not key TTLs, because the sweeper must *find* the expired
  ones (an expired key just disappears) and because they then follow the caller's
  clock, which tests replace.
- one hash per conversation, agent and ticket; `rotation`, a sorted set agent ->
  ordinal of the last conversation taken, for round-robin.
- teams (`bot.handoff.teams`): one waiting set per team; round-robin and the wait
  estimate count only the team's members; a left message is due after the team's
  working days by the team's hours. One agent may serve several teams. A team no longer
  in the teams file counts as the default one; `adopt_orphans` moves its waiting set there.

Every state change is one Lua script (see `scripts.py`), so a process dying between
two calls loses nothing and leaves nothing half-done; the sweeper returns conversations
whose lease ran out, and takes agents whose console went silent offline. Any Redis
failure surfaces as `HandoffUnavailable`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.handoff import scripts
from bot.handoff.calendar import WorkingCalendar, load_calendar
from bot.handoff.errors import AgentUnavailable, Conflict, HandoffUnavailable, NotFound
from bot.handoff.keys import PREFIX, HandoffKeys
from bot.handoff.models import (
    PRESENCES,
    REASONS,
    Agent,
    Assignment,
    Conversation,
    Enqueued,
    Place,
    Reclaimed,
    SweepReport,
    Ticket,
    Waiting,
    as_fields,
    text,
)
from bot.handoff.teams import Team, Teams

log = logging.getLogger("patentdesk.handoff")

DEFAULT_PRIORITIES: Mapping[str, int] = {"complaint": 0, "request": 1, "fallback": 1, "technical": 1}
MAX_PRIORITY = 9

P = ParamSpec("P")
R = TypeVar("R")


def _guarded(fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis trouble of any kind becomes the one exception callers handle."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except (RedisError, OSError) as exc:
            log.warning("handoff: Redis unavailable in %s (%s)", fn.__name__, exc)
            raise HandoffUnavailable("the handoff queue is unavailable") from exc

    return wrapper


class HandoffQueue:
    """Public API of the handoff queue; the Redis layout stays behind it."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = 60.0,
        presence_seconds: float | None = None,
        avg_handle_seconds: float = 300.0,
        ticket_working_days: int = 2,
        calendar: WorkingCalendar | None = None,
        priorities: Mapping[str, int] | None = None,
        keep_closed_seconds: float = 7 * 86400,
        prefix: str = PREFIX,
        retries: int = 50,
        teams: Teams | None = None,
    ) -> None:
        """
        lease_seconds: how long an assignment survives without a console heartbeat.
        presence_seconds: how long an agent counts as present without a heartbeat
            (default: the lease); silent agents get no assignments and the sweeper
            takes them offline.
        avg_handle_seconds: average time an agent spends on a conversation, for the
            wait estimate.
        keep_closed_seconds: how long finished conversations and answered tickets stay
            readable in Redis (the records store keeps them for good); 0 = forever.
        teams: the desk's teams; default: one team of every agent, with the calendar and
            `ticket_working_days` given here.
        """
        self.redis = redis
        self.clock = clock
        self.lease_ms = int(lease_seconds * 1000)
        self.presence_ms = int((presence_seconds if presence_seconds is not None else lease_seconds) * 1000)
        self.avg_handle_seconds = avg_handle_seconds
        self.ticket_working_days = ticket_working_days
        self._calendar = calendar
        self.priorities = dict(priorities or DEFAULT_PRIORITIES)
        self.keep_ms = int(keep_closed_seconds * 1000)
        self.keys = HandoffKeys(prefix)
        self.retries = retries
        reg = redis.register_script
        self._enqueue = reg(scripts.ENQUEUE)
        self._claim = reg(scripts.CLAIM)
        self._assign = reg(scripts.ASSIGN_NEXT)
        self._transfer = reg(scripts.TRANSFER)
        self._finish = reg(scripts.FINISH)
        self._leave = reg(scripts.LEAVE)
        self._requeue = reg(scripts.REQUEUE_EXPIRED)
        self._release = reg(scripts.RELEASE_AGENT)
        self._heartbeat = reg(scripts.HEARTBEAT)
        self._register = reg(scripts.REGISTER_AGENT)
        self._presence = reg(scripts.SET_PRESENCE)
        self._to_ticket = reg(scripts.TO_TICKET)
        self._answer = reg(scripts.ANSWER_TICKET)
        self._offer = reg(scripts.OFFER_MESSAGE)
        self._notice = reg(scripts.NOTICE)
        self._draft = reg(scripts.KEEP_DRAFT)
        self._transfer_team = reg(scripts.TRANSFER_TEAM)
        self._transfer_ticket = reg(scripts.TRANSFER_TICKET)
        self._adopt = reg(scripts.ADOPT)
        self._teams = teams

    @property
    def calendar(self) -> WorkingCalendar:
        if self._calendar is None:
            self._calendar = load_calendar()
        return self._calendar

    @property
    def teams(self) -> Teams:
        if self._teams is None:
            one = Team("business", "业务咨询", None, frozenset(), self.calendar, self.ticket_working_days)
            self._teams = Teams({one.team_id: one}, one.team_id)
        return self._teams

    def queue_key(self, team_id: str) -> str:
        """The team's waiting set (the default team keeps the set of before teams)."""
        return self.keys.waiting if team_id == self.teams.default else self.keys.team_waiting(team_id)

    def _team_id(self, team_id: str | None) -> str:
        """A known team id; the default for none; ValueError for an unknown one."""
        if not team_id:
            return self.teams.default
        if not self.teams.known(team_id):
            raise ValueError(f"unknown team {team_id!r}; teams: {', '.join(self.teams.ids)}")
        return team_id

    def _now_ms(self) -> int:
        return int(round(self.clock() * 1000))

    # ---- the user's side -------------------------------------------------------------

    @_guarded
    async def enqueue(self, conv_id: str, *, channel: str, user_id: str, reason: str = "request",
                      summary: str = "", priority: int | None = None, team: str | None = None) -> Enqueued:
        """Queue a conversation for a person of `team` (default: the default team); one
        already waiting or assigned keeps its place and its team."""
        team_id = self._team_id(team)
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {REASONS}")
        prio = self.priorities.get(reason, 1) if priority is None else priority
        if not 0 <= prio <= MAX_PRIORITY:
            raise ValueError(f"priority must be within 0..{MAX_PRIORITY}")
        k = self.keys
        raw = await self._enqueue(keys=[k.conv(conv_id), self.queue_key(team_id), k.seq],
                                  args=[conv_id, channel, user_id, reason, prio, summary, self._now_ms(), team_id])
        status, fields = _ok(raw, conv_id)
        conv = Conversation.from_fields(fields)
        if status == "ok":
            log.info("handoff: %s queued for %s (%s, priority %d)", conv_id, team_id, reason, prio)
        return Enqueued(conv, created=status == "ok")

    @_guarded
    async def get(self, conv_id: str) -> Conversation | None:
        fields = as_fields(await self.redis.hgetall(self.keys.conv(conv_id)))
        return Conversation.from_fields(fields) if Conversation.present(fields) else None

    @_guarded
    async def position(self, conv_id: str) -> Place | None:
        """Place in its team's queue and a rough wait from the team's members; None when the
        conversation is not waiting."""
        team = self.teams.get(text(await self.redis.hget(self.keys.conv(conv_id), "team")))
        rank = await self.redis.zrank(self.queue_key(team.team_id), conv_id)
        if rank is None:
            return None
        return self._place(rank + 1, await self._online(team))

    @_guarded
    async def places(self) -> list[tuple[Waiting, Place]]:
        """Every waiting conversation with its place in its team's queue (upkeep)."""
        found: list[tuple[Waiting, Place]] = []
        agents: list[Agent] | None = None
        for team in self.teams:
            waiting = await self.list_waiting(team.team_id)
            if not waiting:
                continue
            agents = agents if agents is not None else await self._agents()
            online = [a for a in agents if team.has(a.agent_id) and self._available(a, self._now_ms())]
            found.extend((w, self._place(w.position, online)) for w in waiting)
        return found

    async def _online(self, team: Team | None = None) -> list[Agent]:
        now = self._now_ms()
        return [a for a in await self._agents() if self._available(a, now) and (team is None or team.has(a.agent_id))]

    def _place(self, position: int, online: list[Agent]) -> Place:
        """The estimate is deliberately simple: 0 while the online agents' free seats cover
        this position, else (position - free seats) x average handle time / online seats."""
        if not online:
            return Place(position, position - 1, 0, None)
        free = sum(a.free for a in online)
        seats = max(sum(a.capacity for a in online), 1)
        estimate = max(position - free, 0) * self.avg_handle_seconds / seats
        return Place(position, position - 1, len(online), estimate)

    @_guarded
    async def leave(self, conv_id: str) -> Conversation | None:
        """The user cancels ("算了", "取消"); None when nothing was waiting or assigned."""
        k = self.keys
        for _ in range(self.retries):
            agent = text(await self.redis.hget(k.conv(conv_id), "agent"))
            raw = await self._leave(keys=[k.conv(conv_id), k.waiting, k.leases, k.agent_convs(agent)],
                                    args=[conv_id, agent, self._now_ms(), self.keep_ms])
            status = text(raw[0])
            if status == "noop":
                return None
            if status != "retry":
                log.info("handoff: %s left the queue", conv_id)
                return Conversation.from_fields(_ok(raw, conv_id)[1])
        raise Conflict(f"{conv_id} kept changing; try again")

    @_guarded
    async def offer_message(self, conv_id: str, kind: str = "offered") -> bool:
        """A waiting user is offered (`offered`) or asks (`asked`) to leave a message: their
        next text becomes a ticket. False when the conversation is no longer waiting."""
        raw = await self._offer(keys=[self.keys.conv(conv_id)], args=[kind, self._now_ms()])
        return text(raw[0]) == "ok"

    @_guarded
    async def remember_notice(self, conv_id: str, position: int, at: float) -> None:
        """The place last told to a waiting user, and when (notices are rate-limited)."""
        await self._notice(keys=[self.keys.conv(conv_id)], args=[position, int(round(at * 1000))])

    @_guarded
    async def keep_draft(self, conv_id: str, draft: str) -> bool:
        """The offered user's left message so far, echoed back until they confirm it. False
        when the conversation is no longer waiting under the offer."""
        raw = await self._draft(keys=[self.keys.conv(conv_id)], args=[draft, self._now_ms()])
        return text(raw[0]) == "ok"

    @_guarded
    async def list_waiting(self, team: str | None = None) -> list[Waiting]:
        """Waiting conversations of one team (None: of every team, team by team), by
        priority then first come first served, with wait times and places in their queue."""
        if team is None:
            return [w for t in self.teams.ids for w in await self.list_waiting(t)]
        ids = [text(i) for i in await self.redis.zrange(self.queue_key(self._team_id(team)), 0, -1)]
        convs = await self._conversations(ids)
        now = self.clock()
        waiting = [c for c in convs if c.state == "waiting"]
        return [Waiting(i + 1, max(now - c.enqueued_at, 0.0), c) for i, c in enumerate(waiting)]

    @_guarded
    async def timed_out(self, claim_timeout: float) -> list[Waiting]:
        """Waiting conversations nobody took within `claim_timeout` seconds (offer a message)."""
        return [w for w in await self.list_waiting() if w.waited >= claim_timeout]

    # ---- the agents' side ------------------------------------------------------------

    @_guarded
    async def claim(self, conv_id: str, agent_id: str) -> Conversation:
        """An agent takes a waiting conversation by hand; of two at once exactly one wins.

        Raises Conflict (already taken), NotFound, AgentUnavailable (agent offline).
        Capacity limits round-robin only: a deliberate claim may go beyond it.
        """
        k = self.keys
        raw = await self._claim(
            keys=[k.conv(conv_id), k.waiting, k.leases, k.agent(agent_id), k.agent_convs(agent_id),
                  k.rotation, k.seq],
            args=[conv_id, agent_id, self._now_ms(), self.lease_ms])
        conv = Conversation.from_fields(_ok(raw, conv_id)[1])
        log.info("handoff: %s claimed by %s", conv_id, agent_id)
        return conv

    @_guarded
    async def assign_next(self, team: str | None = None) -> Assignment | None:
        """Give the head of a team's queue to the team's online agent with free capacity who
        least recently took a conversation; None when the queue is empty or nobody is free."""
        k = self.keys
        crew = self.teams.get(self._team_id(team))
        queue = self.queue_key(crew.team_id)
        for _ in range(self.retries):
            head = await self.redis.zrange(queue, 0, 0)
            if not head:
                return None
            conv_id = text(head[0])
            agents = sorted(a for a in (text(m) for m in await self.redis.smembers(k.agents)) if crew.has(a))
            if not agents:
                return None
            agent_keys = [key for a in agents for key in (k.agent(a), k.agent_convs(a))]
            raw = await self._assign(
                keys=[queue, k.leases, k.rotation, k.seq, k.conv(conv_id), *agent_keys],
                args=[conv_id, self._now_ms(), self.lease_ms, self.presence_ms, *agents])
            status = text(raw[0])
            if status == "none":
                return None
            if status == "ok":
                conv = Conversation.from_fields(as_fields(raw[1:]))
                assert conv.agent is not None
                log.info("handoff: %s assigned to %s", conv_id, conv.agent)
                return Assignment(conv_id, conv.agent)
        log.warning("handoff: assign_next gave up after %d busy rounds", self.retries)
        return None

    @_guarded
    async def assign_waiting(self, limit: int | None = None) -> list[Assignment]:
        """Assign from the head of each team's queue until nobody is free (or `limit` is reached)."""
        done: list[Assignment] = []
        for team in self.teams.ids:
            while limit is None or len(done) < limit:
                got = await self.assign_next(team)
                if got is None:
                    break
                done.append(got)
        return done

    @_guarded
    async def transfer_team(self, conv_id: str, from_agent: str, team: str, note: str) -> Conversation:
        """Pass an assigned conversation to another team's queue (at the place its first
        arrival gave it), with the agent's note. Raises Conflict, NotFound, ValueError."""
        team_id = self._team_id(team)
        k = self.keys
        raw = await self._transfer_team(
            keys=[k.conv(conv_id), k.leases, k.agent_convs(from_agent), self.queue_key(team_id)],
            args=[conv_id, from_agent, team_id, self._now_ms(), note])
        conv = Conversation.from_fields(_ok(raw, conv_id)[1])
        log.info("handoff: %s transferred by %s to team %s", conv_id, from_agent, team_id)
        return conv

    @_guarded
    async def transfer(self, conv_id: str, from_agent: str, to_agent: str) -> Conversation:
        """Pass an assigned conversation to another online agent (fresh lease)."""
        k = self.keys
        raw = await self._transfer(
            keys=[k.conv(conv_id), k.leases, k.agent_convs(from_agent), k.agent(to_agent),
                  k.agent_convs(to_agent), k.rotation, k.seq],
            args=[conv_id, from_agent, to_agent, self._now_ms(), self.lease_ms])
        conv = Conversation.from_fields(_ok(raw, conv_id)[1])
        log.info("handoff: %s transferred %s -> %s", conv_id, from_agent, to_agent)
        return conv

    @_guarded
    async def hand_back(self, conv_id: str, agent_id: str) -> Conversation:
        """The agent returns the user to the bot (state closed, outcome "handed_back")."""
        return await self.close(conv_id, agent_id, "handed_back")

    @_guarded
    async def close(self, conv_id: str, agent_id: str, outcome: str = "resolved", *,
                    rating_seconds: float = 0.0) -> Conversation:
        """The agent finishes the conversation; only the agent holding it may.

        rating_seconds > 0: in the same step the user's next message, within that time,
        may be a rating of the service (the conversation's holder becomes `rating`)."""
        k = self.keys
        now = self._now_ms()
        rating_until = str(now + int(rating_seconds * 1000)) if rating_seconds > 0 else ""
        raw = await self._finish(
            keys=[k.conv(conv_id), k.waiting, k.leases, k.agent_convs(agent_id)],
            args=[conv_id, agent_id, outcome, now, self.keep_ms, rating_until])
        conv = Conversation.from_fields(_ok(raw, conv_id)[1])
        log.info("handoff: %s closed by %s (%s)", conv_id, agent_id, outcome)
        return conv

    @_guarded
    async def agent_conversations(self, agent_id: str) -> list[Conversation]:
        """The conversations an agent holds, oldest assignment first."""
        ids = sorted(text(i) for i in await self.redis.smembers(self.keys.agent_convs(agent_id)))
        convs = await self._conversations(ids)
        mine = [c for c in convs if c.state == "assigned" and c.agent == agent_id]
        return sorted(mine, key=lambda c: (c.assigned_at or 0.0, c.conv_id))

    @_guarded
    async def register_agent(self, agent_id: str, *, name: str = "", capacity: int = 3) -> Agent:
        """Create or update an agent (a new one starts offline)."""
        if capacity < 0:
            raise ValueError("capacity must not be negative")
        k = self.keys
        await self._register(keys=[k.agent(agent_id), k.agents, k.rotation],
                             args=[agent_id, name or agent_id, capacity, self._now_ms()])
        agent = await self.get_agent(agent_id)
        assert agent is not None
        return agent

    @_guarded
    async def set_presence(self, agent_id: str, status: str) -> list[str]:
        """online / away / offline. Away keeps the agent's conversations but gets no new
        ones; offline returns them to the queue at their places. Returns those released."""
        if status not in PRESENCES:
            raise ValueError(f"status must be one of {PRESENCES}")
        if status == "offline":
            released = await self._release_agent(agent_id, stale_before=None)
            assert released is not None
            log.info("handoff: %s offline, released %s", agent_id, released)
            return released
        raw = await self._presence(keys=[self.keys.agent(agent_id)], args=[status, self._now_ms()])
        _ok(raw, agent_id)
        log.info("handoff: %s is %s", agent_id, status)
        return []

    @_guarded
    async def heartbeat(self, agent_id: str) -> str:
        """The console is alive: renew the agent's presence and all its leases.

        Returns the agent's status, so a console the sweeper took offline notices.
        """
        k = self.keys
        raw = await self._heartbeat(keys=[k.agent(agent_id), k.agent_convs(agent_id), k.leases],
                                    args=[self._now_ms(), self.lease_ms])
        _ok(raw, agent_id)
        return text(raw[1])

    @_guarded
    async def get_agent(self, agent_id: str) -> Agent | None:
        agents = await self._agents([agent_id])
        return agents[0] if agents else None

    @_guarded
    async def list_agents(self) -> list[Agent]:
        return await self._agents()

    # ---- keeping it unstuck ----------------------------------------------------------

    @_guarded
    async def sweep(self) -> SweepReport:
        """Return conversations whose lease expired to their original place, and take
        agents silent for longer than the presence time offline (releasing theirs)."""
        k = self.keys
        now = self._now_ms()
        reclaimed: list[Reclaimed] = []
        for raw_id in await self.redis.zrangebyscore(k.leases, "-inf", now):
            conv_id = text(raw_id)
            for _ in range(self.retries):
                agent = text(await self.redis.hget(k.conv(conv_id), "agent"))
                raw = await self._requeue(keys=[k.conv(conv_id), k.waiting, k.leases, k.agent_convs(agent)],
                                          args=[conv_id, agent, now])
                status = text(raw[0])
                if status == "ok":
                    reclaimed.append(Reclaimed(conv_id, agent, "lease_expired"))
                if status != "retry":
                    break
        stale_before = now - self.presence_ms
        offline: list[str] = []
        for member in await self._agents():
            if member.status == "offline" or _ms(member.last_seen) >= stale_before:
                continue
            released = await self._release_agent(member.agent_id, stale_before=stale_before)
            if released is None:
                continue
            offline.append(member.agent_id)
            reclaimed.extend(Reclaimed(c, member.agent_id, "agent_offline") for c in released)
        if reclaimed or offline:
            log.warning("handoff: sweep reclaimed %s; agents gone silent: %s",
                        [r.conv_id for r in reclaimed], offline)
        return SweepReport(tuple(reclaimed), tuple(offline))

    @_guarded
    async def adopt_orphans(self) -> list[str]:
        """Move the waiting conversations of teams no longer in the teams file to the default
        team's queue, at the places they had; returns their ids. An unknown team counts as the
        default one everywhere, but nothing visits a removed team's waiting set, and its
        conversations held by agents go back there when reclaimed: upkeep calls this now and then."""
        k = self.keys
        target = self.queue_key(self.teams.default)
        configured = {self.queue_key(t) for t in self.teams.ids}
        adopted: list[str] = []
        async for raw_key in self.redis.scan_iter(match=k.team_waiting_pattern, count=1000):
            orphan = text(raw_key)
            if orphan in configured:
                continue
            moved = await self._adopt_set(orphan, target)
            if moved:
                log.warning("handoff: team %s is no longer configured; %s now wait for %s",
                            k.team_of_waiting(orphan), moved, self.teams.default)
            adopted.extend(moved)
        return adopted

    async def _adopt_set(self, orphan: str, target: str) -> list[str]:
        """One removed team's waiting set into `target`, a conversation per atomic step."""
        moved = []
        for conv_id in [text(m) for m in await self.redis.zrange(orphan, 0, -1)]:
            raw = await self._adopt(keys=[orphan, target, self.keys.conv(conv_id)],
                                    args=[conv_id, self.teams.default, self._now_ms()])
            if text(raw[0]) == "ok":
                moved.append(conv_id)
        return moved

    # ---- left messages ---------------------------------------------------------------

    @_guarded
    async def to_ticket(self, conv_id: str, message: str, context: str = "[]") -> Ticket:
        """Nobody is available: the waiting conversation becomes a left message for its
        team, due the team's working days later. `context`: the conversation before it
        (JSON list of transcript lines), kept with the ticket."""
        k = self.keys
        now = self._now_ms()
        for _ in range(self.retries):
            seq, seen = (text(v) for v in await self.redis.hmget(k.conv(conv_id), ["seq", "team"]))
            team = self.teams.get(seen)
            due = team.calendar.add_working_days(_datetime(now), team.ticket_working_days)
            due_ms = int(due.timestamp() * 1000)
            raw = await self._to_ticket(keys=[k.conv(conv_id), k.waiting, k.ticket(seq), k.tickets_open],
                                        args=[conv_id, seq, message, now, due_ms, self.keep_ms, context, seen])
            if text(raw[0]) != "retry":
                ticket = Ticket.from_fields(_ok(raw, conv_id)[1], self.clock())
                log.info("handoff: %s left a message, ticket %s due %s", conv_id, ticket.ticket_id,
                         due.isoformat())
                return ticket
        raise Conflict(f"{conv_id} kept changing; try again")

    @_guarded
    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        fields = as_fields(await self.redis.hgetall(self.keys.ticket(ticket_id)))
        return Ticket.from_fields(fields, self.clock()) if fields else None

    @_guarded
    async def transfer_ticket(self, ticket_id: str, team: str, note: str) -> Ticket:
        """Pass an open left message to another team; `note` is a JSON line kept with it."""
        team_id = self._team_id(team)
        raw = await self._transfer_ticket(keys=[self.keys.ticket(ticket_id)], args=[team_id, note, self._now_ms()])
        ticket = Ticket.from_fields(_ok(raw, ticket_id)[1], self.clock())
        log.info("handoff: ticket %s passed to team %s", ticket_id, team_id)
        return ticket

    @_guarded
    async def list_tickets(self, state: str = "open", teams: Sequence[str] | None = None) -> list[Ticket]:
        """Open tickets by due time (overdue ones flagged), or answered ones by answer time;
        of the given teams only (None: every team; a ticket from before teams, or of a team
        since removed from the teams file, is the default team's)."""
        if state not in ("open", "answered"):
            raise ValueError("state must be 'open' or 'answered'")
        index = self.keys.tickets_open if state == "open" else self.keys.tickets_answered
        ids = [text(i) for i in await self.redis.zrange(index, 0, -1)]
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id in ids:
                pipe.hgetall(self.keys.ticket(ticket_id))
            rows = await pipe.execute()
        now = self.clock()
        found = [Ticket.from_fields(f, now) for f in map(as_fields, rows) if f]
        if teams is None:
            return found
        return [t for t in found if self.teams.get(t.team).team_id in teams]

    @_guarded
    async def answer_ticket(self, ticket_id: str, agent_id: str, answer: str, resolution: str = "") -> Ticket:
        """Record the reply to a left message, which closes it with a resolution (the
        gateway delivers the reply to the user)."""
        k = self.keys
        raw = await self._answer(keys=[k.ticket(ticket_id), k.tickets_open, k.tickets_answered],
                                 args=[ticket_id, agent_id, answer, self._now_ms(), self.keep_ms, resolution])
        ticket = Ticket.from_fields(_ok(raw, ticket_id)[1], self.clock())
        log.info("handoff: ticket %s answered by %s", ticket_id, agent_id)
        return ticket

    # ---- internals -------------------------------------------------------------------

    def _available(self, agent: Agent, now_ms: int) -> bool:
        return agent.status == "online" and now_ms - _ms(agent.last_seen) <= self.presence_ms

    async def _conversations(self, ids: Sequence[str]) -> list[Conversation]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for conv_id in ids:
                pipe.hgetall(self.keys.conv(conv_id))
            rows = await pipe.execute()
        return [Conversation.from_fields(f) for f in map(as_fields, rows) if Conversation.present(f)]

    async def _agents(self, ids: Sequence[str] | None = None) -> list[Agent]:
        k = self.keys
        if ids is None:
            ids = sorted(text(a) for a in await self.redis.smembers(k.agents))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=True) as pipe:
            for agent_id in ids:
                pipe.hgetall(k.agent(agent_id))
                pipe.smembers(k.agent_convs(agent_id))
            rows = await pipe.execute()
        agents = []
        for agent_id, fields, convs in zip(ids, rows[::2], rows[1::2], strict=True):
            f = as_fields(fields)
            if not f:
                continue
            held = tuple(sorted(text(c) for c in convs))
            agents.append(Agent(agent_id=agent_id, name=f.get("name", agent_id),
                                status=f.get("status", "offline"), capacity=int(f.get("capacity") or 0),
                                load=len(held), last_seen=int(f["last_seen"]) / 1000 if f.get("last_seen") else None,
                                conversations=held))
        return agents

    async def _release_agent(self, agent_id: str, *, stale_before: int | None) -> list[str] | None:
        """Requeue everything the agent holds and mark it offline; None if it turned out
        fresh (a heartbeat arrived) when only stale agents were meant."""
        k = self.keys
        for _ in range(self.retries):
            held = sorted(text(c) for c in await self.redis.smembers(k.agent_convs(agent_id)))
            raw = await self._release(
                keys=[k.agent(agent_id), k.agent_convs(agent_id), k.waiting, k.leases,
                      *(k.conv(c) for c in held)],
                args=[agent_id, self._now_ms(), "" if stale_before is None else stale_before, *held])
            status = text(raw[0])
            if status == "fresh":
                return None
            if status != "retry":
                _ok(raw, agent_id)
                return [text(c) for c in raw[1:]]
        raise Conflict(f"{agent_id}'s conversations kept changing; try again")


def _ok(raw: list[Any], subject: str) -> tuple[str, dict[str, str]]:
    """A script's reply: the fields on success, the layer's exception otherwise."""
    status = text(raw[0])
    if status in ("ok", "exists"):
        return status, as_fields(raw[1:])
    if status == "notfound":
        raise NotFound(f"no such {text(raw[1])}: {subject}")
    if status == "conflict":
        state, agent = text(raw[1]), text(raw[2]) or None
        raise Conflict(f"{subject} is {state}" + (f" with {agent}" if agent else ""), state=state, agent=agent)
    if status == "agent":
        raise AgentUnavailable(f"agent is {text(raw[1])}", status=text(raw[1]))
    raise RuntimeError(f"unexpected reply {status!r} for {subject}")


def _ms(seconds: float | None) -> int:
    return int(round(seconds * 1000)) if seconds else 0


def _datetime(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
