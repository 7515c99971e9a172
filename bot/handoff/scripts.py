"""The Lua behind every state change of the handoff queue.

Each script is one atomic step: a crash of the calling process happens either before
or after it, never in the middle, so a conversation is always in exactly one place
(the waiting set, one agent's set with a lease, or finished). All keys arrive in
KEYS[]; where the keys depend on data (the head of the queue, an agent's
conversations) the caller reads first and passes what it saw, and the script checks
that nothing changed, answering 'retry' otherwise. Times are milliseconds from the
caller's clock (ARGV), so tests can drive the leases with a fake clock.

The conversation's hash is also the user's conversation state (see
`bot.gateway.state`): `holder` says who answers the user's next message and `since`
since when. Every queue step below sets them in the same script, so the queue and
the routing of the user's messages never disagree: queue (waiting), offer (waiting,
the next text becomes a left message), agent (assigned), and on leaving the queue bot
or rating (an agent closed it: the next message may be a rating).

Teams: each team has its own waiting set. ENQUEUE writes the key of the team's set
(built by `HandoffKeys`, passed in KEYS[]) into the conversation's hash as `queue`, and
every later step takes the conversation out of, or puts it back into, that set; a
conversation from before teams has no `queue` and uses the waiting set passed in (the
default team's). A transfer between teams (TRANSFER_TEAM) moves it and rewrites `queue`,
and so does ADOPT when its team was removed from the teams file.
"""

from __future__ import annotations

PRELUDE = r"""
local function reply(status, key)
  local r = redis.call('HGETALL', key)
  table.insert(r, 1, status)
  return r
end

-- the waiting set of the conversation's team (see the module docstring)
local function queue_of(conv_key, fallback)
  local q = redis.call('HGET', conv_key, 'queue')
  if q and q ~= '' then return q end
  return fallback
end

-- who holds the conversation now, and the facts of the waiting states that end with it
local function hold(conv_key, holder, now)
  redis.call('HSET', conv_key, 'holder', holder, 'since', now)
  if holder ~= 'queue' and holder ~= 'offer' then
    redis.call('HDEL', conv_key, 'offer', 'notice_pos', 'notice_at', 'draft')
  end
end

-- an assigned conversation goes back to its original place (the score it was queued with)
local function requeue(conv_key, waiting_key, leases_key, convs_key, conv_id, now, cause)
  local agent = redis.call('HGET', conv_key, 'agent')
  redis.call('HSET', conv_key, 'state', 'waiting', 'agent', '', 'last_agent', agent or '',
             'requeued_at', now, 'requeue_cause', cause, 'updated_at', now)
  redis.call('HINCRBY', conv_key, 'requeues', 1)
  hold(conv_key, 'queue', now)
  redis.call('ZADD', queue_of(conv_key, waiting_key), redis.call('HGET', conv_key, 'score'), conv_id)
  redis.call('ZREM', leases_key, conv_id)
  redis.call('SREM', convs_key, conv_id)
end

-- a waiting conversation goes to an agent, under a fresh lease
local function take(conv_key, waiting_key, leases_key, convs_key, rotation_key, seq_key,
                    conv_id, agent_id, now, lease_ms)
  redis.call('HSET', conv_key, 'state', 'assigned', 'agent', agent_id, 'assigned_at', now,
             'updated_at', now)
  redis.call('ZREM', queue_of(conv_key, waiting_key), conv_id)
  redis.call('ZADD', leases_key, tonumber(now) + tonumber(lease_ms), conv_id)
  redis.call('SADD', convs_key, conv_id)
  redis.call('ZADD', rotation_key, redis.call('INCR', seq_key), agent_id)
  hold(conv_key, 'agent', now)
end

-- a conversation leaves the queue and its agent for good; the bot answers next, or, when
-- rating_until is given, the user's next message may first be a rating of the agent
local function finish(conv_key, waiting_key, leases_key, convs_key, conv_id, state, outcome,
                      now, keep_ms, rating_until)
  redis.call('HSET', conv_key, 'state', state, 'outcome', outcome, 'closed_at', now,
             'updated_at', now)
  if rating_until and rating_until ~= '' then
    hold(conv_key, 'rating', now)
    redis.call('HSET', conv_key, 'rating_after', 'agent', 'rating_conv', conv_id,
               'rating_until', rating_until)
  else
    hold(conv_key, 'bot', now)
  end
  redis.call('ZREM', queue_of(conv_key, waiting_key), conv_id)
  redis.call('ZREM', leases_key, conv_id)
  if convs_key then redis.call('SREM', convs_key, conv_id) end
  if tonumber(keep_ms) > 0 then redis.call('PEXPIRE', conv_key, keep_ms) end
end
"""

# KEYS: conv, waiting (of the team), seq
# ARGV: conv_id, channel, user_id, reason, priority, summary, now, team
ENQUEUE = PRELUDE + r"""
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'waiting' or state == 'assigned' then return reply('exists', KEYS[1]) end
local seq = redis.call('INCR', KEYS[3])
local score = string.format('%d', tonumber(ARGV[5]) * 1000000000000 + seq)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'conv_id', ARGV[1], 'channel', ARGV[2], 'user_id', ARGV[3],
           'reason', ARGV[4], 'priority', ARGV[5], 'summary', ARGV[6], 'state', 'waiting',
           'agent', '', 'seq', seq, 'score', score, 'enqueued_at', ARGV[7], 'updated_at', ARGV[7],
           'requeues', 0, 'transfers', 0, 'holder', 'queue', 'since', ARGV[7],
           'team', ARGV[8], 'queue', KEYS[2])
redis.call('ZADD', KEYS[2], score, ARGV[1])
return reply('ok', KEYS[1])
"""

# KEYS: conv, waiting, leases, agent, agent_convs, rotation, seq
# ARGV: conv_id, agent_id, now, lease_ms
CLAIM = PRELUDE + r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return {'notfound', 'conversation'} end
local status = redis.call('HGET', KEYS[4], 'status')
if not status then return {'notfound', 'agent'} end
if status == 'offline' then return {'agent', status} end
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent')
if cur[1] == 'assigned' and cur[2] == ARGV[2] then return reply('ok', KEYS[1]) end
if cur[1] ~= 'waiting' then return {'conflict', cur[1] or '', cur[2] or ''} end
take(KEYS[1], KEYS[2], KEYS[3], KEYS[5], KEYS[6], KEYS[7], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[4], 'last_seen', ARGV[3])
return reply('ok', KEYS[1])
"""

# KEYS: waiting (of one team), leases, rotation, seq, conv(head), then per agent of the
# team: agent, agent_convs
# ARGV: head conv_id, now, lease_ms, presence_ms, agent ids...
ASSIGN_NEXT = PRELUDE + r"""
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if head ~= ARGV[1] then return {'retry'} end
if redis.call('HGET', KEYS[5], 'state') ~= 'waiting' or queue_of(KEYS[5], KEYS[1]) ~= KEYS[1] then
  redis.call('ZREM', KEYS[1], head)  -- a stray entry without a waiting record
  return {'retry'}
end
local now = tonumber(ARGV[2])
local best, best_i, best_rank
for i = 5, #ARGV do
  local id = ARGV[i]
  local a = redis.call('HMGET', KEYS[6 + (i - 5) * 2], 'status', 'capacity', 'last_seen')
  if a[1] == 'online' and now - tonumber(a[3] or 0) <= tonumber(ARGV[4])
      and redis.call('SCARD', KEYS[7 + (i - 5) * 2]) < tonumber(a[2] or 0) then
    local rank = tonumber(redis.call('ZSCORE', KEYS[3], id) or 0)
    if best == nil or rank < best_rank or (rank == best_rank and id < best) then
      best, best_i, best_rank = id, i, rank
    end
  end
end
if best == nil then return {'none'} end
take(KEYS[5], KEYS[1], KEYS[2], KEYS[7 + (best_i - 5) * 2], KEYS[3], KEYS[4], head, best,
     ARGV[2], ARGV[3])
return reply('ok', KEYS[5])
"""

# KEYS: conv, leases, from_convs, to_agent, to_convs, rotation, seq
# ARGV: conv_id, from_agent, to_agent, now, lease_ms
TRANSFER = PRELUDE + r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return {'notfound', 'conversation'} end
local status = redis.call('HGET', KEYS[4], 'status')
if not status then return {'notfound', 'agent'} end
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent')
if cur[1] ~= 'assigned' or cur[2] ~= ARGV[2] then return {'conflict', cur[1] or '', cur[2] or ''} end
if ARGV[2] == ARGV[3] then return reply('ok', KEYS[1]) end
if status ~= 'online' then return {'agent', status} end
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('HSET', KEYS[1], 'agent', ARGV[3], 'previous_agent', ARGV[2], 'assigned_at', ARGV[4],
           'updated_at', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'transfers', 1)
hold(KEYS[1], 'agent', ARGV[4])
redis.call('ZADD', KEYS[2], tonumber(ARGV[4]) + tonumber(ARGV[5]), ARGV[1])
redis.call('ZADD', KEYS[6], redis.call('INCR', KEYS[7]), ARGV[3])
return reply('ok', KEYS[1])
"""

# close / hand back, by the agent holding the conversation
# KEYS: conv, waiting, leases, agent_convs
# ARGV: conv_id, agent_id, outcome, now, keep_ms, rating_until ('' = no rating asked)
FINISH = PRELUDE + r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return {'notfound', 'conversation'} end
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent')
if cur[1] ~= 'assigned' or cur[2] ~= ARGV[2] then return {'conflict', cur[1] or '', cur[2] or ''} end
finish(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], 'closed', ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return reply('ok', KEYS[1])
"""

# the user gives up (waiting, or already with an agent)
# KEYS: conv, waiting, leases, agent_convs (of the agent the caller saw)
# ARGV: conv_id, agent seen ('' if none), now, keep_ms
LEAVE = PRELUDE + r"""
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent')
if cur[1] ~= 'waiting' and cur[1] ~= 'assigned' then return {'noop', cur[1] or ''} end
local convs_key = false
if cur[1] == 'assigned' then
  if cur[2] ~= ARGV[2] then return {'retry'} end
  convs_key = KEYS[4]
end
finish(KEYS[1], KEYS[2], KEYS[3], convs_key, ARGV[1], 'left', 'user_left', ARGV[3], ARGV[4], '')
return reply('ok', KEYS[1])
"""

# an expired lease: back to the queue at the original place
# KEYS: conv, waiting, leases, agent_convs
# ARGV: conv_id, agent seen, now
REQUEUE_EXPIRED = PRELUDE + r"""
local deadline = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not deadline or tonumber(deadline) > tonumber(ARGV[3]) then return {'skip'} end
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent')
if cur[1] ~= 'assigned' then
  redis.call('ZREM', KEYS[3], ARGV[1])  -- a stray lease
  return {'skip'}
end
if cur[2] ~= ARGV[2] then return {'retry'} end
requeue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[3], 'lease_expired')
return {'ok'}
"""

# an agent goes offline (or went silent): its conversations go back to their places
# KEYS: agent, agent_convs, waiting, leases, conv keys...
# ARGV: agent_id, now, stale_before ('' = unconditional), conv ids... (ARGV[j] <-> KEYS[j + 1])
RELEASE_AGENT = PRELUDE + r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return {'notfound', 'agent'} end
if ARGV[3] ~= '' then
  local a = redis.call('HMGET', KEYS[1], 'status', 'last_seen')
  if a[1] == 'offline' or tonumber(a[2] or 0) >= tonumber(ARGV[3]) then return {'fresh'} end
end
local passed = {}
for j = 4, #ARGV do passed[ARGV[j]] = true end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not passed[id] then return {'retry'} end
end
local released = {'ok'}
for j = 4, #ARGV do
  local cur = redis.call('HMGET', KEYS[j + 1], 'state', 'agent')
  if cur[1] == 'assigned' and cur[2] == ARGV[1] then
    requeue(KEYS[j + 1], KEYS[3], KEYS[4], KEYS[2], ARGV[j], ARGV[2], 'agent_offline')
    table.insert(released, ARGV[j])
  else
    redis.call('SREM', KEYS[2], ARGV[j])
  end
end
redis.call('HSET', KEYS[1], 'status', 'offline', 'updated_at', ARGV[2])
return released
"""

# KEYS: agent, agent_convs, leases
# ARGV: now, lease_ms
HEARTBEAT = r"""
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'notfound', 'agent'} end
redis.call('HSET', KEYS[1], 'last_seen', ARGV[1])
local deadline = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('ZADD', KEYS[3], 'XX', deadline, id)
end
return {'ok', status}
"""

# KEYS: agent, agents, rotation
# ARGV: agent_id, name, capacity, now
REGISTER_AGENT = r"""
redis.call('HSET', KEYS[1], 'agent_id', ARGV[1], 'name', ARGV[2], 'capacity', ARGV[3],
           'updated_at', ARGV[4])
redis.call('HSETNX', KEYS[1], 'status', 'offline')
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], 'NX', 0, ARGV[1])
return {'ok'}
"""

# online / away (offline goes through RELEASE_AGENT)
# KEYS: agent; ARGV: status, now
SET_PRESENCE = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return {'notfound', 'agent'} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'last_seen', ARGV[2], 'updated_at', ARGV[2])
return {'ok'}
"""

# a waiting conversation becomes a left message; the ticket number is the arrival number
# the ticket keeps the whole message and the conversation before it (JSON lines), and the
# team the conversation waited for; the caller computed the due time with the team seen
# KEYS: conv, waiting, ticket, tickets_open
# ARGV: conv_id, seq seen, message, now, due, keep_ms, context, team seen
TO_TICKET = PRELUDE + r"""
local c = redis.call('HMGET', KEYS[1], 'state', 'agent', 'seq', 'channel', 'user_id', 'reason',
                     'summary', 'enqueued_at', 'team')
if not c[1] then return {'notfound', 'conversation'} end
if c[1] ~= 'waiting' then return {'conflict', c[1], c[2] or ''} end
if c[3] ~= ARGV[2] or (c[9] or '') ~= ARGV[8] then return {'retry'} end
redis.call('HSET', KEYS[3], 'ticket_id', ARGV[2], 'conv_id', ARGV[1], 'channel', c[4],
           'user_id', c[5], 'reason', c[6], 'summary', c[7], 'enqueued_at', c[8],
           'message', ARGV[3], 'state', 'open', 'created_at', ARGV[4], 'due_at', ARGV[5],
           'context', ARGV[7], 'team', ARGV[8])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[2])
redis.call('HSET', KEYS[1], 'state', 'ticket', 'ticket_id', ARGV[2], 'outcome', 'ticket',
           'closed_at', ARGV[4], 'updated_at', ARGV[4])
redis.call('ZREM', queue_of(KEYS[1], KEYS[2]), ARGV[1])
hold(KEYS[1], 'bot', ARGV[4])
if tonumber(ARGV[6]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
return reply('ok', KEYS[3])
"""

# a waiting user is offered (or asks) to leave a message: their next text becomes one
# KEYS: conv; ARGV: kind (offered | asked), now
OFFER_MESSAGE = PRELUDE + r"""
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'waiting' then return {'conflict', state or '', ''} end
hold(KEYS[1], 'offer', ARGV[2])
redis.call('HSET', KEYS[1], 'offer', ARGV[1])
return {'ok'}
"""

# the left message echoed back to the offered user, kept until they confirm it
# KEYS: conv; ARGV: draft, now
KEEP_DRAFT = r"""
local c = redis.call('HMGET', KEYS[1], 'state', 'holder')
if c[1] ~= 'waiting' or c[2] ~= 'offer' then return {'conflict', c[1] or '', ''} end
redis.call('HSET', KEYS[1], 'draft', ARGV[1], 'updated_at', ARGV[2])
return {'ok'}
"""

# an agent passes an assigned conversation to another team: it waits in that team's queue
# at the place its first arrival gave it, with the agent's note
# KEYS: conv, leases, from_convs, target waiting set
# ARGV: conv_id, from_agent, team, now, note
TRANSFER_TEAM = PRELUDE + r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return {'notfound', 'conversation'} end
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent', 'team')
if cur[1] ~= 'assigned' or cur[2] ~= ARGV[2] then return {'conflict', cur[1] or '', cur[2] or ''} end
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'waiting', 'agent', '', 'previous_agent', ARGV[2],
           'previous_team', cur[3] or '', 'team', ARGV[3], 'queue', KEYS[4],
           'transfer_note', ARGV[5], 'updated_at', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'transfers', 1)
hold(KEYS[1], 'queue', ARGV[4])
redis.call('ZADD', KEYS[4], redis.call('HGET', KEYS[1], 'score'), ARGV[1])
return reply('ok', KEYS[1])
"""

# a waiting conversation of a team no longer in the teams file joins the default team's
# queue at the place it had (its score there); an entry without a waiting record in that
# set is dropped (as ASSIGN_NEXT drops strays)
# KEYS: the removed team's waiting set, the default team's waiting set, conv
# ARGV: conv_id, default team, now
ADOPT = PRELUDE + r"""
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return {'skip'} end
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[3], 'state') ~= 'waiting' or queue_of(KEYS[3], KEYS[2]) ~= KEYS[1] then
  return {'skip'}
end
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('HSET', KEYS[3], 'previous_team', redis.call('HGET', KEYS[3], 'team') or '', 'team', ARGV[2],
           'queue', KEYS[2], 'updated_at', ARGV[3])
return {'ok'}
"""

# an open left message goes to another team, with a note (its due time stays: the user
# was promised it)
# KEYS: ticket; ARGV: team, note (JSON line), now
TRANSFER_TICKET = PRELUDE + r"""
local t = redis.call('HMGET', KEYS[1], 'state', 'answered_by', 'notes')
if not t[1] then return {'notfound', 'ticket'} end
if t[1] ~= 'open' then return {'conflict', t[1], t[2] or ''} end
local notes = t[3]
if not notes or notes == '' then notes = '[]' end
notes = string.sub(notes, 1, -2) .. (notes == '[]' and '' or ',') .. ARGV[2] .. ']'
redis.call('HSET', KEYS[1], 'team', ARGV[1], 'notes', notes, 'updated_at', ARGV[3])
return reply('ok', KEYS[1])
"""

# the place last told to a waiting user, and when (only while it waits)
# KEYS: conv; ARGV: position, at
NOTICE = r"""
if redis.call('HGET', KEYS[1], 'state') ~= 'waiting' then return {'skip'} end
redis.call('HSET', KEYS[1], 'notice_pos', ARGV[1], 'notice_at', ARGV[2])
return {'ok'}
"""

# KEYS: ticket, tickets_open, tickets_answered
# ARGV: ticket_id, agent_id, answer, now, keep_ms, resolution
ANSWER_TICKET = PRELUDE + r"""
local t = redis.call('HMGET', KEYS[1], 'state', 'answered_by')
if not t[1] then return {'notfound', 'ticket'} end
if t[1] ~= 'open' then return {'conflict', t[1], t[2] or ''} end
redis.call('HSET', KEYS[1], 'state', 'answered', 'answer', ARGV[3], 'answered_by', ARGV[2],
           'answered_at', ARGV[4], 'resolution', ARGV[6] or '')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
local keep = tonumber(ARGV[5])
if keep > 0 then
  redis.call('PEXPIRE', KEYS[1], keep)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[4]) - keep)
end
return reply('ok', KEYS[1])
"""
